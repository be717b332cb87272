/* The embedded store: one SQLite file in WAL mode. The only file that
 * knows SQL. */
#include "store_sqlite_names.h" /* this file is the sqlite_store_ engine */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shared/keys.h"
#include "store.h"

struct store {
  sqlite3 *db;
  /* The ledger's statements, prepared at its first batch and kept: parsing
   * them again for each batch cost as much as a row's insert. */
  sqlite3_stmt *ledger_begin, *ledger_insert, *ledger_insert_many, *ledger_commit;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value);"
    "INSERT OR IGNORE INTO meta VALUES('keys_version', 0);"
    "CREATE TABLE IF NOT EXISTS keys("
    " token TEXT PRIMARY KEY, display TEXT NOT NULL, key_alias TEXT, models TEXT,"
    " metadata TEXT, budget_duration TEXT, max_budget REAL, budget_reset_at INTEGER,"
    " expires INTEGER, rpm_limit INTEGER, tpm_limit INTEGER, max_parallel_requests INTEGER,"
    " blocked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS spend_logs("
    " id INTEGER PRIMARY KEY, request_id TEXT, api_key TEXT, key_alias TEXT, route TEXT,"
    " model TEXT, upstream_model TEXT, stream INTEGER, n INTEGER, status INTEGER,"
    " error_code TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
    " tokens_estimated INTEGER, spend REAL, startTime INTEGER, endTime INTEGER,"
    " completionStartTime INTEGER, prediction_ids TEXT, finish_reason TEXT, user TEXT,"
    " requester_ip_address TEXT);"
    "CREATE INDEX IF NOT EXISTS spend_logs_key_time ON spend_logs(api_key, startTime);"
    "CREATE INDEX IF NOT EXISTS spend_logs_time ON spend_logs(startTime);"
    /* Any change to keys, by any process, bumps the version the snapshot polls. */
    "CREATE TRIGGER IF NOT EXISTS keys_ins AFTER INSERT ON keys BEGIN"
    " UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;"
    "CREATE TRIGGER IF NOT EXISTS keys_upd AFTER UPDATE ON keys BEGIN"
    " UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;"
    "CREATE TRIGGER IF NOT EXISTS keys_del AFTER DELETE ON keys BEGIN"
    " UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;";

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *db) {
  if (err && errlen)
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Before SQLite starts: no memory statistics, whose global mutex every one
 * of its allocations took (a ledger row's insert locked it ~20 times). */
static void sqlite_setup(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

struct store *store_open(const char *path, int busy_timeout_ms, char *err, size_t errlen) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sqlite_setup);
  struct store *s = calloc(1, sizeof *s);
  if (!s) {
    set_err(err, errlen, "cannot open the database", NULL);
    return NULL;
  }
  /* Keys' hashes, the HMAC secret, spend and client addresses: a new file
   * is readable by its owner only (SQLite gives its WAL the same mode). */
  if (strcmp(path, ":memory:") != 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
      close(fd);
  }
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(s->db, busy_timeout_ms);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                      NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(s->db, SCHEMA, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    char what[512];
    snprintf(what, sizeof what, "cannot open the database %s", path);
    set_err(err, errlen, what, s->db);
    store_close(s);
    return NULL;
  }
  return s;
}

void store_close(struct store *s) {
  if (!s)
    return;
  sqlite3_finalize(s->ledger_begin); /* NULL is a no-op */
  sqlite3_finalize(s->ledger_insert);
  sqlite3_finalize(s->ledger_insert_many);
  sqlite3_finalize(s->ledger_commit);
  sqlite3_close(s->db);
  free(s);
}

void key_record_free(struct key_record *k) {
  free(k->key_alias);
  free(k->models);
  free(k->metadata);
  free(k->budget_duration);
  memset(k, 0, sizeof *k);
}

static sqlite3_stmt *prepare(struct store *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return NULL;
  return st;
}

/* Step a statement that returns no rows; finalizes it. 0 or -1. */
static int run(sqlite3_stmt *st) {
  if (!st)
    return -1;
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

int store_secret(struct store *s, unsigned char out[KEYS_SECRET_BYTES]) {
  unsigned char fresh[KEYS_SECRET_BYTES];
  if (keys_random(fresh, sizeof fresh) != 0)
    return -1;
  /* Whoever inserts first wins; everyone then reads the same secret. */
  sqlite3_stmt *st = prepare(s, "INSERT OR IGNORE INTO meta VALUES('secret', ?)");
  if (st)
    sqlite3_bind_blob(st, 1, fresh, sizeof fresh, SQLITE_STATIC);
  int rc = run(st);
  memset(fresh, 0, sizeof fresh);
  if (rc != 0)
    return -1;
  st = prepare(s, "SELECT value FROM meta WHERE name = 'secret'");
  rc = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_bytes(st, 0) == KEYS_SECRET_BYTES) {
    memcpy(out, sqlite3_column_blob(st, 0), KEYS_SECRET_BYTES);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

int64_t store_keys_version(struct store *s) {
  sqlite3_stmt *st = prepare(s, "SELECT value FROM meta WHERE name = 'keys_version'");
  int64_t v = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* ---- keys ---- */

#define KEY_COLUMNS                                                                     \
  "token, display, key_alias, models, metadata, budget_duration, max_budget,"           \
  " budget_reset_at, expires, rpm_limit, tpm_limit, max_parallel_requests, blocked,"    \
  " created_at"

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v) {
  if (v)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

/* Binds the record as parameters 1..14, in KEY_COLUMNS order. */
static void bind_key(sqlite3_stmt *st, const struct key_record *k) {
  bind_text(st, 1, k->token);
  bind_text(st, 2, k->display);
  bind_text(st, 3, k->key_alias);
  bind_text(st, 4, k->models);
  bind_text(st, 5, k->metadata);
  bind_text(st, 6, k->budget_duration);
  if (k->max_budget >= 0)
    sqlite3_bind_double(st, 7, k->max_budget);
  else
    sqlite3_bind_null(st, 7);
  bind_int(st, 8, k->budget_reset_at_ms);
  bind_int(st, 9, k->expires_ms);
  bind_int(st, 10, k->rpm_limit);
  bind_int(st, 11, k->tpm_limit);
  bind_int(st, 12, k->max_parallel_requests);
  sqlite3_bind_int(st, 13, k->blocked);
  sqlite3_bind_int64(st, 14, k->created_ms);
}

static char *column_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

static int read_key(sqlite3_stmt *st, struct key_record *k) {
  memset(k, 0, sizeof *k);
  snprintf(k->token, sizeof k->token, "%s", (const char *)sqlite3_column_text(st, 0));
  snprintf(k->display, sizeof k->display, "%s", (const char *)sqlite3_column_text(st, 1));
  int oom = 0;
  char **strs[] = {&k->key_alias, &k->models, &k->metadata, &k->budget_duration};
  for (int i = 0; i < 4; i++) {
    *strs[i] = column_dup(st, 2 + i);
    oom |= !*strs[i] && sqlite3_column_type(st, 2 + i) != SQLITE_NULL;
  }
  k->max_budget = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 6);
  k->budget_reset_at_ms = sqlite3_column_int64(st, 7);
  k->expires_ms = sqlite3_column_int64(st, 8);
  k->rpm_limit = (long)sqlite3_column_int64(st, 9);
  k->tpm_limit = (long)sqlite3_column_int64(st, 10);
  k->max_parallel_requests = (long)sqlite3_column_int64(st, 11);
  k->blocked = sqlite3_column_int(st, 12);
  k->created_ms = sqlite3_column_int64(st, 13);
  if (oom) {
    key_record_free(k);
    return -1;
  }
  return 0;
}

int store_key_insert(struct store *s, const struct key_record *k) {
  sqlite3_stmt *st = prepare(s, "INSERT INTO keys (" KEY_COLUMNS
                                ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st)
    return -1;
  bind_key(st, k);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? 1 : -1;
}

static int changed(struct store *s, int rc) {
  return rc != 0 ? -1 : sqlite3_changes(s->db) ? 0 : 1;
}

int store_key_update(struct store *s, const struct key_record *k) {
  sqlite3_stmt *st = prepare(
      s, "UPDATE keys SET display = ?2, key_alias = ?3, models = ?4, metadata = ?5,"
         " budget_duration = ?6, max_budget = ?7, budget_reset_at = ?8, expires = ?9,"
         " rpm_limit = ?10, tpm_limit = ?11, max_parallel_requests = ?12, blocked = ?13,"
         " created_at = ?14 WHERE token = ?1");
  if (st)
    bind_key(st, k);
  return changed(s, run(st));
}

int store_key_retoken(struct store *s, const char *old_token, const char *new_token,
                      const char *display) {
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return -1;
  sqlite3_stmt *st = prepare(s, "UPDATE keys SET token = ?2, display = ?3 WHERE token = ?1");
  if (st) {
    bind_text(st, 1, old_token);
    bind_text(st, 2, new_token);
    bind_text(st, 3, display);
  }
  int rc = changed(s, run(st));
  /* The key's history follows it: its spend and budget carry over. */
  if (rc == 0) {
    st = prepare(s, "UPDATE spend_logs SET api_key = ?2 WHERE api_key = ?1");
    if (st) {
      bind_text(st, 1, old_token);
      bind_text(st, 2, new_token);
    }
    rc = run(st);
  }
  if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
    return 0;
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc == 1 ? 1 : -1;
}

int store_key_delete(struct store *s, const char *token) {
  sqlite3_stmt *st = prepare(s, "DELETE FROM keys WHERE token = ?");
  if (st)
    bind_text(st, 1, token);
  return changed(s, run(st));
}

int store_key_get(struct store *s, const char *token, struct key_record *k) {
  sqlite3_stmt *st = prepare(s, "SELECT " KEY_COLUMNS " FROM keys WHERE token = ?");
  if (!st)
    return -1;
  bind_text(st, 1, token);
  int rc = sqlite3_step(st);
  int out = rc == SQLITE_ROW ? read_key(st, k) : rc == SQLITE_DONE ? 1 : -1;
  sqlite3_finalize(st);
  return out;
}

int store_key_list(struct store *s, struct key_record **out, size_t *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = prepare(s, "SELECT " KEY_COLUMNS " FROM keys ORDER BY created_at, token");
  if (!st)
    return -1;
  size_t cap = 0;
  int rc, failed = 0;
  while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct key_record *grown = realloc(*out, ncap * sizeof **out);
      if (!grown) {
        failed = 1;
        break;
      }
      *out = grown;
      cap = ncap;
    }
    if (read_key(st, &(*out)[*n]) != 0)
      failed = 1;
    else
      (*n)++;
  }
  if (!failed && rc != SQLITE_DONE)
    failed = 1;
  sqlite3_finalize(st);
  if (failed) {
    for (size_t i = 0; i < *n; i++)
      key_record_free(&(*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
  }
  return 0;
}

int store_key_spend(struct store *s, const char *token, int64_t since_ms, double *spend) {
  return store_key_spend_until(s, token, since_ms, INT64_MAX, spend);
}

int store_key_spend_until(struct store *s, const char *token, int64_t since_ms,
                          int64_t until_ms, double *spend) {
  sqlite3_stmt *st = prepare(s, "SELECT COALESCE(SUM(spend), 0) FROM spend_logs"
                                " WHERE api_key = ? AND startTime >= ? AND COALESCE(endTime, startTime) <= ?");
  if (!st)
    return -1;
  bind_text(st, 1, token);
  sqlite3_bind_int64(st, 2, since_ms);
  sqlite3_bind_int64(st, 3, until_ms);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *spend = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : -1;
}

/* ---- ledger ---- */

/* *st prepared once (kept for the store's life), reset, stepped: 0 when it
 * ran to its end, else -1. */
static int step_kept(struct store *s, sqlite3_stmt **st, const char *sql) {
  if (!*st && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_reset(*st);
  return sqlite3_step(*st) == SQLITE_DONE ? 0 : -1;
}

/* A ledger row's 21 values, bound from parameter at + 1 on. */
#define LEDGER_COLUMNS 21
static void bind_row(sqlite3_stmt *st, int at, const struct ledger_row *r) {
  bind_text(st, at + 1, r->request_id);
  bind_text(st, at + 2, r->api_key);
  bind_text(st, at + 3, r->key_alias);
  bind_text(st, at + 4, r->route);
  bind_text(st, at + 5, r->model);
  bind_text(st, at + 6, r->upstream_model);
  sqlite3_bind_int(st, at + 7, r->stream);
  sqlite3_bind_int(st, at + 8, r->n);
  sqlite3_bind_int(st, at + 9, r->status);
  bind_text(st, at + 10, r->error_code);
  sqlite3_bind_int64(st, at + 11, r->prompt_tokens);
  sqlite3_bind_int64(st, at + 12, r->completion_tokens);
  sqlite3_bind_int(st, at + 13, r->tokens_estimated);
  sqlite3_bind_double(st, at + 14, r->spend);
  sqlite3_bind_int64(st, at + 15, r->start_ms);
  sqlite3_bind_int64(st, at + 16, r->end_ms);
  bind_int(st, at + 17, r->completion_start_ms);
  bind_text(st, at + 18, r->prediction_ids);
  bind_text(st, at + 19, r->finish_reason);
  bind_text(st, at + 20, r->user);
  bind_text(st, at + 21, r->client_addr);
}

/* Rows a multi-row INSERT takes: one statement's fixed cost (its halt and
 * step set-up, ~1.5k instructions) shared by 16 rows. */
#define LEDGER_ROWS_AT_ONCE 16

/* The kept INSERT of rows rows (1 or LEDGER_ROWS_AT_ONCE), prepared once. */
static sqlite3_stmt *kept_insert(struct store *s, sqlite3_stmt **st, int rows) {
  if (*st)
    return *st;
  static const char HEAD[] =
      "INSERT INTO spend_logs (request_id, api_key, key_alias, route, model, upstream_model,"
      " stream, n, status, error_code, prompt_tokens, completion_tokens, tokens_estimated,"
      " spend, startTime, endTime, completionStartTime, prediction_ids, finish_reason, user,"
      " requester_ip_address) VALUES ",
      ROW[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  char sql[sizeof HEAD + LEDGER_ROWS_AT_ONCE * sizeof ROW];
  size_t n = sizeof HEAD - 1;
  memcpy(sql, HEAD, n);
  for (int i = 0; i < rows; i++) {
    if (i)
      sql[n++] = ',';
    memcpy(sql + n, ROW, sizeof ROW - 1);
    n += sizeof ROW - 1;
  }
  sqlite3_prepare_v3(s->db, sql, (int)n, SQLITE_PREPARE_PERSISTENT, st, NULL);
  return *st;
}

/* Step st once; its bindings are cleared after (no row's text is held past
 * the batch). 0, or -1. */
static int step_rows(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

int store_ledger_insert(struct store *s, const struct ledger_row *rows, size_t n) {
  if (step_kept(s, &s->ledger_begin, "BEGIN IMMEDIATE") != 0)
    return -1;
  int failed = 0;
  size_t i = 0;
  sqlite3_stmt *many = n >= LEDGER_ROWS_AT_ONCE
                           ? kept_insert(s, &s->ledger_insert_many, LEDGER_ROWS_AT_ONCE)
                           : NULL;
  for (; !failed && many && n - i >= LEDGER_ROWS_AT_ONCE; i += LEDGER_ROWS_AT_ONCE) {
    for (int j = 0; j < LEDGER_ROWS_AT_ONCE; j++)
      bind_row(many, j * LEDGER_COLUMNS, &rows[i + (size_t)j]);
    failed = step_rows(many) != 0;
  }
  sqlite3_stmt *one = i < n ? kept_insert(s, &s->ledger_insert, 1) : NULL;
  failed |= i < n && !one;
  for (; !failed && i < n; i++) {
    bind_row(one, 0, &rows[i]);
    failed = step_rows(one) != 0;
  }
  if (!failed && step_kept(s, &s->ledger_commit, "COMMIT") == 0)
    return 0;
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

/* Adds column i of a row to obj under its SQL name, typed as stored; times
 * (names ending in Time) as ISO 8601 text. */
static int add_column(cJSON *obj, sqlite3_stmt *st, int i) {
  const char *name = sqlite3_column_name(st, i);
  size_t nl = strlen(name);
  cJSON *v;
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL:
    v = cJSON_CreateNull();
    break;
  case SQLITE_INTEGER:
    if (nl > 4 && strcmp(name + nl - 4, "Time") == 0) {
      char iso[32];
      keys_iso_time(sqlite3_column_int64(st, i), iso, sizeof iso);
      v = cJSON_CreateString(iso);
    } else {
      v = cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
    }
    break;
  case SQLITE_FLOAT:
    v = cJSON_CreateNumber(sqlite3_column_double(st, i));
    break;
  default:
    v = cJSON_CreateString((const char *)sqlite3_column_text(st, i));
  }
  return v && cJSON_AddItemToObject(obj, name, v) ? 0 : -1;
}

static cJSON *rows_json(sqlite3_stmt *st) {
  cJSON *arr = cJSON_CreateArray();
  int rc, failed = !arr;
  while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *o = cJSON_CreateObject();
    failed = !o || !cJSON_AddItemToArray(arr, o);
    for (int i = 0; !failed && i < sqlite3_column_count(st); i++)
      failed = add_column(o, st, i) != 0;
  }
  if (!failed && rc != SQLITE_DONE)
    failed = 1;
  sqlite3_finalize(st);
  if (failed) {
    cJSON_Delete(arr);
    return NULL;
  }
  return arr;
}

static void bind_range(sqlite3_stmt *st, int first, int64_t start_ms, int64_t end_ms) {
  sqlite3_bind_int64(st, first, start_ms);
  sqlite3_bind_int64(st, first + 1, end_ms > 0 ? end_ms : INT64_MAX);
}

cJSON *store_spend_logs(struct store *s, const char *api_key, int64_t start_ms, int64_t end_ms) {
  sqlite3_stmt *st = prepare(
      s, "SELECT request_id, api_key, key_alias, route AS call_type, model, upstream_model,"
         " stream, n, status, error_code, prompt_tokens, completion_tokens,"
         " prompt_tokens + completion_tokens AS total_tokens, tokens_estimated, spend,"
         " startTime, endTime, completionStartTime, prediction_ids, finish_reason, user,"
         " requester_ip_address FROM spend_logs"
         " WHERE (?1 IS NULL OR api_key = ?1) AND startTime >= ?2 AND startTime < ?3"
         " ORDER BY id");
  if (!st)
    return NULL;
  bind_text(st, 1, api_key);
  bind_range(st, 2, start_ms, end_ms);
  return rows_json(st);
}

cJSON *store_spend_report(struct store *s, const char *group_by, int64_t start_ms,
                          int64_t end_ms) {
  /* Column names come from this fixed table, never from the request. */
  static const struct { const char *name, *sql; } GROUPS[] = {
      {"api_key", "SELECT api_key AS api_key, MAX(key_alias) AS key_alias,"
                  " COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens,"
                  " SUM(completion_tokens) AS completion_tokens,"
                  " SUM(prompt_tokens + completion_tokens) AS total_tokens, SUM(spend) AS spend"
                  " FROM spend_logs WHERE startTime >= ?1 AND startTime < ?2"
                  " GROUP BY api_key ORDER BY spend DESC"},
      {"model", "SELECT model AS model, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens,"
                " SUM(completion_tokens) AS completion_tokens,"
                " SUM(prompt_tokens + completion_tokens) AS total_tokens, SUM(spend) AS spend"
                " FROM spend_logs WHERE startTime >= ?1 AND startTime < ?2"
                " GROUP BY model ORDER BY spend DESC"},
  };
  for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++) {
    if (strcmp(group_by, GROUPS[i].name) != 0)
      continue;
    sqlite3_stmt *st = prepare(s, GROUPS[i].sql);
    if (!st)
      return NULL;
    bind_range(st, 1, start_ms, end_ms);
    return rows_json(st);
  }
  return NULL;
}
