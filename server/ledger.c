/* The spend ledger queue. Workers append rows under a mutex (a memcpy, never
 * I/O); one writer thread takes up to LEDGER_BATCH rows at a time, at most
 * batch_ms after the first of them arrived, and hands them to the sink with
 * the lock released. Rows reach the sink in submission order. */
#include "ledger.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker.h"

#define LEDGER_BATCH 512         /* rows per sink call */
#define RETRY_FIRST_MS 100       /* a failed batch is retried after this, */
#define RETRY_MAX_MS 5000        /* doubling up to this */
#define FINAL_ATTEMPTS 3         /* at stop, then the batch is dropped (logged) */

struct ledger {
  pthread_mutex_t lock;
  pthread_mutex_t commit; /* held around each sink call: ledger_commits_hold */
  pthread_cond_t wake;   /* the writer: rows, a flush or stop */
  pthread_cond_t done;   /* flushers: rows reached the sink */
  pthread_t thread;
  ledger_sink_fn sink;
  void *ctx;
  int batch_ms;

  struct ledger_row *rows; /* pending rows are rows[head, n) */
  size_t head, n, cap;
  int64_t first_ms;        /* when the oldest pending row arrived */
  uint64_t submitted, written; /* rows counted in submission order */
  uint64_t flush_to;       /* write without waiting until written reaches it */
  size_t max_pending;      /* 0 = unbounded */
  uint64_t dropped;        /* rows refused at max_pending */
  int stopping;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline(struct timespec *ts, int64_t at_ms) {
  ts->tv_sec = (time_t)(at_ms / 1000);
  ts->tv_nsec = (long)(at_ms % 1000) * 1000000;
}

void ledger_row_free(struct ledger_row *r) {
  if (!r)
    return;
  char **strs[] = {&r->request_id, &r->api_key,      &r->key_alias,     &r->route,
                   &r->model,      &r->upstream_model, &r->error_code,  &r->prediction_ids,
                   &r->finish_reason, &r->user,       &r->client_addr};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
    free(*strs[i]);
    *strs[i] = NULL;
  }
}

/* Sleep on the wake condition (a stop or a flush cuts it short). Lock held. */
static void pause_ms(struct ledger *l, int64_t ms) {
  struct timespec ts;
  deadline(&ts, mono_ms() + ms);
  pthread_cond_timedwait(&l->wake, &l->lock, &ts);
}

/* Write one batch, retrying while the sink fails: with a growing pause while
 * running (a flush waits through it), FINAL_ATTEMPTS more times once stopping,
 * then drop it (logged with the count). Lock held on entry and exit, released
 * around the sink. */
static void write_batch(struct ledger *l, struct ledger_row *batch, size_t n) {
  int64_t backoff = RETRY_FIRST_MS;
  int final_tries = 0;
  for (;;) {
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_lock(&l->commit);
    int rc = l->sink(l->ctx, batch, n);
    pthread_mutex_unlock(&l->commit);
    pthread_mutex_lock(&l->lock);
    if (rc == 0)
      break;
    if (l->stopping && ++final_tries >= FINAL_ATTEMPTS) {
      log_msg(LOG_ERROR, "ledger: could not write %zu rows at exit; they are lost", n);
      break;
    }
    if (l->stopping) /* a short pause: a busy database may be free again */
      backoff = RETRY_FIRST_MS;
    log_msg(LOG_WARN, "ledger: could not write %zu rows; retrying in %lld ms", n,
            (long long)backoff);
    pause_ms(l, backoff);
    backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
  }
  for (size_t i = 0; i < n; i++)
    ledger_row_free(&batch[i]);
  l->written += n;
  pthread_cond_broadcast(&l->done);
}

static void *writer(void *arg) {
  struct ledger *l = arg;
  struct ledger_row *batch = malloc(LEDGER_BATCH * sizeof *batch);
  pthread_mutex_lock(&l->lock);
  for (;;) {
    size_t pending = l->n - l->head;
    if (pending == 0) {
      if (l->stopping)
        break;
      pthread_cond_wait(&l->wake, &l->lock);
      continue;
    }
    /* A partial batch waits for more rows until its first row's deadline. */
    int64_t due = l->first_ms + l->batch_ms;
    if (pending < LEDGER_BATCH && !l->stopping && l->flush_to <= l->written &&
        mono_ms() < due) {
      struct timespec ts;
      deadline(&ts, due);
      pthread_cond_timedwait(&l->wake, &l->lock, &ts);
      continue;
    }
    size_t take = pending < LEDGER_BATCH ? pending : LEDGER_BATCH;
    if (!batch) { /* no memory for a batch buffer: write one row at a time */
      struct ledger_row one = l->rows[l->head++];
      if (l->head == l->n)
        l->head = l->n = 0;
      write_batch(l, &one, 1);
      continue;
    }
    memcpy(batch, l->rows + l->head, take * sizeof *batch);
    l->head += take;
    if (l->head == l->n)
      l->head = l->n = 0;
    /* Rows left over arrived after first_ms: keeping it only writes them sooner. */
    write_batch(l, batch, take);
  }
  pthread_mutex_unlock(&l->lock);
  free(batch);
  return NULL;
}

