/* GET /metrics: the sum of every worker's block (shared/metrics.h) and
 * process figures; the request-level feed is in request_end.c. */
#ifndef RP_METRICS_ROUTE_H
#define RP_METRICS_ROUTE_H

struct http_request;

/* The route handler (ROUTES in routes.c). */
void metrics_route_handle(struct http_request *hr, const char *subpath);

#endif
