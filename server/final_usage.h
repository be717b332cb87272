/* The final token counts of predictions whose client hung up. The exchange
 * cancels them at once, but Replicate reports what a canceled prediction
 * consumed (metrics.input_token_count / output_token_count) only once it is
 * terminal: this reads each one (GET urls.get, with backoff, bounded by a
 * deadline) on the worker's loop, after the exchange and the request are
 * freed, and reports the totals once. A create still in flight at the
 * hang-up is waited for first (its prediction has no id yet): a terminal
 * reply carries its counts, a running one is read like the others, none is
 * no tokens (a reply lost after sending: what the list lookup found). The GETs and creates are detached transfers, so a stopping
 * worker waits for those in flight (within its grace period). */
#ifndef RP_FINAL_USAGE_H
#define RP_FINAL_USAGE_H

#include <stddef.h>

#include "exchange.h"

struct worker;

struct final_usage_result {
  long prompt_tokens, completion_tokens;
  int estimated; /* some prediction's final counts could not be had: its estimate is used */
  const char *created_ids; /* comma-separated ids of predictions whose create was in flight
                            * at the hang-up (not in the exchange's list), or NULL */
};

/* Called exactly once: on the worker's thread (possibly before final_usage_start
 * returns), or in final_usage_shutdown. */
typedef void (*final_usage_fn)(void *ctx, const struct final_usage_result *r);

/* Start reading the final counts of preds (n entries, from exchange_pred_usage) with token;
 * takes ownership of preds and token, also on failure. deadline_ms bounds the whole wait:
 * then the estimate. 0 started (done is called later), -1 out of memory (done not called). */
int final_usage_start(struct worker *w, struct exchange_pred_usage *preds, size_t n, char *token,
                      long deadline_ms, final_usage_fn done, void *ctx);

/* After every worker has stopped: reports each read still pending with its
 * estimate (flagged), so a SIGTERM settles everything. */
void final_usage_shutdown(void);

/* Reads still pending (tests, metrics). */
size_t final_usage_pending(void);

#endif
