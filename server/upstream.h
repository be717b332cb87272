/* The upstream HTTP client: one libcurl multi handle per worker, driven by
 * the worker's loop (socket and timer callbacks). Connections are reused
 * across requests. A transfer either buffers the reply body or hands each
 * piece to a data callback (SSE). */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <curl/curl.h>

#include "../shared/buf.h"
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
  int n_idle;
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
};

struct up_transfer {
  CURL *easy; /* non-NULL while running */
  struct up_client *client;
  struct curl_slist *headers;
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
};

int up_client_init(struct up_client *c, struct loop *l, const char *upstream,
                   long connect_timeout_ms);
/* Owned transfers must have been stopped; detached ones still running are
 * stopped and freed here. */
void up_client_free(struct up_client *c);

void up_transfer_init(struct up_transfer *t, up_done_cb done, up_data_cb on_data,
                      void *ud);
/* Start; 0 or -1 (then t->error says why and done is not called). */
int up_start(struct up_client *c, struct up_transfer *t, const struct up_request *r);
int up_running(const struct up_transfer *t);
/* Stop a running transfer without calling done; frees its resources. */
void up_stop(struct up_transfer *t);
/* Release the body buffer too (after up_stop or done). */
void up_transfer_free(struct up_transfer *t);

/* Fire-and-forget POST (e.g. cancel): the transfer owns itself. */
int up_post_detached(struct up_client *c, const char *url, const char *token);
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
