/* RPM, TPM and parallel-request limits shared by every replica, in Redis:
 * each admission and each settlement is one atomic server-side script, so
 * replicas racing for a key's last slot cannot overshoot it. A client thread
 * owns the (blocking) connection; a worker submits and goes on, and the
 * answer comes back to that worker's loop through an eventfd. */
#ifndef RP_LIMITS_REDIS_H
#define RP_LIMITS_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "../shared/limits.h"

struct worker;

struct redis_answer {
  int status;             /* 0 admitted, 1 refused (st says which), -1 Redis unavailable */
  struct limit_state st;
};
/* Called on the submitting worker's thread with the answer. */
typedef void (*redis_done_fn)(void *ctx, const struct redis_answer *a);

/* A key's settled spend (USD) in ledger rows that started at or after
 * since_ms and ended at or before until_ms. 0 or -1. Called on the client
 * thread (it may block: SQL), when Redis has no budget window for the key. */
typedef int (*redis_seed_fn)(void *ctx, const char *key_id, int64_t since_ms, int64_t until_ms,
                             double *spend);

/* Parse redis://[:password@]host[:port][/db] and start the client thread
 * (connecting lazily). 0, or -1 with a message (never the password). */
int redis_limits_start(const char *url, redis_seed_fn seed, void *seed_ctx, char *err,
                       size_t errlen);
/* After the workers stopped. */
void redis_limits_stop(void);
int redis_limits_enabled(void);
/* 1 while the last call to Redis failed (any thread: /ready reports it). */
int redis_limits_down(void);

/* A request's money (USD). window: the budget window's reset time (unix ms,
 * 0 = never), the same on every replica: a new one starts from the ledger's
 * settled spend (the seed function), or from settled when that fails. */
struct redis_budget {
  double cost;      /* admit: worst case reserved; settle: the real cost */
  double reserved;  /* settle: what admit reserved */
  double settled;   /* admit: this replica's view of the spend in the window */
  int64_t window;
  int64_t end_ms;   /* settle: when the request ended (its ledger row's endTime) */
};

/* Admit a request of key_id reserving tokens and b->cost under spec's
 * rpm/tpm/parallel/budget (member names the reservation; a parallel slot left
 * by a replica that died expires after lease_ms). 0: done will be called on
 * w's thread; -1 out of memory. */
int redis_limits_admit(struct worker *w, const char *key_id, const struct limit_spec *spec,
                       long tokens, const struct redis_budget *b, const char *member,
                       int64_t lease_ms, redis_done_fn done, void *ctx);
/* The request ended: free its parallel slot, its TPM reservation becomes
 * used tokens, its budget reservation b->cost settled. Fire and forget. */
void redis_limits_settle(const char *key_id, const char *member, long reserved, long used,
                         const struct redis_budget *b);
/* Give the request's parallel slot back before its settlement (a client that
 * hung up: its final counts come later); its TPM and budget reservations stay
 * until redis_limits_settle, whose own release then finds nothing. */
void redis_limits_release_slot(const char *key_id, const char *member);

#endif
