/* The shared store: PostgreSQL through libpq, for several replicas. Same
 * calls as the SQLite engine. Calls block: they run on the store threads
 * (key snapshot, ledger writer, admin, CLI), never on an event loop. A lost
 * connection is re-opened on the next call; the caller's own retry (the
 * ledger's, the snapshot's next poll) does the rest. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/buf.h"
#include "../../shared/keys.h"
#include "../worker.h" /* log_msg */
#include "store_engine.h"

struct store_pg {
  PGconn *conn;
  int in_tx; /* inside BEGIN: a lost connection cannot be retried */
};

/* Migrations in order; one version each, never edited once released (add a
 * new one instead). Applied under an advisory lock, so replicas starting
 * together run each exactly once. */
static const char *const MIGRATIONS[] = {
    /* 1: the SQLite schema, with PostgreSQL types */
    "CREATE TABLE meta(name text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE keys_version(one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " version bigint NOT NULL);"
    "INSERT INTO keys_version(version) VALUES (0);"
    "CREATE TABLE keys("
    " token text PRIMARY KEY, display text NOT NULL, key_alias text, models text,"
    " metadata text, budget_duration text, max_budget double precision,"
    " budget_reset_at bigint, expires bigint, rpm_limit bigint, tpm_limit bigint,"
    " max_parallel_requests bigint, blocked integer NOT NULL DEFAULT 0,"
    " created_at bigint NOT NULL);"
    "CREATE TABLE spend_logs("
    " id bigserial PRIMARY KEY, request_id text, api_key text, key_alias text,"
    " route text, model text, upstream_model text, stream integer, n integer,"
    " status integer, error_code text, prompt_tokens bigint, completion_tokens bigint,"
    " tokens_estimated integer, spend double precision, \"startTime\" bigint,"
    " \"endTime\" bigint, \"completionStartTime\" bigint, prediction_ids text,"
    " finish_reason text, \"user\" text, requester_ip_address text);"
    "CREATE INDEX spend_logs_key_time ON spend_logs(api_key, \"startTime\");"
    "CREATE INDEX spend_logs_time ON spend_logs(\"startTime\");"
    /* Any change to keys, by any replica or CLI, bumps the version the
     * snapshots poll. */
    "CREATE FUNCTION rp_keys_changed() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN UPDATE keys_version SET version = version + 1; RETURN NULL; END$$;"
    "CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON keys"
    " FOR EACH STATEMENT EXECUTE FUNCTION rp_keys_changed();",
};
#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])
#define MIGRATION_LOCK 0x72702d6d6967LL /* "rp-mig": one lock id for every replica */

/* ------------------------------------------------------------- connection */

/* Open or re-open. The URL's own connect_timeout wins over ours (later
 * keywords override earlier ones). 0 or -1. */
static int connect_db(struct store_pg *s, const char *url) {
  const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
  const char *const vals[] = {"3", "replicate-proxy", url, NULL};
  s->conn = PQconnectdbParams(keys, vals, 1);
  return s->conn && PQstatus(s->conn) == CONNECTION_OK ? 0 : -1;
}

/* A connection lost since the last call is re-opened first. */
static int ready(struct store_pg *s) {
  if (PQstatus(s->conn) == CONNECTION_OK)
    return 0;
  PQreset(s->conn);
  return PQstatus(s->conn) == CONNECTION_OK ? 0 : -1;
}

static PGresult *send_sql(struct store_pg *s, const char *sql, int n, const char *const *vals) {
  /* Without parameters, PQexec: a migration is several statements. */
  return n ? PQexecParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(s->conn, sql);
}

