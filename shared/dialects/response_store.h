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
#define RESPONSE_SCOPE_MAX 65 /* a key's token (hex SHA-256) and its NUL */

/* Every entry belongs to a scope (the caller's key, as the gateway names it:
 * see gateway_scope): another key that learns a resp_ id cannot continue
 * that conversation or read its items. */

/* Copies scope, id and json. 0, or -1 when out of memory or too big to keep. */
int response_store_put(const char *scope, const char *id, const char *json, size_t len);
/* A malloc'd copy of the JSON text stored under id in scope, or NULL
 * (unknown there, or out of memory: *oom then says which). */
char *response_store_get(const char *scope, const char *id, int *oom);
/* Forget everything (tests, shutdown). */
void response_store_clear(void);

#endif
