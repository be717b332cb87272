/* Storage for the team gateway: keys, the spend ledger and the database's
 * secret, behind one interface. store_sqlite.c is the embedded engine (the
 * only file that knows SQL); shared engines can implement the same calls.
 * A `struct store` is one connection: use it from one thread at a time
 * (each thread that needs the database opens its own). */
#ifndef RP_STORE_H
#define RP_STORE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "../../shared/keys.h"
#include "../ledger.h"

struct store;

/* A key as stored (never the key itself: its token is the keyed hash). */
struct key_record {
  char token[KEYS_TOKEN_LEN + 1];
  char display[KEYS_DISPLAY_MAX];
  char *key_alias;       /* NULL = none */
  char *models;          /* JSON array text; NULL = all models */
  char *metadata;        /* JSON object text; NULL = {} */
  char *budget_duration; /* "30d" as given; NULL = never resets */
  double max_budget;     /* < 0 = none */
  int64_t budget_reset_at_ms; /* 0 = none */
  int64_t expires_ms;         /* 0 = never */
  long rpm_limit, tpm_limit, max_parallel_requests; /* 0 = none */
  int blocked;
  int64_t created_ms;
};
void key_record_free(struct key_record *k);

/* Open (creating) the database file: WAL, a busy timeout, the schema.
 * NULL with a message in err (no secrets in it). */
struct store *store_open(const char *path, int busy_timeout_ms, char *err, size_t errlen);
void store_close(struct store *s);
/* 1 when path is a postgresql:// URL (store_pg.c) rather than a file. */
int store_path_is_pg(const char *path);

/* The per-database HMAC secret (made on first use). 0 or -1. */
int store_secret(struct store *s, unsigned char out[KEYS_SECRET_BYTES]);

/* Changes to the keys by any connection: a counter that grows. -1 on error. */
int64_t store_keys_version(struct store *s);

/* 0, 1 when a key with this token exists already, -1 on error. */
int store_key_insert(struct store *s, const struct key_record *k);
/* Replace every field of the record with this token. 0, 1 unknown, -1 error. */
int store_key_update(struct store *s, const struct key_record *k);
/* Give a key a new token (regenerate), its ledger rows too: 0, 1 unknown, -1 error. */
int store_key_retoken(struct store *s, const char *old_token, const char *new_token,
                      const char *display);
/* 0, 1 unknown, -1 error. */
int store_key_delete(struct store *s, const char *token);
/* 0 with *k filled, 1 unknown, -1 error. */
int store_key_get(struct store *s, const char *token, struct key_record *k);
/* Every key, oldest first: a malloc'd array (free each and the array). 0 or -1. */
int store_key_list(struct store *s, struct key_record **out, size_t *n);

/* Sum of a key's spend in rows that started at or after since_ms. */
int store_key_spend(struct store *s, const char *token, int64_t since_ms, double *spend);
/* The same, of the rows that also ended at or before until_ms (a budget's
 * start in Redis: later ends are counted there as they settle). */
int store_key_spend_until(struct store *s, const char *token, int64_t since_ms,
                          int64_t until_ms, double *spend);

/* Insert rows in one transaction. 0 or -1 (nothing inserted). */
int store_ledger_insert(struct store *s, const struct ledger_row *rows, size_t n);

/* Ledger rows as JSON objects (LiteLLM's SpendLogs names), oldest first;
 * api_key NULL = all; dates are unix ms, 0 = unbounded. NULL on error. */
cJSON *store_spend_logs(struct store *s, const char *api_key, int64_t start_ms, int64_t end_ms);

/* Totals per group (group_by "api_key" or "model"): [{group, requests,
 * prompt_tokens, completion_tokens, total_tokens, spend}]. NULL on error. */
cJSON *store_spend_report(struct store *s, const char *group_by, int64_t start_ms,
                          int64_t end_ms);

#endif