static int ok(const PGresult *r) {
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Run a statement; NULL (result cleared) unless it succeeded. */
static PGresult *q(struct store_pg *s, const char *sql, int n, const char *const *vals) {
  if (ready(s) != 0)
    return NULL;
  PGresult *r = send_sql(s, sql, n, vals);
  /* An idle connection learns that the server restarted only when used: open
   * a new one and send again, unless a transaction was cut (its caller
   * retries the whole of it). */
  if (!ok(r) && !s->in_tx && PQstatus(s->conn) == CONNECTION_BAD) {
    PQclear(r);
    PQreset(s->conn);
    r = PQstatus(s->conn) == CONNECTION_OK ? send_sql(s, sql, n, vals) : NULL;
  }
  if (r && ok(r))
    return r;
  /* Only the primary message: its DETAIL may quote a row's values. */
  const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  log_msg(LOG_WARN, "postgresql: %s", m ? m : "the connection failed");
  PQclear(r);
  return NULL;
}

/* A statement whose rows don't matter: 0 or -1. */
static int exec0(struct store_pg *s, const char *sql, int n, const char *const *vals) {
  PGresult *r = q(s, sql, n, vals);
  PQclear(r);
  return r ? 0 : -1;
}

static int begin(struct store_pg *s) {
  s->in_tx = exec0(s, "BEGIN", 0, NULL) == 0;
  return s->in_tx ? 0 : -1;
}

static int commit(struct store_pg *s) {
  int rc = exec0(s, "COMMIT", 0, NULL);
  s->in_tx = rc != 0; /* a failed COMMIT still needs its ROLLBACK */
  return rc;
}

static void rollback(struct store_pg *s) {
  s->in_tx = 0;
  if (PQstatus(s->conn) == CONNECTION_OK)
    PQclear(PQexec(s->conn, "ROLLBACK"));
}

static int migrate(struct store_pg *s) {
  char lock[64];
  snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK);
  if (begin(s) != 0)
    return -1;
  int rc = exec0(s, lock, 0, NULL);
  if (rc == 0)
    rc = exec0(s, "CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY,"
                  " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL);
  PGresult *r = rc == 0 ? q(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", 0,
                            NULL) : NULL;
  long have = r ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
  PQclear(r);
  rc = have < 0 ? -1 : 0;
  for (size_t v = (size_t)have + 1; rc == 0 && have >= 0 && v <= N_MIGRATIONS; v++) {
    char ver[24];
    snprintf(ver, sizeof ver, "%zu", v);
    const char *p[] = {ver};
    rc = exec0(s, MIGRATIONS[v - 1], 0, NULL);
    if (rc == 0)
      rc = exec0(s, "INSERT INTO schema_migrations(version) VALUES ($1)", 1, p);
  }
  if (rc == 0 && commit(s) == 0)
    return 0;
  rollback(s);
  return -1;
}

struct store_pg *pg_store_open(const char *path, int busy_timeout_ms, char *err,
                               size_t errlen) {
  (void)busy_timeout_ms; /* PostgreSQL waits on row locks itself */
  struct store_pg *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (connect_db(s, path) != 0) {
    /* libpq's message names the host and the reason, never the password. */
    snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
             s->conn ? PQerrorMessage(s->conn) : "out of memory");
    size_t l = strlen(err);
    if (l && err[l - 1] == '\n')
      err[l - 1] = '\0';
    pg_store_close(s);
    return NULL;
  }
  PQclear(PQexec(s->conn, "SET client_min_messages = warning"));
  if (migrate(s) != 0) {
    snprintf(err, errlen, "cannot create or migrate the PostgreSQL schema");
    pg_store_close(s);
    return NULL;
  }
  return s;
}

void pg_store_close(struct store_pg *s) {
  if (!s)
    return;
  PQfinish(s->conn);
  free(s);
}

/* ------------------------------------------------------------------ values */

/* Parameters as text: a slot per value, NULL for SQL NULL. */
struct params {
  const char *v[24];
  char num[24][32];
  int n;
};

static void p_text(struct params *p, const char *v) { p->v[p->n++] = v; }

