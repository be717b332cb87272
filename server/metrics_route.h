/* GET /metrics and the request-level feed of shared/metrics.h: the HTTP
 * front calls metrics_note_begin/end once per request. */
#ifndef RP_METRICS_ROUTE_H
#define RP_METRICS_ROUTE_H

struct http_request;

/* The route handler (ROUTES in routes.c). */
void metrics_route_handle(struct http_request *hr, const char *subpath);

/* A request arrived / ended (before its exchange is freed). */
void metrics_note_begin(struct http_request *hr);
void metrics_note_end(struct http_request *hr);

#endif
