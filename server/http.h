/* The HTTP/1.1 front (server/http.c): connections, request heads and bodies,
 * replies (JSON or SSE), keep-alive, deadlines; routes_dispatch is called
 * once a request's head and body are complete. */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../shared/access_log.h"
#include "../shared/buf.h"
#include "../shared/oai_error.h"
#include "../shared/trace.h"
#include "worker.h"

struct exchange;

/* Start accepting on the worker's listening sockets (made by main). */
int http_start(struct worker *w);
/* Stop accepting new connections (shutdown begins). */
void http_stop_accepting(struct worker *w);
/* Shutdown grace is over: tell every running exchange to end now. */
void http_end_requests(struct worker *w);
/* Hard stop: whatever still runs ends as "client gone" in http_free. */
void http_resume_all(struct worker *w);
/* Close every connection (ending its request) and the listeners. */
void http_free(struct worker *w);
/* Run connections woken during the loop's last batch (answers ready,
 * pipelined requests); called by the worker loop after each batch. */
void http_run(struct worker *w);
/* 0 when http_run has work, else -1 (the loop's timers do the rest). */
int http_timeout_ms(struct worker *w);

/* ---- what route handlers and exchanges may ask of a request ---- */

#define HTTP_PATH_MAX 256

/* A response header added by a handler (rate-limit headers, CORS, Allow). */
struct http_header {
  struct http_header *next;
  const char *name, *value; /* point into data */
  char data[];
};

const char *http_request_method(const struct http_request *hr);
/* A HEAD request (routes see it as GET; the front sends no body). */
int http_request_is_head(const struct http_request *hr);
/* The path without the query string. */
const char *http_request_path(const struct http_request *hr);
struct worker *http_request_worker(const struct http_request *hr);
/* The request's X-Request-Id (the client's when well-formed, else
 * generated); also on the reply, to Replicate and in the log. */
const char *http_request_id(const struct http_request *hr);
/* Its trace context (from the client's traceparent, or new); zeros while
 * tracing is off. Upstream calls are children of its span. */
const struct trace_ctx *http_request_trace(const struct http_request *hr);
/* A non-JSON reply body's type (static string), e.g. /metrics' text. */
void http_request_set_content_type(struct http_request *hr, const char *type);
/* The gateway key's alias (never the key), set at settlement for the
 * access log; NULL when none. */
void http_request_set_key_alias(struct http_request *hr, const char *alias);
const char *http_request_key_alias(const struct http_request *hr);
/* The configuration this request runs under (fixed for its whole life). */
const struct config *http_request_config(const struct http_request *hr);
/* The complete body (never NULL; may contain NULs). */
const char *http_request_body(const struct http_request *hr, size_t *len);
/* A request header by case-insensitive name, or NULL. */
const char *http_request_header(const struct http_request *hr, const char *name);
/* A decoded query-string argument, or NULL. */
const char *http_request_query(const struct http_request *hr, const char *name);
/* The client's numeric address; -1 when unknown. */
int http_request_client_addr(const struct http_request *hr, char *out, size_t len);
/* Add a header to the reply, JSON or stream (sent with the first byte);
 * copies name and value. -1 when out of memory. */
int http_request_add_header(struct http_request *hr, const char *name, const char *value);
/* The exchange now answering this request; freed when the request ends. */
void http_request_attach(struct http_request *hr, struct exchange *ex);

/* How a request ended, for settlement and logs. */
struct http_request_end {
  int status;             /* the HTTP status sent (200 for streams) */
  int client_gone;        /* the client hung up before the end */
  uint64_t started_ms;    /* loop_now_ms() clock */
  uint64_t first_byte_ms; /* 0: nothing was sent */
  struct exchange *ex;    /* still alive during the callback, or NULL */
  const char *error_code; /* an error object answered (its code, or type), or NULL */
};
typedef void (*http_done_fn)(struct http_request *hr, void *ctx);
/* Called exactly once when the request ends (answered, failed or the client
 * gone), before its exchange is freed; ctx is the handler's to free. */
void http_request_on_done(struct http_request *hr, http_done_fn fn, void *ctx);
struct http_request_end http_request_end_info(const struct http_request *hr);

/* New response data or state: the connection runs after this batch. */
void http_request_wake(struct http_request *hr);
/* Answer with a JSON body (takes ownership of body). */
void http_request_respond(struct http_request *hr, int status, char *body);
void http_request_respond_error(struct http_request *hr, const struct oai_error *e);
/* A dialect's error body for e (malloc'd; may change *status), or NULL for
 * the OpenAI shape. Set by a handler before anything can fail. */
typedef char *(*http_error_format_fn)(const struct oai_error *e, int *status);
void http_request_set_error_format(struct http_request *hr, http_error_format_fn fn);
/* Switch to an SSE response; the exchange then feeds exchange_read. */
void http_request_open_stream(struct http_request *hr);

#endif
