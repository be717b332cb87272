/* The Responses API encoder (see encoder.h). */
#ifndef RP_RESPONSES_ENCODER_H
#define RP_RESPONSES_ENCODER_H

#include "encoder.h"

struct cJSON;

/* Takes ownership of history (the conversation so far, Chat Completions
 * messages): with store, the completed response is remembered under its id
 * in scope (the caller's key, see response_store.h) for
 * previous_response_id. 0, or -1 when out of memory. */
int encoder_responses(struct encoder *e, struct cJSON *history, int store, const char *scope);

#endif