struct ledger *ledger_start(ledger_sink_fn sink, void *ctx, int batch_ms) {
  struct ledger *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->sink = sink;
  l->ctx = ctx;
  l->batch_ms = batch_ms > 0 ? batch_ms : 0;
  /* The writer's deadlines are monotonic: a wall clock step must not stall it. */
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) {
    free(l);
    return NULL;
  }
  int ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
           pthread_mutex_init(&l->lock, NULL) == 0 &&
           pthread_mutex_init(&l->commit, NULL) == 0 &&
           pthread_cond_init(&l->wake, &ca) == 0 && pthread_cond_init(&l->done, NULL) == 0 &&
           pthread_create(&l->thread, NULL, writer, l) == 0;
  pthread_condattr_destroy(&ca);
  if (!ok) { /* glibc's mutex and cond objects hold no resources: nothing to destroy */
    log_msg(LOG_ERROR, "ledger: cannot start the writer thread");
    free(l);
    return NULL;
  }
  return l;
}

int ledger_submit(struct ledger *l, struct ledger_row *row) {
  pthread_mutex_lock(&l->lock);
  if (l->max_pending && l->n - l->head >= l->max_pending) {
    uint64_t dropped = ++l->dropped;
    pthread_mutex_unlock(&l->lock);
    /* The first drop, then one line per 1000: the log must not flood. */
    if (dropped % 1000 == 1)
      log_msg(LOG_ERROR, "ledger: %zu rows wait for the database; rows are dropped "
              "(%llu so far)", l->max_pending, (unsigned long long)dropped);
    ledger_row_free(row);
    memset(row, 0, sizeof *row);
    return 0;
  }
  if (l->n == l->cap) {
    if (l->head > 0) { /* reuse the space the writer has taken */
      memmove(l->rows, l->rows + l->head, (l->n - l->head) * sizeof *l->rows);
      l->n -= l->head;
      l->head = 0;
    } else {
      size_t cap = l->cap ? l->cap * 2 : 64;
      struct ledger_row *rows = realloc(l->rows, cap * sizeof *rows);
      if (!rows) {
        pthread_mutex_unlock(&l->lock);
        log_msg(LOG_ERROR, "ledger: out of memory, a row is lost");
        ledger_row_free(row);
        memset(row, 0, sizeof *row);
        return -1;
      }
      l->rows = rows;
      l->cap = cap;
    }
  }
  if (l->n == l->head)
    l->first_ms = mono_ms();
  l->rows[l->n++] = *row;
  l->submitted++;
  memset(row, 0, sizeof *row);
  /* The writer only needs waking for the first row (to start the clock)
   * and for a full batch; between those it sleeps until the deadline. */
  size_t pending = l->n - l->head;
  if (pending == 1 || pending == LEDGER_BATCH)
    pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  return 0;
}

void ledger_set_max_pending(struct ledger *l, size_t max_pending) {
  pthread_mutex_lock(&l->lock);
  l->max_pending = max_pending;
  pthread_mutex_unlock(&l->lock);
}

void ledger_counts(struct ledger *l, size_t *pending, uint64_t *dropped) {
  pthread_mutex_lock(&l->lock);
  *pending = l->n - l->head;
  *dropped = l->dropped;
  pthread_mutex_unlock(&l->lock);
}

uint64_t ledger_written(struct ledger *l) {
  pthread_mutex_lock(&l->lock);
  uint64_t w = l->written;
  pthread_mutex_unlock(&l->lock);
  return w;
}

void ledger_flush(struct ledger *l) {
  if (!l)
    return;
  pthread_mutex_lock(&l->lock);
  uint64_t target = l->submitted;
  if (l->flush_to < target)
    l->flush_to = target;
  pthread_cond_signal(&l->wake);
  while (l->written < target)
    pthread_cond_wait(&l->done, &l->lock);
  pthread_mutex_unlock(&l->lock);
}

void ledger_commits_hold(struct ledger *l) {
  if (l)
    pthread_mutex_lock(&l->commit);
}

void ledger_commits_release(struct ledger *l) {
  if (l)
    pthread_mutex_unlock(&l->commit);
}

void ledger_stop(struct ledger *l) {
  if (!l)
    return;
  pthread_mutex_lock(&l->lock);
  l->stopping = 1;
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  free(l->rows);
  pthread_cond_destroy(&l->wake);
  pthread_cond_destroy(&l->done);
  pthread_mutex_destroy(&l->commit);
  pthread_mutex_destroy(&l->lock);
  free(l);
}
