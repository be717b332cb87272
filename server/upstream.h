/* The upstream HTTP client: one libcurl multi handle per worker, driven by
 * the worker's loop (socket and timer callbacks). Connections are reused
 * across requests. A transfer either buffers the reply body or hands each
 * piece to a data callback (SSE). */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <curl/curl.h>

#include "../shared/access_log.h" /* REQUEST_ID_MAX */
#include "../shared/buf.h"
#include "../shared/circuit.h"
#include "../shared/metrics.h"
#include "../shared/trace.h"
#include "loop.h"

struct up_client {
  struct loop *loop;
  CURLM *multi;
  struct loop_timer timer;
  long connect_timeout_ms;
  const char *upstream; /* base URL: its host gets the Authorization header */
  int running;
  struct up_transfer *detached; /* fire-and-forget transfers still running */
  CURL *idle[64]; /* easy handles kept for reuse (creating one is costly) */
  unsigned char idle_profile[64]; /* the options each was last set up for */
  int n_idle;
  CURLSH *share;       /* TLS sessions and DNS shared by every transfer */
  const char *ca_file; /* PEM CA bundle for every transfer, or NULL/"" */
  int capped;          /* per-host connection cap on (HTTP/2 hosts only) */
  long host_cap;       /* CURLMOPT_MAX_HOST_CONNECTIONS as last set, while capped */
  int no_env_proxy;    /* no proxy variable in the environment: curl need not look */
  struct metrics_block *metrics; /* the worker's; NULL = not counted */
  struct circuit *circuit;      /* creates at Replicate: the process's (circuit_global) */
  struct up_socket **socks;     /* by fd: sockets curl opened through up_sockets.c */
  size_t n_socks;
  long n_conns;     /* sockets open through up_sockets.c: connections */
  long n_parked;    /* of those, in curl's pool (no transfer polls them) */
  long n_in_multi;  /* transfers added to the multi handle */
  long maxconnects; /* CURLMOPT_MAXCONNECTS as last set */
  /* Create URLs parsed once: from a URL string curl parses and rebuilds the
   * URL on every transfer (~7k instructions). Kept until up_client_free, as
   * a running transfer may still read its own. */
  struct up_parsed_url {
    char *url;
    CURLU *u;
  } parsed[8];
  int n_parsed;
};

struct up_transfer;
/* Called once when the transfer ends (success or failure); the easy handle
 * is already released. The callback may start a new transfer on t. */
typedef void (*up_done_cb)(struct up_transfer *t);
/* Streaming body data of a 2xx reply (other replies are buffered in body);
 * return 0 to go on, -1 to end the transfer now
 * (the done callback then runs with result CURLE_WRITE_ERROR, aborted=1). */
typedef int (*up_data_cb)(struct up_transfer *t, const char *data, size_t len);

struct up_request {
  const char *method; /* "GET" or "POST" */
  const char *url;
  const char *body;   /* POST body (JSON) or NULL */
  const char *token;  /* Replicate token, or NULL */
  int prefer_wait;    /* send Prefer: wait */
  int sse;            /* Accept: text/event-stream */
  long timeout_ms;    /* whole transfer; 0 = none */
  int no_resend;      /* never send it twice (creates: each one is paid) */
  size_t max_body;    /* bound on a buffered body; 0 = none */
  const char *request_id; /* sent as X-Request-Id, or NULL */
  const struct trace_ctx *trace; /* the request's span: this call is its child, or NULL */
  int resend_count;   /* for the span: times this call was made before */
};

struct up_retry;

#define UP_MAX_HEADERS 10

