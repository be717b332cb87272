/* The public store calls: each connection is one engine's (SQLite for a
 * file, PostgreSQL for a postgresql:// URL) and every call is forwarded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_engine.h"

struct store {
  struct store_sqlite *lite; /* exactly one of the two is set */
  struct store_pg *pg;
};

int store_path_is_pg(const char *path) {
  return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
}

struct store *store_open(const char *path, int busy_timeout_ms, char *err, size_t errlen) {
  struct store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (store_path_is_pg(path))
    s->pg = pg_store_open(path, busy_timeout_ms, err, errlen);
  else
    s->lite = sqlite_store_open(path, busy_timeout_ms, err, errlen);
  if (!s->pg && !s->lite) {
    free(s);
    return NULL;
  }
  return s;
}

void store_close(struct store *s) {
  if (!s)
    return;
  if (s->pg)
    pg_store_close(s->pg);
  else
    sqlite_store_close(s->lite);
  free(s);
}

/* Forward a call to the connection's engine. */
#define FORWARD(call, ...)                                                                \
  return s->pg ? pg_store_##call(s->pg, __VA_ARGS__) : sqlite_store_##call(s->lite, __VA_ARGS__)

int store_secret(struct store *s, unsigned char out[KEYS_SECRET_BYTES]) { FORWARD(secret, out); }

int64_t store_keys_version(struct store *s) {
  return s->pg ? pg_store_keys_version(s->pg) : sqlite_store_keys_version(s->lite);
}

int store_key_insert(struct store *s, const struct key_record *k) { FORWARD(key_insert, k); }
int store_key_update(struct store *s, const struct key_record *k) { FORWARD(key_update, k); }

int store_key_retoken(struct store *s, const char *old_token, const char *new_token,
                      const char *display) {
  FORWARD(key_retoken, old_token, new_token, display);
}

int store_key_delete(struct store *s, const char *token) { FORWARD(key_delete, token); }

int store_key_get(struct store *s, const char *token, struct key_record *k) {
  FORWARD(key_get, token, k);
}

int store_key_list(struct store *s, struct key_record **out, size_t *n) {
  FORWARD(key_list, out, n);
}

int store_key_spend(struct store *s, const char *token, int64_t since_ms, double *spend) {
  FORWARD(key_spend, token, since_ms, spend);
}

int store_key_spend_until(struct store *s, const char *token, int64_t since_ms,
                          int64_t until_ms, double *spend) {
  FORWARD(key_spend_until, token, since_ms, until_ms, spend);
}

int store_ledger_insert(struct store *s, const struct ledger_row *rows, size_t n) {
  FORWARD(ledger_insert, rows, n);
}

cJSON *store_spend_logs(struct store *s, const char *api_key, int64_t start_ms, int64_t end_ms) {
  FORWARD(spend_logs, api_key, start_ms, end_ms);
}

cJSON *store_spend_report(struct store *s, const char *group_by, int64_t start_ms,
                          int64_t end_ms) {
  FORWARD(spend_report, group_by, start_ms, end_ms);
}
