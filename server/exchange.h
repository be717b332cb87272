/* One chat completion exchange: from the validated request to predictions
 * on Replicate (create, then stream or poll), to the client's answer.
 * Created by the route handler, freed in exactly one place: when the HTTP
 * request completes (http.c), which also cancels predictions still running. */
#ifndef RP_EXCHANGE_H
#define RP_EXCHANGE_H

#include <sys/types.h>

#include "../shared/chat_request.h"
#include "../shared/completion_request.h"
#include "../shared/dialects/encoder.h"
#include "worker.h"

struct exchange;
struct http_request;

/* Takes ownership of *req (left zeroed) and copies token. Starts the
 * upstream work; answers through hr. NULL when out of memory. */
struct exchange *exchange_start(struct worker *w, struct http_request *hr,
                                struct chat_request *req, const char *token);

/* The same, answering in another wire format: takes ownership of *enc
 * (its state is freed with the exchange, or here on failure). */
struct exchange *exchange_start_with(struct worker *w, struct http_request *hr,
                                     struct chat_request *req, const char *token,
                                     struct encoder *enc);

/* The same for POST /v1/completions (takes ownership of *req). */
struct exchange *exchange_start_text(struct worker *w, struct http_request *hr,
                                     struct completion_request *req, const char *token);

/* Streaming body: copies up to max bytes; returns the count, 0 when nothing
 * is ready yet (the caller suspends), -1 at the end of the stream. */
ssize_t exchange_read(struct exchange *ex, char *out, size_t max);

/* The client went away, or the server is ending it (grace expired). */
void exchange_abort(struct exchange *ex, int shutting_down);

/* What a finished (or failing) exchange did, for metrics and logs. The
 * strings live as long as the exchange. */
struct exchange_summary {
  const char *model;         /* the name the client sent (validated) */
  int stream, stream_opened; /* asked for SSE; SSE headers were sent */
  long prompt_tokens, completion_tokens;
  const char *finish_reason; /* choice 0's, or NULL */
  const char *prediction_id; /* choice 0's, or NULL */
  int n_choices;
  int retries;               /* upstream calls made again */
  int failed;                /* ended in an error (in-band, once a stream is open) */
  uint64_t upstream_us;      /* first call to Replicate's start to the last one's end */
  const char *error_code;    /* the failure's error code (or type), also mid-stream, or NULL */
  const char *output;        /* log_bodies: choice 0's raw output (output_len bytes), or NULL */
  size_t output_len;
  int output_cut;            /* more came than ACCESS_LOG_BODY_MAX */
};
void exchange_summary(const struct exchange *ex, struct exchange_summary *s);

/* Stop all upstream work, cancel predictions still running, free. */
void exchange_free(struct exchange *ex);

/* What an exchange cost, for settlement (read before it is freed). */
struct exchange_outcome {
  long prompt_tokens, completion_tokens; /* as in the answer's usage */
  int estimated;          /* some count was not reported by Replicate */
  char *prediction_ids;   /* comma-separated, malloc'd (caller frees), or NULL */
  const char *finish_reason; /* the first choice's, or NULL; owned by the exchange */
  const char *id;         /* "chatcmpl-..." (owned by the exchange) */
  int n;                  /* predictions made */
  int stream;
};
/* 0, or -1 when out of memory. */
int exchange_outcome(const struct exchange *ex, struct exchange_outcome *o);

/* A create still in flight when its exchange was given up (a hang-up during a
 * `Prefer: wait` create can be the whole generation): it is left to finish
 * (up_orphan) so that its prediction is canceled, and what it made is told to
 * the settlement that waits on it. Lives with the create's transfer, then
 * with the list reads that look for a lost create's prediction. */
struct exchange_orphan;

/* What an orphaned create returned. */
struct exchange_created {
  const char *pred_id;      /* NULL: nothing was created (or it cannot be known) */
  const char *url_get;      /* where its final state is read, or NULL */
  long input_tokens, output_tokens; /* the reply's metrics, -1 absent */
  int terminal;             /* the reply was terminal: the counts above are final */
};
typedef void (*exchange_created_fn)(void *ctx, const struct exchange_created *r);

/* Have fn(ctx, ...) called once, on the worker's thread, when the create
 * returns. Never called when the worker is freed first (shutdown): the
 * waiter then settles on its own (final_usage_shutdown). */
void exchange_orphan_wait(struct exchange_orphan *o, exchange_created_fn fn, void *ctx);

/* Creates of ex handed to up_orphan whose outcome is still unknown. */
int exchange_creates_pending(const struct exchange *ex);

/* A prediction whose client hung up: its counts so far and where its final
 * state is read (Replicate reports the tokens a canceled prediction used once
 * it is terminal, which is after the exchange is freed). */
struct exchange_pred_usage {
  char *url_get;                /* malloc'd; NULL when the counts below are final */
  struct exchange_orphan *create; /* not NULL: its create is still in flight (url_get NULL) */
  long input_tokens, output_tokens;     /* as reported so far, -1 unknown */
  long input_estimate, output_estimate; /* from the prompt and the text seen */
};
/* Every created prediction of ex (and every create still in flight), and a
 * copy of its Replicate token (both malloc'd: free with
 * exchange_pred_usage_free). 0, or -1 out of memory. */
int exchange_pred_usage(const struct exchange *ex, struct exchange_pred_usage **out, size_t *n,
                        char **token);
void exchange_pred_usage_free(struct exchange_pred_usage *u, size_t n);

#endif
