/* Replicate failures mapped to the OpenAI errors clients expect. */
#ifndef RP_UPSTREAM_ERROR_H
#define RP_UPSTREAM_ERROR_H

#include <stddef.h>

#include "oai_error.h"
#include "prediction.h"

/* A non-2xx HTTP reply (problem+json or anything else). retry_after is the
 * upstream Retry-After header value or NULL.
 * 401->401, 402->402, 404->404, 422->400 (with Replicate's detail),
 * 429->429 (+Retry-After), other 4xx->400/same, 5xx->502. */
void upstream_error_from_http(int status, const char *body, size_t len,
                              const char *retry_after, struct oai_error *out);

/* A prediction that ended failed, canceled or aborted: 502 with its error. */
void upstream_error_from_prediction(const struct prediction *p,
                                    struct oai_error *out);

#endif
