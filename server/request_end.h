/* What happens around every request for operations: its X-Request-Id, and
 * at its end the metrics and the one access log line (text or JSON). */
#ifndef RP_REQUEST_END_H
#define RP_REQUEST_END_H

#include "../shared/access_log.h"

struct http_request;

/* The client's id when well-formed (access_log_request_id_ok), else a new
 * "req_" + random one. */
void request_id_assign(char out[REQUEST_ID_MAX + 1], const char *client_value);

/* A request arrived (its head is read). */
void request_end_begin(struct http_request *hr);
/* It ended: called once, before its exchange is freed. */
void request_end_observe(struct http_request *hr);

#endif
