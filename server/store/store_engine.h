/* The engines behind store.h. store.c picks one per connection from the
 * path (a postgresql:// URL or a file) and forwards each call; every engine
 * implements the same calls, with its own connection type. */
#ifndef RP_STORE_ENGINE_H
#define RP_STORE_ENGINE_H

#include "store.h"

/* Declares one engine's calls: prefix P, connection type T (see store.h). */
#define STORE_ENGINE_CALLS(P, T)                                                          \
  T *P##open(const char *path, int busy_timeout_ms, char *err, size_t errlen);            \
  void P##close(T *s);                                                                    \
  int P##secret(T *s, unsigned char out[KEYS_SECRET_BYTES]);                              \
  int64_t P##keys_version(T *s);                                                          \
  int P##key_insert(T *s, const struct key_record *k);                                    \
  int P##key_update(T *s, const struct key_record *k);                                    \
  int P##key_retoken(T *s, const char *old_token, const char *new_token,                  \
                     const char *display);                                                \
  int P##key_delete(T *s, const char *token);                                             \
  int P##key_get(T *s, const char *token, struct key_record *k);                          \
  int P##key_list(T *s, struct key_record **out, size_t *n);                              \
  int P##key_spend(T *s, const char *token, int64_t since_ms, double *spend);             \
  int P##key_spend_until(T *s, const char *token, int64_t since_ms, int64_t until_ms,     \
                         double *spend);                                                  \
  int P##ledger_insert(T *s, const struct ledger_row *rows, size_t n);                    \
  cJSON *P##spend_logs(T *s, const char *api_key, int64_t start_ms, int64_t end_ms);      \
  cJSON *P##spend_report(T *s, const char *group_by, int64_t start_ms, int64_t end_ms);

struct store_sqlite;
struct store_pg;
STORE_ENGINE_CALLS(sqlite_store_, struct store_sqlite)
STORE_ENGINE_CALLS(pg_store_, struct store_pg)

#endif
