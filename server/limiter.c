#include "limiter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/clock.h"
#include "limits_redis.h"
#include "store/store.h"

static struct limit_table *T;
/* The seed's own connection, used on the Redis client thread only (opened
 * at its first use there, closed after that thread stopped). */
static struct {
  char *path;
  struct store *store;
} S;

/* An answer awaited from Redis: outlives its call when the request ends first. */
struct limiter_wait {
  struct limiter_call *c; /* NULL once the request ended meanwhile */
  void (*resume)(void *ctx);
  void *ctx;
  char key[KEYS_TOKEN_LEN + 1], member[24]; /* to give back what it got then */
  long tokens;
  struct redis_budget rb;
};

/* The budget window's reset time now, as every replica computes it from the
 * key's record (0: the budget never resets). */
static int64_t budget_window(const struct limit_spec *sp, int64_t now) {
  int64_t at = sp->budget_reset_at_ms;
  if (at <= 0 || now < at)
    return at > 0 ? at : 0;
  return sp->budget_window_ms > 0
             ? at + ((now - at) / sp->budget_window_ms + 1) * sp->budget_window_ms
             : 0;
}

/* ------------------------------------------------ the local implementation */

static enum limiter_status local_admit(struct limiter_call *c, const struct limit_spec *spec,
                                       struct limit_state *st) {
  int rc = limit_admit(T, c->key, spec, c->tokens, c->cost, clock_mono_ms(), clock_wall_ms(),
                       &c->ticket, st);
  if (rc == 0)
    c->local_held = 1;
  return rc < 0 ? LIMITER_NOMEM : rc == 1 ? LIMITER_REFUSED : LIMITER_ADMITTED;
}

/* end_wall_ms is the ledger row's end time: limit_written matches it when
 * the row reaches the store. */
static void local_settle(struct limiter_call *c, long tokens_used, double cost,
                         int64_t end_wall_ms) {
  if (!c->local_held)
    return;
  limit_settle(T, &c->ticket, tokens_used, cost, clock_mono_ms(), end_wall_ms);
  c->local_held = 0;
}

/* ----------------------------------------------- the shared implementation */

static void shared_give_back(const char *key, const char *member, long tokens,
                             const struct redis_budget *rb) {
  redis_limits_settle(key, member, tokens, 0,
                      &(struct redis_budget){.reserved = rb->cost, .window = rb->window});
}

/* A budget window Redis does not have: its settled spend from the ledger. */
static int shared_seed(void *ctx, const char *key, int64_t since_ms, int64_t until_ms,
                       double *spend) {
  (void)ctx;
  if (!S.store) {
    char err[256];
    S.store = store_open(S.path, 5000, err, sizeof err);
    if (!S.store)
      return -1;
  }
  return store_key_spend_until(S.store, key, since_ms, until_ms, spend);
}

/* Redis's answer reached the request's worker. */
static void shared_answered(void *ctx, const struct redis_answer *ans) {
  struct limiter_wait *wait = ctx;
  struct limiter_call *c = wait->c;
  if (!c) { /* the request ended meanwhile: give back what was reserved for it */
    if (ans->status == 0)
      shared_give_back(wait->key, wait->member, wait->tokens, &wait->rb);
    free(wait);
    return;
  }
  c->wait = NULL;
  c->decided = 1;
  c->answer = *ans;
  void (*resume)(void *) = wait->resume;
  void *rctx = wait->ctx;
  free(wait);
  resume(rctx);
}

static enum limiter_status shared_ask(struct limiter_call *c, struct worker *w,
                                      void (*resume)(void *), void *ctx) {
  unsigned char raw[12];
  struct limiter_wait *wait = calloc(1, sizeof *wait);
  if (!wait || keys_random(raw, sizeof raw) != 0) {
    free(wait);
    return LIMITER_NOMEM;
  }
  keys_base64url(raw, sizeof raw, c->member, sizeof c->member);
  int64_t now = clock_wall_ms();
  c->rb = (struct redis_budget){.cost = c->cost, .window = budget_window(&c->spec, now),
                                .settled = limit_spend(T, c->key, now)};
  *wait = (struct limiter_wait){.c = c, .resume = resume, .ctx = ctx, .tokens = c->tokens,
                                .rb = c->rb};
  memcpy(wait->key, c->key, sizeof wait->key);
  memcpy(wait->member, c->member, sizeof wait->member);
  if (redis_limits_admit(w, c->key, &c->spec, c->tokens, &c->rb, c->member, c->lease_ms,
                         shared_answered, wait) != 0) {
    free(wait);
    return LIMITER_NOMEM;
  }
  c->wait = wait;
  return LIMITER_WAIT;
}

