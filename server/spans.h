/* The spans of a request: the SERVER span (filled where a request ends,
 * request_end.c) and one CLIENT span per upstream call (upstream.c). Both
 * cost nothing while tracing is off (otlp_on() is 0). */
#ifndef RP_SPANS_H
#define RP_SPANS_H

#include "../shared/access_log.h"
#include "../shared/trace.h"

struct up_transfer;
struct up_request;

/* A request's context from its traceparent header (continued when valid,
 * else a new trace), with a new span id; left zero when tracing is off. */
void spans_request_begin(struct trace_ctx *t, const char *traceparent);

/* What the server span says beyond the access log's entry. */
struct server_span_info {
  const char *operation;      /* gen_ai.operation.name, or NULL (not a completion) */
  const char *http_route;     /* the route's path template, or NULL */
  const char *response_model; /* the Replicate model that answered, or NULL */
  int failed;                 /* ended in error though the status may be 200 (in-band) */
};
/* http.route of a known route's path: the path itself, but a model's own
 * (/v1/models/<id>) as its template, so span names stay few. */
const char *spans_route_template(const char *path);
/* lens: e's string lengths (the JSON access line measured them), or NULL:
 * the span measures them itself. */
void spans_request_end(const struct trace_ctx *t, const struct access_log_entry *e,
                       const struct access_log_lens *lens, const struct server_span_info *x);

/* An upstream call starts under parent (NULL: untraced): its own context,
 * and the traceparent header to send (out: TRACEPARENT_LEN + 1 bytes, ""
 * when none). */
void spans_upstream_begin(struct up_transfer *t, const struct trace_ctx *parent,
                          char *traceparent_out);
/* The context of the request t's call was made for (its span's parent),
 * in out; NULL when the call was not traced. For a cancel that follows a
 * create whose exchange is gone. */
const struct trace_ctx *spans_parent(const struct up_transfer *t, struct trace_ctx *out);
/* It ended (or was stopped, before curl finished it): emits its span. The
 * easy handle must still be attached. */
void spans_upstream_end(struct up_transfer *t, int stopped);

#endif
