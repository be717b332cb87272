/* Responses this proxy created, kept so a later request can continue one
 * with previous_response_id: the conversation so far as a Chat Completions
 * `messages` array (JSON text). Bounded in memory (RESPONSE_STORE_MAX
 * entries and RESPONSE_STORE_MAX_BYTES; the oldest go first) and shared by
 * every worker thread (one mutex; each call copies, never blocks on I/O). */
#ifndef RP_RESPONSE_STORE_H
#define RP_RESPONSE_STORE_H

#include <stddef.h>

#define RESPONSE_STORE_MAX 1000
#define RESPONSE_STORE_MAX_BYTES (64u << 20)

/* Copies id and json. 0, or -1 when out of memory or too big to keep. */
int response_store_put(const char *id, const char *json, size_t len);
/* A malloc'd copy of the stored JSON text, or NULL (unknown id, or out of
 * memory: *oom then says which). */
char *response_store_get(const char *id, int *oom);
/* Forget everything (tests, shutdown). */
void response_store_clear(void);

#endif
