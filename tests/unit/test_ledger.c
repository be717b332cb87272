#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../server/ledger.h"
#include "../../shared/config.h"
#include "test.h"

/* server/log.c owns the real log_msg; the unit binary does not link it.
 * Weak, so a real one (or another test's stub) wins. */
__attribute__((weak)) void log_msg(enum log_level level, const char *fmt, ...) {
  (void)level;
  (void)fmt;
}

/* A sink that records (thread, index) of every row it sees, and can be made
 * to fail a number of times. */
struct sink {
  pthread_mutex_t lock;
  int fail;         /* fail this many more calls */
  int calls, failed_calls;
  size_t rows, max_batch;
  long *seen;       /* thread * PER + index, in sink order */
  size_t cap;
};

static int count_sink(void *ctx, const struct ledger_row *rows, size_t n) {
  struct sink *s = ctx;
  pthread_mutex_lock(&s->lock);
  s->calls++;
  if (s->fail > 0) {
    s->fail--;
    s->failed_calls++;
    pthread_mutex_unlock(&s->lock);
    return -1;
  }
  if (n > s->max_batch)
    s->max_batch = n;
  for (size_t i = 0; i < n; i++) {
    if (s->rows < s->cap)
      s->seen[s->rows] = rows[i].prompt_tokens;
    s->rows++;
  }
  pthread_mutex_unlock(&s->lock);
  return 0;
}

static void sink_init(struct sink *s, size_t cap) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  s->seen = calloc(cap, sizeof *s->seen);
  s->cap = cap;
}

static void sink_free(struct sink *s) {
  free(s->seen);
  pthread_mutex_destroy(&s->lock);
}

