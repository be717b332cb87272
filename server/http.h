/* The HTTP front: libmicrohttpd callbacks, the route table, request bodies,
 * suspend/resume, and the one place where a request is authorized. */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "../shared/buf.h"
#include "../shared/oai_error.h"
#include "worker.h"

struct exchange;

/* Start the worker's daemon on its listening socket (made by main). */
int http_start(struct worker *w);
/* Stop accepting new connections (shutdown begins). */
void http_stop_accepting(struct worker *w);
/* Shutdown grace is over: tell every running exchange to end now. */
void http_end_requests(struct worker *w);
/* Resume every suspended connection (before http_free). */
void http_resume_all(struct worker *w);
/* Free the daemon; all requests must be gone. */
void http_free(struct worker *w);
/* Run libmicrohttpd's pending work; called by the worker loop. */
void http_run(struct worker *w);
/* Milliseconds until libmicrohttpd needs to run again, or -1. */
int http_timeout_ms(struct worker *w);

/* ---- what an exchange may ask of its request ---- */

/* New response data or state: resume the connection if it is suspended. */
void http_request_wake(struct http_request *hr);
/* Answer with a JSON body (takes ownership of body). */
void http_request_respond(struct http_request *hr, int status, char *body);
void http_request_respond_error(struct http_request *hr, const struct oai_error *e);
/* Switch to an SSE response; the exchange then feeds exchange_read. */
void http_request_open_stream(struct http_request *hr);

#endif