static void p_int(struct params *p, int64_t v) {
  snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

/* 0 is NULL, as in the SQLite engine ("none"). */
static void p_int0(struct params *p, int64_t v) {
  if (v)
    p_int(p, v);
  else
    p_text(p, NULL);
}

static void p_double(struct params *p, double v) {
  snprintf(p->num[p->n], sizeof p->num[0], "%.17g", v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

static int64_t get_int(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ------------------------------------------------------------------ secret */

int pg_store_secret(struct store_pg *s, unsigned char out[KEYS_SECRET_BYTES]) {
  unsigned char fresh[KEYS_SECRET_BYTES];
  char hex[2 * KEYS_SECRET_BYTES + 1];
  if (keys_random(fresh, sizeof fresh) != 0)
    return -1;
  for (size_t i = 0; i < sizeof fresh; i++)
    snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
  memset(fresh, 0, sizeof fresh);
  /* Whoever inserts first wins; every replica then reads the same secret. */
  const char *p[] = {hex};
  int rc = exec0(s, "INSERT INTO meta VALUES ('secret', $1) ON CONFLICT DO NOTHING", 1, p);
  memset(hex, 0, sizeof hex);
  PGresult *r = rc == 0 ? q(s, "SELECT value FROM meta WHERE name = 'secret'", 0, NULL) : NULL;
  rc = -1;
  if (r && PQntuples(r) == 1 && strlen(PQgetvalue(r, 0, 0)) == 2 * KEYS_SECRET_BYTES) {
    const char *v = PQgetvalue(r, 0, 0);
    rc = 0;
    for (size_t i = 0; rc == 0 && i < KEYS_SECRET_BYTES; i++) {
      unsigned x;
      if (sscanf(v + 2 * i, "%2x", &x) != 1)
        rc = -1;
      out[i] = (unsigned char)x;
    }
  }
  PQclear(r);
  return rc;
}

int64_t pg_store_keys_version(struct store_pg *s) {
  PGresult *r = q(s, "SELECT version FROM keys_version", 0, NULL);
  int64_t v = r && PQntuples(r) == 1 ? get_int(r, 0, 0) : -1;
  PQclear(r);
  return v;
}

/* -------------------------------------------------------------------- keys */

#define KEY_COLUMNS                                                                     \
  "token, display, key_alias, models, metadata, budget_duration, max_budget,"           \
  " budget_reset_at, expires, rpm_limit, tpm_limit, max_parallel_requests, blocked,"    \
  " created_at"

/* The record as parameters $1..$14, in KEY_COLUMNS order. */
static void key_params(struct params *p, const struct key_record *k) {
  p_text(p, k->token);
  p_text(p, k->display);
  p_text(p, k->key_alias);
  p_text(p, k->models);
  p_text(p, k->metadata);
  p_text(p, k->budget_duration);
  if (k->max_budget >= 0)
    p_double(p, k->max_budget);
  else
    p_text(p, NULL);
  p_int0(p, k->budget_reset_at_ms);
  p_int0(p, k->expires_ms);
  p_int0(p, k->rpm_limit);
  p_int0(p, k->tpm_limit);
  p_int0(p, k->max_parallel_requests);
  p_int(p, k->blocked);
  p_int(p, k->created_ms);
}

static int read_key(const PGresult *r, int row, struct key_record *k) {
  memset(k, 0, sizeof *k);
  snprintf(k->token, sizeof k->token, "%s", PQgetvalue(r, row, 0));
  snprintf(k->display, sizeof k->display, "%s", PQgetvalue(r, row, 1));
  int oom = 0;
  char **strs[] = {&k->key_alias, &k->models, &k->metadata, &k->budget_duration};
  for (int i = 0; i < 4; i++) {
    if (PQgetisnull(r, row, 2 + i))
      continue;
    *strs[i] = strdup(PQgetvalue(r, row, 2 + i));
    oom |= !*strs[i];
  }
  k->max_budget = PQgetisnull(r, row, 6) ? -1 : strtod(PQgetvalue(r, row, 6), NULL);
  k->budget_reset_at_ms = get_int(r, row, 7);
  k->expires_ms = get_int(r, row, 8);
  k->rpm_limit = (long)get_int(r, row, 9);
  k->tpm_limit = (long)get_int(r, row, 10);
  k->max_parallel_requests = (long)get_int(r, row, 11);
  k->blocked = (int)get_int(r, row, 12);
  k->created_ms = get_int(r, row, 13);
  if (oom) {
    key_record_free(k);
    return -1;
  }
  return 0;
}

int pg_store_key_insert(struct store_pg *s, const struct key_record *k) {
  struct params p = {0};
  key_params(&p, k);
  /* ON CONFLICT: a taken token is an answer (1), not an error to log. */
  PGresult *r = q(s, "INSERT INTO keys (" KEY_COLUMNS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,"
                     "$10,$11,$12,$13,$14) ON CONFLICT (token) DO NOTHING",
                  p.n, p.v);
  int rc = !r ? -1 : strcmp(PQcmdTuples(r), "1") == 0 ? 0 : 1;
  PQclear(r);
  return rc;
}

/* 0 when the statement changed a row, 1 when none, -1 on error. */
static int changed(PGresult *r) {
  int rc = !r ? -1 : strcmp(PQcmdTuples(r), "0") != 0 ? 0 : 1;
  PQclear(r);
  return rc;
}

int pg_store_key_update(struct store_pg *s, const struct key_record *k) {
  struct params p = {0};
  key_params(&p, k);
  return changed(q(s, "UPDATE keys SET display = $2, key_alias = $3, models = $4,"
                      " metadata = $5, budget_duration = $6, max_budget = $7,"
                      " budget_reset_at = $8, expires = $9, rpm_limit = $10, tpm_limit = $11,"
                      " max_parallel_requests = $12, blocked = $13, created_at = $14"
                      " WHERE token = $1",
                   p.n, p.v));
}

int pg_store_key_retoken(struct store_pg *s, const char *old_token, const char *new_token,
                         const char *display) {
  const char *p[] = {old_token, new_token, display};
  if (begin(s) != 0)
    return -1;
  int rc = changed(q(s, "UPDATE keys SET token = $2, display = $3 WHERE token = $1", 3, p));
  /* The key's history follows it: its spend and budget carry over. */
  if (rc == 0)
    rc = exec0(s, "UPDATE spend_logs SET api_key = $2 WHERE api_key = $1", 2, p);
  if (rc == 0 && commit(s) == 0)
    return 0;
  rollback(s);
  return rc == 1 ? 1 : -1;
}

int pg_store_key_delete(struct store_pg *s, const char *token) {
  const char *p[] = {token};
  return changed(q(s, "DELETE FROM keys WHERE token = $1", 1, p));
}

int pg_store_key_get(struct store_pg *s, const char *token, struct key_record *k) {
  const char *p[] = {token};
  PGresult *r = q(s, "SELECT " KEY_COLUMNS " FROM keys WHERE token = $1", 1, p);
  int rc = !r ? -1 : PQntuples(r) == 0 ? 1 : read_key(r, 0, k);
  PQclear(r);
  return rc;
}

int pg_store_key_list(struct store_pg *s, struct key_record **out, size_t *n) {
  *out = NULL;
  *n = 0;
  PGresult *r = q(s, "SELECT " KEY_COLUMNS " FROM keys ORDER BY created_at, token", 0, NULL);
  if (!r)
    return -1;
  int rows = PQntuples(r);
  *out = calloc(rows ? (size_t)rows : 1, sizeof **out);
  int failed = !*out;
  for (int i = 0; !failed && i < rows; i++) {
    if (read_key(r, i, &(*out)[*n]) != 0)
      failed = 1;
    else
      (*n)++;
  }
  PQclear(r);
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

int pg_store_key_spend(struct store_pg *s, const char *token, int64_t since_ms,
                       double *spend) {
  return pg_store_key_spend_until(s, token, since_ms, INT64_MAX, spend);
}

int pg_store_key_spend_until(struct store_pg *s, const char *token, int64_t since_ms,
                             int64_t until_ms, double *spend) {
  struct params p = {0};
  p_text(&p, token);
  p_int(&p, since_ms);
  p_int(&p, until_ms);
  PGresult *r = q(s, "SELECT COALESCE(SUM(spend), 0)::float8 FROM spend_logs"
                     " WHERE api_key = $1 AND \"startTime\" >= $2"
                     " AND COALESCE(\"endTime\", \"startTime\") <= $3",
                  p.n, p.v);
  if (r)
    *spend = strtod(PQgetvalue(r, 0, 0), NULL);
  PQclear(r);
  return r ? 0 : -1;
}

/* ------------------------------------------------------------------ ledger */

#define LEDGER_COLS 21
#define LEDGER_CHUNK 64 /* rows per INSERT: one round trip each, not one per row */

static void row_params(struct params *p, const struct ledger_row *w) {
  p->n = 0;
  p_text(p, w->request_id);
  p_text(p, w->api_key);
  p_text(p, w->key_alias);
  p_text(p, w->route);
  p_text(p, w->model);
  p_text(p, w->upstream_model);
  p_int(p, w->stream);
  p_int(p, w->n);
  p_int(p, w->status);
  p_text(p, w->error_code);
  p_int(p, w->prompt_tokens);
  p_int(p, w->completion_tokens);
  p_int(p, w->tokens_estimated);
  p_double(p, w->spend);
  p_int(p, w->start_ms);
  p_int(p, w->end_ms);
  p_int0(p, w->completion_start_ms);
  p_text(p, w->prediction_ids);
  p_text(p, w->finish_reason);
  p_text(p, w->user);
  p_text(p, w->client_addr);
}

/* Rows [0, k) in one INSERT. 0 or -1. */
static int insert_chunk(struct store_pg *s, const struct ledger_row *rows, size_t k,
                        struct params *ps, const char **vals) {
  struct buf sql = BUF_INIT;
  int rc = buf_append_str(&sql, "INSERT INTO spend_logs (request_id, api_key, key_alias, route,"
                                " model, upstream_model, stream, n, status, error_code,"
                                " prompt_tokens, completion_tokens, tokens_estimated, spend,"
                                " \"startTime\", \"endTime\", \"completionStartTime\","
                                " prediction_ids, finish_reason, \"user\", requester_ip_address)"
                                " VALUES ");
  for (size_t i = 0; rc == 0 && i < k; i++) {
    row_params(&ps[i], &rows[i]);
    for (int c = 0; c < LEDGER_COLS; c++)
      vals[i * LEDGER_COLS + (size_t)c] = ps[i].v[c];
    for (int c = 0; rc == 0 && c < LEDGER_COLS; c++)
      rc = buf_printf(&sql, "%s$%zu%s", c ? "" : i ? ",(" : "(", i * LEDGER_COLS + (size_t)c + 1,
                      c + 1 < LEDGER_COLS ? "," : ")");
  }
  if (rc == 0 && buf_append_char(&sql, '\0') == 0)
    rc = exec0(s, sql.data, (int)(k * LEDGER_COLS), vals);
  else
    rc = -1;
  buf_free(&sql);
  return rc;
}

/* The connection broke during COMMIT: did it commit? PostgreSQL keeps the
 * answer (txid_status), so a batch is neither lost nor written twice. */
static int committed_anyway(struct store_pg *s, const char *xid) {
  const char *p[] = {xid};
  PGresult *r = q(s, "SELECT txid_status($1::bigint)", 1, p);
  int yes = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "committed") == 0;
  PQclear(r);
  return yes;
}

int pg_store_ledger_insert(struct store_pg *s, const struct ledger_row *rows, size_t n) {
  struct params *ps = malloc(LEDGER_CHUNK * sizeof *ps);
  const char **vals = malloc(LEDGER_CHUNK * LEDGER_COLS * sizeof *vals);
  if (!ps || !vals || begin(s) != 0) {
    free(ps);
    free(vals);
    return -1;
  }
  PGresult *x = q(s, "SELECT txid_current()", 0, NULL);
  char xid[32] = "";
  if (x)
    snprintf(xid, sizeof xid, "%s", PQgetvalue(x, 0, 0));
  PQclear(x);
  int failed = !xid[0];
  for (size_t i = 0; !failed && i < n; i += LEDGER_CHUNK)
    failed = insert_chunk(s, rows + i, n - i < LEDGER_CHUNK ? n - i : LEDGER_CHUNK, ps, vals) != 0;
  free(ps);
  free(vals);
  if (!failed && commit(s) == 0)
    return 0;
  rollback(s);
  if (!failed && PQstatus(s->conn) == CONNECTION_BAD && committed_anyway(s, xid)) {
    log_msg(LOG_INFO, "postgresql: a batch's COMMIT answer was lost; it was committed");
    return 0;
  }
  return -1;
}

/* Field j of row i under its column name, typed by the column's type; times
 * (names ending in Time) as ISO 8601 text, as the SQLite engine does. */
static int add_field(cJSON *obj, const PGresult *r, int i, int j) {
  enum { INT8 = 20, INT2 = 21, INT4 = 23, FLOAT4 = 700, FLOAT8 = 701, NUMERIC = 1700 };
  const char *name = PQfname(r, j);
  size_t nl = strlen(name);
  Oid t = PQftype(r, j);
  const char *v = PQgetvalue(r, i, j);
  cJSON *item;
  if (PQgetisnull(r, i, j)) {
    item = cJSON_CreateNull();
  } else if (t == INT8 || t == INT2 || t == INT4) {
    long long x = strtoll(v, NULL, 10);
    if (nl > 4 && strcmp(name + nl - 4, "Time") == 0) {
      char iso[32];
      keys_iso_time(x, iso, sizeof iso);
      item = cJSON_CreateString(iso);
    } else {
      item = cJSON_CreateNumber((double)x);
    }
  } else if (t == FLOAT4 || t == FLOAT8 || t == NUMERIC) {
    item = cJSON_CreateNumber(strtod(v, NULL));
  } else {
    item = cJSON_CreateString(v);
  }
  return item && cJSON_AddItemToObject(obj, name, item) ? 0 : -1;
}

static cJSON *rows_json(PGresult *r) {
  if (!r)
    return NULL;
  cJSON *arr = cJSON_CreateArray();
  int failed = !arr;
  for (int i = 0; !failed && i < PQntuples(r); i++) {
    cJSON *o = cJSON_CreateObject();
    failed = !o || !cJSON_AddItemToArray(arr, o);
    for (int j = 0; !failed && j < PQnfields(r); j++)
      failed = add_field(o, r, i, j) != 0;
  }
  PQclear(r);
  if (failed) {
    cJSON_Delete(arr);
    return NULL;
  }
  return arr;
}

static void p_range(struct params *p, int64_t start_ms, int64_t end_ms) {
  p_int(p, start_ms);
  p_int(p, end_ms > 0 ? end_ms : INT64_MAX);
}

cJSON *pg_store_spend_logs(struct store_pg *s, const char *api_key, int64_t start_ms,
                           int64_t end_ms) {
  struct params p = {0};
  p_text(&p, api_key);
  p_range(&p, start_ms, end_ms);
  return rows_json(q(
      s, "SELECT request_id, api_key, key_alias, route AS call_type, model, upstream_model,"
         " stream, n, status, error_code, prompt_tokens, completion_tokens,"
         " prompt_tokens + completion_tokens AS total_tokens, tokens_estimated, spend,"
         " \"startTime\", \"endTime\", \"completionStartTime\", prediction_ids, finish_reason,"
         " \"user\" AS \"user\", requester_ip_address FROM spend_logs"
         " WHERE ($1::text IS NULL OR api_key = $1) AND \"startTime\" >= $2"
         " AND \"startTime\" < $3 ORDER BY id",
      p.n, p.v));
}

cJSON *pg_store_spend_report(struct store_pg *s, const char *group_by, int64_t start_ms,
                             int64_t end_ms) {
  /* Column names come from this fixed table, never from the request. */
#define TOTALS                                                                          \
  " COUNT(*) AS requests, SUM(prompt_tokens)::bigint AS prompt_tokens,"                 \
  " SUM(completion_tokens)::bigint AS completion_tokens,"                               \
  " SUM(prompt_tokens + completion_tokens)::bigint AS total_tokens, SUM(spend) AS spend"  \
  " FROM spend_logs WHERE \"startTime\" >= $1 AND \"startTime\" < $2"
  static const struct { const char *name, *sql; } GROUPS[] = {
      {"api_key", "SELECT api_key AS api_key, MAX(key_alias) AS key_alias," TOTALS
                  " GROUP BY api_key ORDER BY spend DESC"},
      {"model", "SELECT model AS model," TOTALS " GROUP BY model ORDER BY spend DESC"},
  };
#undef TOTALS
  for (size_t i = 0; i < sizeof GROUPS / sizeof GROUPS[0]; i++) {
    if (strcmp(group_by, GROUPS[i].name) != 0)
      continue;
    struct params p = {0};
    p_range(&p, start_ms, end_ms);
    return rows_json(q(s, GROUPS[i].sql, p.n, p.v));
  }
  return NULL;
}