static size_t sink_rows(struct sink *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->rows;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* A row with every string set, so ASan sees each one freed exactly once. */
static void make_row(struct ledger_row *r, long tag) {
  memset(r, 0, sizeof *r);
  r->request_id = strdup("req_x");
  r->api_key = strdup("hash");
  r->key_alias = strdup("alias");
  r->route = strdup("/v1/chat/completions");
  r->model = strdup("deepseek");
  r->upstream_model = strdup("deepseek-ai/deepseek-v3.1");
  r->error_code = strdup("rate_limit_exceeded");
  r->prediction_ids = strdup("p1,p2");
  r->finish_reason = strdup("stop");
  r->user = strdup("u");
  r->client_addr = strdup("127.0.0.1");
  r->prompt_tokens = tag;
  r->n = 1;
}

enum { PER = 1000, THREADS = 4 };

struct producer {
  struct ledger *l;
  int id;
  int failed;
};

static void *produce(void *arg) {
  struct producer *p = arg;
  for (int i = 0; i < PER; i++) {
    struct ledger_row r;
    make_row(&r, (long)p->id * PER + i);
    if (ledger_submit(p->l, &r) != 0 || r.request_id != NULL)
      p->failed++;
  }
  return NULL;
}

static void test_many_threads(void) {
  TEST("rows from several threads");
  struct sink s;
  sink_init(&s, THREADS * PER);
  struct ledger *l = ledger_start(count_sink, &s, 5);
  CHECK(l != NULL);
  struct producer p[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    p[i] = (struct producer){l, i, 0};
    pthread_create(&th[i], NULL, produce, &p[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK_INT(p[i].failed, 0);
  }
  ledger_flush(l);
  CHECK_INT(sink_rows(&s), THREADS * PER);
  /* Each thread's rows arrive in the order it submitted them. */
  long next[THREADS] = {0};
  int in_order = 1;
  for (size_t i = 0; i < s.rows; i++) {
    long t = s.seen[i] / PER, k = s.seen[i] % PER;
    if (t < 0 || t >= THREADS || k != next[t]++)
      in_order = 0;
  }
  CHECK(in_order);
  CHECK(s.max_batch <= 512);
  ledger_stop(l);
  CHECK_INT(s.rows, THREADS * PER);
  sink_free(&s);
}

static void test_flush(void) {
  TEST("flush");
  struct sink s;
  sink_init(&s, 100);
  /* A batch window far longer than the test: only flush can write it. */
  struct ledger *l = ledger_start(count_sink, &s, 3600000);
  ledger_flush(l); /* nothing submitted: returns at once */
  CHECK_INT(sink_rows(&s), 0);
  struct ledger_row r;
  for (int i = 0; i < 3; i++) {
    make_row(&r, i);
    CHECK_INT(ledger_submit(l, &r), 0);
  }
  ledger_flush(l);
  CHECK_INT(sink_rows(&s), 3);
  CHECK_INT(s.calls, 1); /* one batch */
  make_row(&r, 3);
  ledger_submit(l, &r);
  ledger_flush(l);
  CHECK_INT(sink_rows(&s), 4);
  CHECK_INT(s.seen[3], 3);
  ledger_stop(l);
  sink_free(&s);
}

static void test_batch_window(void) {
  TEST("a batch is written without a flush");
  struct sink s;
  sink_init(&s, 10);
  struct ledger *l = ledger_start(count_sink, &s, 10);
  struct ledger_row r;
  make_row(&r, 0);
  ledger_submit(l, &r);
  /* No flush: the writer's own deadline must write it (bounded wait, no timing assertion). */
  for (int i = 0; i < 5000 && sink_rows(&s) == 0; i++)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  CHECK_INT(sink_rows(&s), 1);
  ledger_stop(l);
  sink_free(&s);
}

static void test_stop_flushes(void) {
  TEST("stop flushes");
  struct sink s;
  sink_init(&s, 2000);
  struct ledger *l = ledger_start(count_sink, &s, 3600000);
  struct ledger_row r;
  for (int i = 0; i < 1500; i++) {
    make_row(&r, i);
    ledger_submit(l, &r);
  }
  ledger_stop(l);
  CHECK_INT(s.rows, 1500);
  int in_order = 1;
  for (int i = 0; i < 1500; i++)
    in_order &= s.seen[i] == i;
  CHECK(in_order);
  CHECK(s.max_batch <= 512);
  ledger_stop(NULL);
  ledger_flush(NULL);
  sink_free(&s);
}

static void test_retry(void) {
  TEST("a failed batch is retried");
  struct sink s;
  sink_init(&s, 10);
  s.fail = 2;
  struct ledger *l = ledger_start(count_sink, &s, 0);
  struct ledger_row r;
  for (int i = 0; i < 5; i++) {
    make_row(&r, i);
    ledger_submit(l, &r);
  }
  ledger_flush(l); /* waits through two failures (100 + 200 ms of backoff) */
  CHECK_INT(s.failed_calls, 2);
  CHECK_INT(s.rows, 5);
  for (int i = 0; i < 5; i++)
    CHECK_INT(s.seen[i], i);
  ledger_stop(l);
  sink_free(&s);
}

static void test_fail_at_stop(void) {
  TEST("a sink that never recovers: stop gives up, frees the rows");
  struct sink s;
  sink_init(&s, 10);
  s.fail = 1000000;
  struct ledger *l = ledger_start(count_sink, &s, 3600000);
  struct ledger_row r;
  for (int i = 0; i < 3; i++) {
    make_row(&r, i);
    ledger_submit(l, &r);
  }
  ledger_stop(l); /* bounded attempts, then the loss is logged */
  CHECK_INT(s.rows, 0);
  CHECK(s.failed_calls >= 1 && s.failed_calls <= 3);
  sink_free(&s);
}

static void test_bounded(void) {
  TEST("rows past max_pending are dropped and counted; the rest are written");
  struct sink s;
  sink_init(&s, 20);
  /* A long batch window: rows stay pending, as while the database is down. */
  struct ledger *l = ledger_start(count_sink, &s, 3600000);
  ledger_set_max_pending(l, 5);
  struct ledger_row r;
  for (int i = 0; i < 8; i++) {
    make_row(&r, i);
    CHECK_INT(ledger_submit(l, &r), 0);
    CHECK(r.request_id == NULL); /* taken (queued or freed) either way */
  }
  size_t pending;
  uint64_t dropped;
  ledger_counts(l, &pending, &dropped);
  CHECK_INT(pending, 5);
  CHECK_INT(dropped, 3);
  ledger_flush(l);
  CHECK_INT(sink_rows(&s), 5);
  CHECK_INT(s.seen[4], 4); /* the oldest rows are kept */
  ledger_counts(l, &pending, &dropped);
  CHECK_INT(pending, 0);
  make_row(&r, 8); /* room again */
  ledger_submit(l, &r);
  ledger_flush(l);
  CHECK_INT(sink_rows(&s), 6);
  ledger_stop(l);
  sink_free(&s);
}

void suite_ledger(void) {
  test_many_threads();
  test_flush();
  test_batch_window();
  test_stop_flushes();
  test_retry();
  test_fail_at_stop();
  test_bounded();
}