static void shared_settle(struct limiter_call *c, long tokens_used, double cost,
                          int64_t end_wall_ms) {
  if (c->wait) /* gone while Redis decides: the answer finds nobody */
    c->wait->c = NULL;
  c->wait = NULL;
  if (!c->shared_held)
    return;
  redis_limits_settle(c->key, c->member, c->tokens, tokens_used,
                      &(struct redis_budget){.reserved = c->rb.cost, .cost = cost,
                                             .window = c->rb.window, .end_ms = end_wall_ms});
  c->shared_held = 0;
}

/* -------------------------------------------------------------- the choice */

int limiter_open(const char *redis_url, const char *db_path, char *err, size_t errlen) {
  T = limit_table_new();
  S.path = db_path ? strdup(db_path) : NULL;
  if (!T || (db_path && !S.path)) {
    limiter_close();
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (redis_url && redis_url[0] &&
      redis_limits_start(redis_url, S.path ? shared_seed : NULL, NULL, err, errlen) != 0) {
    limiter_close();
    return -1;
  }
  return 0;
}

void limiter_close(void) {
  redis_limits_stop();
  store_close(S.store);
  free(S.path);
  S.store = NULL;
  S.path = NULL;
  if (T)
    limit_table_free(T);
  T = NULL;
}

struct limit_table *limiter_local_table(void) { return T; }

static int has_limits(const struct limit_spec *s) {
  return s->rpm > 0 || s->tpm > 0 || s->parallel > 0 || s->max_budget >= 0;
}

enum limiter_status limiter_admit(struct limiter_call *c, struct worker *w,
                                  void (*resume)(void *ctx), void *ctx) {
  struct limit_spec spec = c->spec;
  if (redis_limits_enabled() && has_limits(&spec)) {
    if (!c->decided)
      return shared_ask(c, w, resume, ctx);
    if (c->answer.status < 0 && c->fail_closed)
      return LIMITER_UNAVAILABLE;
    if (c->answer.status == 1) {
      c->st = c->answer.st;
      return LIMITER_REFUSED;
    }
    if (c->answer.status == 0) {
      c->shared_held = 1;
      spec.rpm = spec.tpm = spec.parallel = 0; /* all counted in Redis */
      spec.max_budget = -1;
    } else { /* open: this replica counts every limit itself until Redis returns */
      c->fallback = 1;
    }
  }
  /* Still admitted locally when shared: the local table keeps the key's
   * settled spend, what a budget starts from if Redis has none. */
  struct limit_state st;
  memset(&st, 0, sizeof st);
  enum limiter_status rc = local_admit(c, &spec, &st);
  if (rc != LIMITER_ADMITTED)
    shared_settle(c, 0, 0, 0); /* refused here: give the shared slot back */
  if (c->shared_held) { /* the headers tell the shared counts */
    const struct limit_state *rs = &c->answer.st;
    st.req_limit = rs->req_limit, st.req_remaining = rs->req_remaining;
    st.req_reset_ms = rs->req_reset_ms;
    st.tok_limit = rs->tok_limit, st.tok_remaining = rs->tok_remaining;
    st.tok_reset_ms = rs->tok_reset_ms;
  }
  c->st = st;
  return rc;
}

void limiter_settle(struct limiter_call *c, long tokens_used, double cost, int64_t end_wall_ms) {
  local_settle(c, tokens_used, cost, end_wall_ms);
  shared_settle(c, tokens_used, cost, end_wall_ms);
}

void limiter_release(struct limiter_call *c) { limiter_settle(c, 0, 0, clock_wall_ms()); }

void limiter_release_slot(struct limiter_call *c) {
  if (c->local_held)
    limit_release(T, &c->ticket);
  if (c->shared_held) /* README: the slot is free at the hang-up, shared or not */
    redis_limits_release_slot(c->key, c->member);
}