struct up_transfer {
  CURL *easy; /* non-NULL while running */
  struct up_client *client;
  curl_socket_t sock; /* the connection's socket, once curl registered it for this transfer */
  /* The request's headers: slist nodes owned here, never by curl (which
   * only reads them), their text literals or in hdr_text: no malloc per
   * header per call. */
  struct curl_slist *headers;
  struct curl_slist hdr_nodes[UP_MAX_HEADERS];
  struct buf hdr_text; /* Authorization, X-Request-Id, traceparent lines */
  size_t hdr_secret;   /* leading bytes of hdr_text holding the token (wiped) */
  up_done_cb done;
  up_data_cb on_data; /* NULL: the body is buffered in body */
  void *ud;
  struct buf body;
  long status;       /* HTTP status, 0 when none arrived */
  CURLcode result;
  int aborted_by_callback;
  char retry_after[32];
  char error[CURL_ERROR_SIZE];
  struct up_transfer *next, *prev; /* in client->detached */
  up_done_cb then;   /* up_orphan: runs before a detached transfer is freed */
  char *owned;       /* up_orphan: freed with the transfer */
  int sends;         /* times the request was about to go out on a connection */
  int resend_refused; /* curl wanted to send it again: refused (no_resend) */
  int too_large;     /* the buffered body passed max_body: cut off */
  int os_errno;      /* errno of a failed connect, for up_result_phrase */
  size_t max_body;
  int no_resend;
  int want_pause;    /* up_pause(t, 1): the owner has no room for more data */
  int paused;        /* curl holds the transfer paused */
  int in_write;      /* inside on_write (curl_easy_pause must wait) */
  struct up_retry *retry; /* detached POSTs that retry (cancels) */
  int version_seen;  /* the reply's HTTP version was checked */
  enum metrics_up_kind kind; /* for metrics: what this call is */
  uint64_t started_us;       /* monotonic, when it started */
  long timeout_ms;           /* the request's own deadline (0: none) */
  int connect_timed_out;     /* connect_timeout passed before anything was sent */
  struct trace_ctx span;     /* this call's span (spans.c), when tracing */
  int resend_count;
  char request_id[REQUEST_ID_MAX + 1]; /* its request's, for log lines ("" = none) */
  int in_multi;              /* added to the client's multi handle */
  unsigned char profile;     /* the options that stay on its handle (upstream.c) */
  CURLU *own_url;            /* its URL parsed for it (not a create's cached one) */
};

int up_client_init(struct up_client *c, struct loop *l, const char *upstream,
                   long connect_timeout_ms);
/* Trust the CAs in this PEM file (upstream_ca_file) for every transfer:
 * creates, polls, streams on any host, cancels, lists. The string must
 * outlive the client. Verification always stays on. */
void up_client_set_ca(struct up_client *c, const char *ca_file);
/* Owned transfers must have been stopped; detached ones still running are
 * stopped and freed here. */
void up_client_free(struct up_client *c);
/* Hand finished transfers to their callbacks (after curl_multi_socket_action). */
void up_client_drain(struct up_client *c);

void up_transfer_init(struct up_transfer *t, up_done_cb done, up_data_cb on_data,
                      void *ud);
/* Start; 0 or -1 (then t->error says why and done is not called). */
int up_start(struct up_client *c, struct up_transfer *t, const struct up_request *r);
int up_running(const struct up_transfer *t);
/* The transfer failed to get a connection (refused, unreachable, or
 * connect_timeout, e.g. a TLS handshake never answered) before anything was
 * sent: trying again cannot repeat anything. */
int up_connect_failed(const struct up_transfer *t);
/* Stop a running transfer without calling done; frees its resources. */
void up_stop(struct up_transfer *t);
/* Release the body buffer too (after up_stop or done). */
void up_transfer_free(struct up_transfer *t);

/* Fire-and-forget POST (a cancel): the transfer owns itself (and a copy of
 * url, token and trace, the span it is a child of, or NULL). A failure that may be transient (no answer, 429, 5xx) is
 * retried with backoff a few times; each failure is logged naming label
 * (the prediction id), the last one as an error. */
int up_post_detached(struct up_client *c, const char *url, const char *token,
                     const char *label, const struct trace_ctx *trace);

/* Back-pressure on a streaming transfer: pause (1) stops reading from
 * Replicate until resume (0). Safe from any callback but on_data itself
 * (there, pausing takes effect with the next piece). */
void up_pause(struct up_transfer *t, int pause);

/* Client-facing words for a failed transfer ("connection refused",
 * "connection reset"...): curl's own message names the host and port, so it
 * goes to the log only. */
const char *up_result_phrase(const struct up_transfer *t);

/* The reply's Retry-After in ms (delta-seconds only, capped at a minute),
 * or -1 when absent or unusable. */
long up_retry_after_ms(const struct up_transfer *t);

/* Did the request possibly reach Replicate without an answer coming back
 * (sent, then reset/empty reply, or a re-send that no_resend refused)? */
int up_fate_unknown(const struct up_transfer *t);
/* Hand a running, malloc'd transfer over to the client: when it ends,
 * then(t) runs (t->owned is the caller's string, e.g. a token) and the
 * transfer is freed. Used for creates whose exchange is gone: the
 * prediction they make must still be canceled. */
void up_orphan(struct up_transfer *t, up_done_cb then, char *owned);

/* How many detached transfers are still running. */
int up_detached_count(const struct up_client *c);

/* Is this a curl result for a connection that never got made? */
int up_result_is_unreachable(CURLcode rc);

#endif
