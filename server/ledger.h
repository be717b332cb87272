/* The spend ledger queue: one row per request, written in batches by a
 * writer thread so the event loop never waits on the disk. The sink (e.g.
 * SQLite) is called on the writer thread only, never under the queue lock. */
#ifndef RP_LEDGER_H
#define RP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

struct ledger_row {             /* one request; every string owned by the row (may be NULL) */
  char *request_id;             /* "req_..." */
  char *api_key;                /* the key's token id (hash), NULL without a key */
  char *key_alias;
  char *route;                  /* "/v1/chat/completions" */
  char *model;                  /* as the client asked */
  char *upstream_model;         /* "deepseek-ai/deepseek-v3.1" */
  int stream, n;
  int status;                   /* HTTP status */
  char *error_code;             /* OpenAI error code or NULL */
  long prompt_tokens, completion_tokens;
  int tokens_estimated;         /* 1 when Replicate gave no metrics */
  int in_limits;                /* its spend was settled in the limits table (limit_written) */
  double spend;                 /* USD */
  int64_t start_ms, end_ms, completion_start_ms;   /* unix ms; completion_start 0 = none */
  char *prediction_ids;         /* comma-separated */
  char *finish_reason;
  char *user;                   /* the request's `user` field */
  char *client_addr;
};
void ledger_row_free(struct ledger_row *r);   /* frees the strings, not r */

/* Writes batches of rows through sink (called on the writer thread only).
 * Returns 0 when every row is stored, nonzero to have the batch retried. */
typedef int (*ledger_sink_fn)(void *ctx, const struct ledger_row *rows, size_t n);

struct ledger;

/* Starts the writer thread; a batch is written at most batch_ms after its first row.
 * NULL when out of memory or the thread cannot start. */
struct ledger *ledger_start(ledger_sink_fn sink, void *ctx, int batch_ms);
/* Queue a row (takes ownership of *row's strings; *row is zeroed). Never blocks on the disk;
 * thread-safe. -1 only when out of memory (the row is freed). */
int ledger_submit(struct ledger *l, struct ledger_row *row);
/* Bound the rows waiting for the sink (a shared database may be unreachable for
 * a while): past max_pending, new rows are dropped, counted and logged. 0 = no bound. */
void ledger_set_max_pending(struct ledger *l, size_t max_pending);
/* Rows waiting for the sink now, and rows dropped at the bound since the start. */
void ledger_counts(struct ledger *l, size_t *pending, uint64_t *dropped);
/* Rows the sink took since the start (for /metrics). */
uint64_t ledger_written(struct ledger *l);
/* Blocks until every row submitted so far has reached the sink (tests, CLI, shutdown). */
void ledger_flush(struct ledger *l);
/* Keep the writer from handing rows to the sink until released (the sink call in progress
 * ends first): a reader of the store's spend and of what is still queued sees one state.
 * NULL is fine. */
void ledger_commits_hold(struct ledger *l);
void ledger_commits_release(struct ledger *l);
/* Flush everything, stop the thread, free. NULL is fine. */
void ledger_stop(struct ledger *l);

#endif
