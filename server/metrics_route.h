/* GET /metrics on the main port (404 there when metrics_listen is set): the sum of every worker's block (shared/metrics.h) and
 * process figures; the request-level feed is in request_end.c. */
#ifndef RP_METRICS_ROUTE_H
#define RP_METRICS_ROUTE_H

#include "../shared/buf.h"

struct http_request;

/* The whole exposition text (every worker's block, the process figures).
 * Thread-safe: the metrics_listen thread calls it too. 0, or -1 (OOM). */
int metrics_route_render(struct buf *out);

/* The route handler (ROUTES in routes.c). */
void metrics_route_handle(struct http_request *hr, const char *subpath);

#endif
