/* Per-key admission limits (RPM, TPM, parallel requests, budget), exact
 * under concurrency: one table per process, shared by every worker thread.
 * A request is admitted against all of its key's limits at once (all are
 * reserved or none is) and settled exactly once when it ends, so N threads
 * racing for the last slot can never overshoot a limit or a budget. */
#ifndef RP_LIMITS_H
#define RP_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct limit_spec {            /* a key's limits; 0 / negative = none */
  long rpm;                    /* requests admitted in any sliding 60 s */
  long tpm;                    /* tokens reserved/used in any sliding 60 s */
  long parallel;               /* requests in flight (a stream counts until it ends) */
  double max_budget;           /* USD per budget window; < 0 = none */
  int64_t budget_window_ms;    /* 0 = the budget never resets */
  int64_t budget_reset_at_ms;  /* wall clock (unix ms) of the next reset; 0 = none */
};

enum limit_kind { LIMIT_NONE = 0, LIMIT_RPM, LIMIT_TPM, LIMIT_PARALLEL, LIMIT_BUDGET };

struct limit_state {           /* filled by limit_admit, admitted or not */
  enum limit_kind refused;     /* LIMIT_NONE when admitted */
  double limit, used;          /* the refused limit's value and its current use */
  int64_t retry_after_ms;      /* real wait until the request could pass; -1: never (budget w/o reset) */
  /* For OpenAI's x-ratelimit-* headers (only when the limit exists: *_limit > 0): */
  long req_limit, req_remaining; int64_t req_reset_ms;   /* reset: until a slot frees */
  long tok_limit, tok_remaining; int64_t tok_reset_ms;
};

struct limit_ticket {          /* one admitted request; settle exactly once */
  void *slot;                  /* the key's entry (owned by the table) */
  long tokens;                 /* tokens reserved */
  double cost;                 /* USD reserved */
  int64_t at_ms;               /* admission time (monotonic ms) */
  uint64_t seq;                /* identifies the TPM entry to reconcile */
  int released;                /* limit_release gave the parallel slot back */
};

struct limit_table;

struct limit_table *limit_table_new(void);
void limit_table_free(struct limit_table *t);

/* The key's settled spend in the current window, as the ledger says (at load, after a restart,
 * or when the key's window/limits change). Replaces the in-memory settled figure with spend plus
 * what was settled here but not yet written (limit_written): a reload while requests settle
 * loses no cost. The caller keeps rows from being written between reading spend and this call
 * (ledger_commits_hold). */
int limit_set_spend(struct limit_table *t, const char *key_id, double spend);
/* Settled spend in the window now (resets applied). */
double limit_spend(struct limit_table *t, const char *key_id, int64_t now_wall_ms);
/* Forget a key (deleted/regenerated): later admits start fresh. */
void limit_forget(struct limit_table *t, const char *key_id);

/* Admit one request reserving `tokens` (prompt estimate + max_tokens × n) and `cost` (worst case
 * USD) against all of spec's limits atomically: all pass and are reserved, or nothing is.
 * Budget: settled + reserved-in-flight + cost <= max_budget. Returns 0 admitted (ticket filled),
 * 1 refused (st says which), -1 out of memory. now_ms is monotonic, now_wall_ms wall clock. */
int limit_admit(struct limit_table *t, const char *key_id, const struct limit_spec *spec,
                long tokens, double cost, int64_t now_ms, int64_t now_wall_ms,
                struct limit_ticket *ticket, struct limit_state *st);

/* The request ended: release parallel, replace the reservation with the real tokens (the TPM
 * window entry keeps its admission time) and cost (added to settled spend). */
void limit_settle(struct limit_table *t, struct limit_ticket *ticket, long tokens_used,
                  double cost, int64_t now_ms, int64_t now_wall_ms);

/* Give the parallel slot back before the settlement (a client that hung up: its final token
 * counts come later); the budget and TPM reservations stay until limit_settle. */
void limit_release(struct limit_table *t, struct limit_ticket *ticket);

/* A cost settled at settled_wall_ms (the now_wall_ms given to limit_settle) reached the store
 * (the ledger wrote its row): no longer added to spend by limit_set_spend. */
void limit_written(struct limit_table *t, const char *key_id, double cost,
                   int64_t settled_wall_ms);

/* The limit's name for messages: "RPM", "TPM", "parallel requests", "budget" ("" for none). */
const char *limit_kind_name(enum limit_kind kind);

/* OpenAI's duration format for x-ratelimit-reset-*: "1s", "6m0s", "120ms", "1h2m3s". */
size_t limit_format_duration(int64_t ms, char *out, size_t len);
/* v in decimal (the x-ratelimit-* counts); both return the length, or 0 and "" when it does
 * not fit in len. */
size_t limit_format_long(long v, char *out, size_t len);

#endif
