#include "final_usage.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/buf.h"
#include "../shared/prediction.h"
#include "worker.h"

#define RETRY_FIRST_MS 100   /* a cancel lands within a poll or two */
#define RETRY_MAX_MS 2000
#define ATTEMPT_MAX_MS 10000 /* one GET */
#define REPLY_MAX (1 << 20)  /* a prediction object with its whole output */

struct fu;

struct fu_pred {
  struct fu *fu;
  struct exchange_pred_usage *u;
  struct loop_timer timer;
  int attempts;
  char *created_id; /* the prediction an orphaned create made (malloc'd), or NULL */
};

struct fu {
  struct fu *prev, *next; /* the pending list (for shutdown) */
  struct worker *w;
  struct exchange_pred_usage *preds;
  struct fu_pred *fp;
  size_t n, left;
  char *token;
  uint64_t deadline_ms; /* loop clock */
  long wait_ms;         /* the deadline's span, from when a read can begin */
  final_usage_fn done;
  void *ctx;
};

/* A detached GET: up_orphan frees the transfer as a whole, and the transfer
 * is its first member, so the attempt goes with it. */
struct attempt {
  struct up_transfer t;
  struct fu_pred *p;
};

static struct {
  pthread_mutex_t lock;
  struct fu *head;
  size_t count;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void registry_add(struct fu *f) {
  pthread_mutex_lock(&P.lock);
  f->prev = NULL;
  f->next = P.head;
  if (P.head)
    P.head->prev = f;
  P.head = f;
  P.count++;
  pthread_mutex_unlock(&P.lock);
}

static void registry_remove(struct fu *f) {
  pthread_mutex_lock(&P.lock);
  if (f->prev)
    f->prev->next = f->next;
  else
    P.head = f->next;
  if (f->next)
    f->next->prev = f->prev;
  P.count--;
  pthread_mutex_unlock(&P.lock);
}

static void fu_free(struct fu *f) {
  exchange_pred_usage_free(f->preds, f->n);
  for (size_t i = 0; i < f->n; i++)
    free(f->fp[i].created_id);
  if (f->token) {
    memset(f->token, 0, strlen(f->token));
    free(f->token);
  }
  free(f->fp);
  free(f);
}

/* Totals: final counts where read, else what was known plus the estimate. */
static void report(struct fu *f) {
  struct final_usage_result r = {0, 0, 0, NULL};
  struct buf ids = BUF_INIT;
  for (size_t i = 0; i < f->n; i++) {
    const struct exchange_pred_usage *u = &f->preds[i];
    if (u->input_tokens < 0 || u->output_tokens < 0)
      r.estimated = 1;
    r.prompt_tokens += u->input_tokens >= 0 ? u->input_tokens : u->input_estimate;
    r.completion_tokens += u->output_tokens >= 0 ? u->output_tokens : u->output_estimate;
    const char *id = f->fp[i].created_id;
    if (id && ((ids.len && buf_append_str(&ids, ",") != 0) || buf_append_str(&ids, id) != 0))
      log_msg(LOG_ERROR, "out of memory: prediction %s is charged but not listed in its "
              "ledger row", id);
  }
  r.created_ids = ids.data;
  f->done(f->ctx, &r);
  buf_free(&ids);
}

static void fu_release(struct fu *f) {
  if (--f->left)
    return;
  registry_remove(f);
  report(f);
  fu_free(f);
}

/* This prediction's counts are final, or given up (its estimate stands). */
static void pred_settled(struct fu_pred *p) {
  loop_timer_disarm(&p->fu->w->loop, &p->timer);
  fu_release(p->fu);
}

/* Try again after a backoff, unless the deadline or a shutdown comes first:
 * then the estimate stands. */
static void retry_later(struct fu_pred *p, long hint_ms) {
  struct fu *f = p->fu;
  long delay = RETRY_FIRST_MS << (p->attempts < 5 ? p->attempts - 1 : 4);
  if (delay > RETRY_MAX_MS)
    delay = RETRY_MAX_MS;
  if (hint_ms > delay)
    delay = hint_ms;
  if (f->w->stopping || loop_now_ms() + (uint64_t)delay >= f->deadline_ms ||
      loop_timer_arm(&f->w->loop, &p->timer, (uint64_t)delay) != 0) {
    log_msg(LOG_WARN, "the final token counts of a canceled prediction could not be read "
            "(%d attempts): its estimate is charged", p->attempts);
    pred_settled(p);
  }
}

static void on_attempt_done(struct up_transfer *t) {
  struct fu_pred *p = ((struct attempt *)t)->p;
  int transient = t->result != CURLE_OK || t->status == 429 || t->status >= 500;
  if (t->result == CURLE_OK && t->status >= 200 && t->status <= 299) {
    struct prediction pr;
    int ok = prediction_parse(t->body.data ? t->body.data : "", t->body.len, &pr) == 0;
    if (ok && prediction_is_terminal(pr.status)) {
      /* Counts Replicate left out stay unknown: the estimate, flagged. */
      if (pr.input_tokens >= 0 && pr.output_tokens >= 0) {
        p->u->input_tokens = pr.input_tokens;
        p->u->output_tokens = pr.output_tokens;
      }
      prediction_free(&pr);
      pred_settled(p);
      return;
    }
    prediction_free(&pr);
    transient = ok; /* still running: the cancel has not landed yet */
  }
  if (!transient) {
    log_msg(LOG_WARN, "reading a canceled prediction's final counts failed (HTTP %ld): its "
            "estimate is charged", t->status);
    pred_settled(p);
    return;
  }
  retry_later(p, up_retry_after_ms(t));
}

static void attempt_start(struct fu_pred *p) {
  struct fu *f = p->fu;
  uint64_t now = loop_now_ms();
  long left = now < f->deadline_ms ? (long)(f->deadline_ms - now) : 0;
  /* A timer armed before shutdown began starts no new GET in the grace period. */
  struct attempt *a = f->w->stopping ? NULL : calloc(1, sizeof *a);
  if (!a || left <= 0) {
    free(a);
    pred_settled(p);
    return;
  }
  p->attempts++;
  up_transfer_init(&a->t, on_attempt_done, NULL, NULL);
  a->p = p;
  struct up_request r = {.method = "GET", .url = p->u->url_get, .token = f->token,
                         .timeout_ms = left < ATTEMPT_MAX_MS ? left : ATTEMPT_MAX_MS,
                         .max_body = REPLY_MAX};
  if (up_start(&f->w->up, &a->t, &r) != 0) {
    up_transfer_free(&a->t);
    free(a);
    retry_later(p, 0);
    return;
  }
  /* Detached: a stopping worker waits for it, and frees it if it must go. */
  up_orphan(&a->t, on_attempt_done, NULL);
}

static void on_timer(struct loop *l, struct loop_timer *t) {
  (void)l;
  attempt_start(t->ud);
}

/* A create that was in flight at the hang-up returned: no prediction is no
 * tokens; a terminal one carries its final counts; a running one (canceled
 * by the exchange) is read like the others, its deadline counted from now. */
static void on_created(void *ctx, const struct exchange_created *r) {
  struct fu_pred *p = ctx;
  struct exchange_pred_usage *u = p->u;
  u->create = NULL;
  if (!r->pred_id) {
    u->input_tokens = u->output_tokens = 0;
    pred_settled(p);
    return;
  }
  p->created_id = strdup(r->pred_id); /* NULL (out of memory): charged, not listed */
  if (r->input_tokens >= 0 && r->output_tokens >= 0 && r->terminal) {
    u->input_tokens = r->input_tokens;
    u->output_tokens = r->output_tokens;
  } else if (!r->terminal && r->url_get && (u->url_get = strdup(r->url_get))) {
    struct fu *f = p->fu;
    uint64_t deadline = loop_now_ms() + (uint64_t)f->wait_ms;
    if (deadline > f->deadline_ms)
      f->deadline_ms = deadline;
    attempt_start(p);
    return;
  }
  pred_settled(p); /* final, or the estimate (flagged) */
}

int final_usage_start(struct worker *w, struct exchange_pred_usage *preds, size_t n, char *token,
                      long deadline_ms, final_usage_fn done, void *ctx) {
  struct fu *f = calloc(1, sizeof *f);
  struct fu_pred *fp = calloc(n ? n : 1, sizeof *fp);
  if (!f || !fp) {
    free(f);
    free(fp);
    exchange_pred_usage_free(preds, n);
    if (token)
      memset(token, 0, strlen(token));
    free(token);
    return -1;
  }
  if (deadline_ms < 0)
    deadline_ms = 0;
  *f = (struct fu){.w = w, .preds = preds, .fp = fp, .n = n, .left = n, .token = token,
                   .deadline_ms = loop_now_ms() + (uint64_t)deadline_ms, .wait_ms = deadline_ms,
                   .done = done, .ctx = ctx};
  for (size_t i = 0; i < n; i++) {
    fp[i].fu = f;
    fp[i].u = &preds[i];
    loop_timer_init(&fp[i].timer, on_timer, &fp[i]);
  }
  registry_add(f);
  f->left++; /* held while starting: a read that ends at once must not free f */
  for (size_t i = 0; i < n; i++) {
    if (preds[i].create)
      exchange_orphan_wait(preds[i].create, on_created, &fp[i]); /* called later */
    else if (preds[i].url_get)
      attempt_start(&fp[i]);
    else
      pred_settled(&fp[i]);
  }
  fu_release(f);
  return 0;
}

void final_usage_shutdown(void) {
  pthread_mutex_lock(&P.lock);
  struct fu *f = P.head;
  P.head = NULL;
  P.count = 0;
  pthread_mutex_unlock(&P.lock);
  while (f) {
    struct fu *next = f->next;
    /* The workers' loops and transfers (and creates still in flight, never
     * heard from) are gone: only the estimate is left. */
    log_msg(LOG_WARN, "shutdown: a hung-up request's final token counts were not read: its "
            "estimate is charged");
    report(f);
    fu_free(f);
    f = next;
  }
}

size_t final_usage_pending(void) {
  pthread_mutex_lock(&P.lock);
  size_t n = P.count;
  pthread_mutex_unlock(&P.lock);
  return n;
}
