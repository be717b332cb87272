/* The route table and its handlers: what each API path does. The HTTP
 * front (http.c) only moves bytes; it calls routes_dispatch once a
 * request's head and body are complete. */
#ifndef RP_ROUTES_H
#define RP_ROUTES_H

#include "http.h"

struct http_request;

/* Answer or start the request (exactly one of: a reply set through
 * http_request_respond*, a stream opened, or an exchange attached). */
void routes_dispatch(struct http_request *hr);
/* Run the request's route handler again, without the browser checks that
 * routes_dispatch made already (their headers are set): the gateway's
 * resumption once the shared limits (Redis) answered. */
void routes_redispatch(struct http_request *hr);

/* The 404 for an unknown path, naming the paths this server serves. */
void routes_respond_not_found(struct http_request *hr);

/* The error shape a path's clients expect (Anthropic's under /v1/messages),
 * or NULL for OpenAI's. */
http_error_format_fn routes_error_format(const char *path);

#endif
