/* Admission limits (RPM, TPM, parallel requests, budget) behind one
 * interface, so the gateway does not care where they are counted. Two
 * implementations: local (shared/limits.c, one process) and shared
 * (server/limits_redis.c, every replica through Redis). limiter.c picks the
 * shared one when redis_url is set and the key has a limit, and falls back
 * to the local one while Redis is down (redis_failure = open). */
#ifndef RP_LIMITER_H
#define RP_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#include "../shared/keys.h"
#include "../shared/limits.h"
#include "limits_redis.h"

struct worker;
struct limiter_wait;

enum limiter_status {
  LIMITER_ADMITTED = 0,
  LIMITER_REFUSED = 1,     /* st says which limit */
  LIMITER_WAIT = 2,        /* resume is called on the worker's thread; admit again then */
  LIMITER_UNAVAILABLE = 3, /* Redis down and redis_failure = closed */
  LIMITER_NOMEM = -1,
};

/* One request's admission: filled by the caller, owned by the request,
 * settled or released exactly once (either is a no-op when nothing is held). */
struct limiter_call {
  /* in */
  char key[KEYS_TOKEN_LEN + 1];
  struct limit_spec spec;
  long tokens;        /* reserved for TPM: prompt estimate + max_tokens × n */
  double cost;        /* worst-case USD reserved against the budget */
  int64_t lease_ms;   /* a dead replica's shared parallel slot expires after this */
  int fail_closed;    /* redis_failure = closed */
  /* out: the state for headers and refusals (the shared counts when shared) */
  struct limit_state st;
  int fallback;       /* decided here: the key's limits are shared but Redis was down (open) */
  /* private */
  struct limiter_wait *wait;
  int decided, local_held, shared_held;
  struct redis_answer answer;
  struct limit_ticket ticket;
  char member[24];
  struct redis_budget rb;
};

/* The local table, and the shared client when redis_url is set (db_path:
 * the store a new budget window's settled spend is read from). 0, or -1 with
 * a message (never a password). */
int limiter_open(const char *redis_url, const char *db_path, char *err, size_t errlen);
void limiter_close(void);
/* The local table (the key snapshot gives it each key's settled spend). */
struct limit_table *limiter_local_table(void);

/* Admit c against its limits: all are reserved, or none. On LIMITER_WAIT,
 * resume(ctx) comes later on w's thread and limiter_admit is called again with
 * the same c, which then decides. */
enum limiter_status limiter_admit(struct limiter_call *c, struct worker *w,
                                  void (*resume)(void *ctx), void *ctx);
/* The request ended having used tokens_used and cost (USD), at end_wall_ms
 * (the ledger row's end time). */
void limiter_settle(struct limiter_call *c, long tokens_used, double cost, int64_t end_wall_ms);
/* Give everything back unused (refused later, or the client left); a wait
 * still pending gives back what its answer brings. */
void limiter_release(struct limiter_call *c);
/* Give the parallel slot back (local, and the shared one in Redis) before the
 * settlement (a client that hung up: its final counts come later); TPM and
 * budget stay reserved until limiter_settle. */
void limiter_release_slot(struct limiter_call *c);

#endif
