#include "admin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../shared/keys.h"
#include "admin_queue.h"
#include "gateway.h"
#include "http.h"
#include "store/store.h"

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bad(struct oai_error *e, const char *param, const char *msg) {
  oai_error_set(e, 400, "invalid_request_error", "invalid_value", param, "%s: %s", param, msg);
  return -1;
}

static int oom(struct oai_error *e) {
  oai_error_set(e, 500, "server_error", "internal_error", NULL, "out of memory");
  return -1;
}

static int db_error(struct oai_error *e) {
  oai_error_set(e, 500, "server_error", "database_error", NULL,
                "The gateway's database could not be read or written (see the server log)");
  return -1;
}

/* ---------------------------------------------------------- key fields */

typedef int (*field_fn)(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e);

static int set_text(char **slot, const char *v, struct oai_error *e) {
  char *copy = v ? strdup(v) : NULL;
  if (v && !copy)
    return oom(e);
  free(*slot);
  *slot = copy;
  return 0;
}

static int f_alias(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  if (!cJSON_IsNull(v) && !cJSON_IsString(v))
    return bad(e, "key_alias", "expected a string");
  return set_text(&k->key_alias, cJSON_IsString(v) ? v->valuestring : NULL, e);
}

static int f_models(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  if (cJSON_IsNull(v))
    return set_text(&k->models, NULL, e);
  if (!cJSON_IsArray(v))
    return bad(e, "models", "expected an array of model names");
  const cJSON *m;
  cJSON_ArrayForEach(m, v) {
    if (!cJSON_IsString(m) || !m->valuestring[0])
      return bad(e, "models", "expected an array of model names");
  }
  if (cJSON_GetArraySize(v) == 0) /* empty = every model */
    return set_text(&k->models, NULL, e);
  char *text = cJSON_PrintUnformatted(v);
  if (!text)
    return oom(e);
  free(k->models);
  k->models = text;
  return 0;
}

static int f_max_budget(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  if (cJSON_IsNull(v)) {
    k->max_budget = -1;
    return 0;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
    return bad(e, "max_budget", "expected a number of USD >= 0");
  k->max_budget = v->valuedouble;
  return 0;
}

static int duration_of(const cJSON *v, const char *param, int64_t *ms, struct oai_error *e) {
  if (!cJSON_IsString(v) || keys_parse_duration(v->valuestring, ms) != 0)
    return bad(e, param, "expected a duration such as 30s, 10m, 1h, 1d, 7d or 30d");
  return 0;
}

static int f_budget_duration(const cJSON *v, struct key_record *k, int64_t now,
                             struct oai_error *e) {
  int64_t ms = 0;
  if (!cJSON_IsNull(v) && duration_of(v, "budget_duration", &ms, e) != 0)
    return -1;
  k->budget_reset_at_ms = ms ? now + ms : 0; /* a new window starts now */
  return set_text(&k->budget_duration, ms ? v->valuestring : NULL, e);
}

static int f_duration(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  int64_t ms = 0;
  if (!cJSON_IsNull(v) && duration_of(v, "duration", &ms, e) != 0)
    return -1;
  k->expires_ms = ms ? now + ms : 0;
  return 0;
}

static int count_field(const cJSON *v, const char *param, long *out, struct oai_error *e) {
  if (cJSON_IsNull(v)) {
    *out = 0;
    return 0;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12 ||
      v->valuedouble != floor(v->valuedouble))
    return bad(e, param, "expected an integer >= 0");
  *out = (long)v->valuedouble;
  return 0;
}

static int f_rpm(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  return count_field(v, "rpm_limit", &k->rpm_limit, e);
}

static int f_tpm(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  return count_field(v, "tpm_limit", &k->tpm_limit, e);
}

static int f_parallel(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  return count_field(v, "max_parallel_requests", &k->max_parallel_requests, e);
}

static int f_metadata(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  if (cJSON_IsNull(v))
    return set_text(&k->metadata, NULL, e);
  if (!cJSON_IsObject(v))
    return bad(e, "metadata", "expected a JSON object");
  char *text = cJSON_PrintUnformatted(v);
  if (!text)
    return oom(e);
  free(k->metadata);
  k->metadata = text;
  return 0;
}

static int f_blocked(const cJSON *v, struct key_record *k, int64_t now, struct oai_error *e) {
  (void)now;
  if (!cJSON_IsBool(v))
    return bad(e, "blocked", "expected true or false");
  k->blocked = cJSON_IsTrue(v);
  return 0;
}

/* The writable fields, with LiteLLM's names. Others (team_id, ...) are ignored. */
static const struct {
  const char *name;
  field_fn set;
} FIELDS[] = {
    {"key_alias", f_alias},       {"models", f_models},
    {"max_budget", f_max_budget}, {"budget_duration", f_budget_duration},
    {"duration", f_duration},     {"rpm_limit", f_rpm},
    {"tpm_limit", f_tpm},         {"max_parallel_requests", f_parallel},
    {"metadata", f_metadata},     {"blocked", f_blocked},
};

static int apply_fields(const cJSON *args, struct key_record *k, int64_t now,
                        struct oai_error *e) {
  for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, FIELDS[i].name);
    if (v && FIELDS[i].set(v, k, now, e) != 0)
      return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ JSON out */

static void add_time(cJSON *o, const char *name, int64_t ms) {
  if (ms <= 0) {
    cJSON_AddNullToObject(o, name);
    return;
  }
  char iso[32];
  keys_iso_time(ms, iso, sizeof iso);
  cJSON_AddStringToObject(o, name, iso);
}

static void add_count(cJSON *o, const char *name, long v) {
  if (v > 0)
    cJSON_AddNumberToObject(o, name, (double)v);
  else
    cJSON_AddNullToObject(o, name);
}

static void add_raw_json(cJSON *o, const char *name, const char *text, const char *fallback) {
  cJSON *v = text ? cJSON_Parse(text) : NULL;
  cJSON_AddItemToObject(o, name, v ? v : cJSON_Parse(fallback));
}

static int64_t budget_window(const struct key_record *k) {
  int64_t ms = 0;
  if (k->budget_duration && keys_parse_duration(k->budget_duration, &ms) != 0)
    ms = 0;
  return ms;
}

/* The fields every key answer has, LiteLLM's names. */
static void add_key_fields(cJSON *o, const struct key_record *k, int64_t now) {
  if (k->key_alias)
    cJSON_AddStringToObject(o, "key_alias", k->key_alias);
  else
    cJSON_AddNullToObject(o, "key_alias");
  cJSON_AddStringToObject(o, "key_name", k->display);
  add_time(o, "expires", k->expires_ms);
  add_raw_json(o, "models", k->models, "[]");
  if (k->max_budget >= 0)
    cJSON_AddNumberToObject(o, "max_budget", k->max_budget);
  else
    cJSON_AddNullToObject(o, "max_budget");
  if (k->budget_duration)
    cJSON_AddStringToObject(o, "budget_duration", k->budget_duration);
  else
    cJSON_AddNullToObject(o, "budget_duration");
  add_time(o, "budget_reset_at", keys_next_reset(k->budget_reset_at_ms, budget_window(k), now));
  add_count(o, "rpm_limit", k->rpm_limit);
  add_count(o, "tpm_limit", k->tpm_limit);
  add_count(o, "max_parallel_requests", k->max_parallel_requests);
  add_raw_json(o, "metadata", k->metadata, "{}");
  cJSON_AddBoolToObject(o, "blocked", k->blocked);
  add_time(o, "created_at", k->created_ms);
}

static int key_spend(struct store *st, const struct key_record *k, int64_t now, double *spend) {
  int64_t window = budget_window(k), since = 0;
  if (window > 0 && k->budget_reset_at_ms > 0)
    since = keys_next_reset(k->budget_reset_at_ms, window, now) - window;
  return store_key_spend(st, k->token, since, spend);
}

/* {key?, token, ...fields, spend} as /key/generate and /key/update answer. */
static cJSON *key_object(const struct key_record *k, const char *key, double spend, int64_t now) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  if (key)
    cJSON_AddStringToObject(o, "key", key);
  cJSON_AddStringToObject(o, "token", k->token);
  add_key_fields(o, k, now);
  cJSON_AddNumberToObject(o, "spend", spend);
  return o;
}

static int emit(cJSON *o, char **out, struct oai_error *e) {
  *out = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return *out ? 0 : oom(e);
}

/* ------------------------------------------------------------ operations */

/* The token a `key` argument names: the key itself (sk-...) or its token. */
static int resolve(const struct admin_ctx *c, const cJSON *v, const char *param,
                   char token[KEYS_TOKEN_LEN + 1], struct oai_error *e) {
  if (!cJSON_IsString(v) || !v->valuestring[0])
    return bad(e, param, "expected a key (sk-...) or its token");
  const char *s = v->valuestring;
  if (strlen(s) == KEYS_TOKEN_LEN && strspn(s, "0123456789abcdef") == KEYS_TOKEN_LEN) {
    memcpy(token, s, KEYS_TOKEN_LEN + 1);
    return 0;
  }
  if (keys_hash(c->secret, KEYS_SECRET_BYTES, s, token) != 0)
    return oom(e);
  return 0;
}

static int not_found(struct oai_error *e) {
  oai_error_set(e, 404, "invalid_request_error", "key_not_found", "key",
                "No such key (it may have been deleted or regenerated)");
  return -1;
}

/* Loads the record args.key names. 0, or -1 with e set. */
static int load_key(const struct admin_ctx *c, const cJSON *args, struct key_record *k,
                    struct oai_error *e) {
  char token[KEYS_TOKEN_LEN + 1];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "key");
  if (!v && c->self_token) {
    snprintf(token, sizeof token, "%s", c->self_token);
  } else if (resolve(c, v, "key", token, e) != 0) {
    return -1;
  }
  int rc = store_key_get(c->st, token, k);
  return rc == 0 ? 0 : rc == 1 ? not_found(e) : db_error(e);
}

static int answer_key(const struct admin_ctx *c, const struct key_record *k, const char *key,
                      int64_t now, char **out, struct oai_error *e) {
  double spend = 0;
  if (key_spend(c->st, k, now, &spend) != 0)
    return db_error(e);
  return emit(key_object(k, key, spend, now), out, e);
}

static int op_generate(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                       struct oai_error *e) {
  int64_t now = wall_ms();
  struct key_record k;
  memset(&k, 0, sizeof k);
  k.max_budget = -1;
  k.created_ms = now;
  char key[KEYS_KEY_MAX];
  int rc = apply_fields(args, &k, now, e);
  if (rc == 0 && (keys_generate(key) != 0 || keys_hash(c->secret, KEYS_SECRET_BYTES, key,
                                                        k.token) != 0)) {
    oai_error_set(e, 500, "server_error", "internal_error", NULL, "cannot generate a key");
    rc = -1;
  }
  if (rc == 0) {
    keys_display(key, k.display);
    rc = store_key_insert(c->st, &k) == 0 ? 0 : db_error(e);
  }
  if (rc == 0) {
    *changed = 1;
    rc = emit(key_object(&k, key, 0, now), out, e);
  }
  memset(key, 0, sizeof key);
  key_record_free(&k);
  return rc;
}

static int op_update(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                     struct oai_error *e) {
  struct key_record k;
  if (load_key(c, args, &k, e) != 0)
    return -1;
  int64_t now = wall_ms();
  int rc = apply_fields(args, &k, now, e);
  if (rc == 0)
    rc = store_key_update(c->st, &k) == 0 ? 0 : db_error(e);
  if (rc == 0) {
    *changed = 1;
    rc = answer_key(c, &k, NULL, now, out, e);
  }
  key_record_free(&k);
  return rc;
}

static int set_blocked(const struct admin_ctx *c, const cJSON *args, int blocked, char **out,
                       int *changed, struct oai_error *e) {
  struct key_record k;
  if (load_key(c, args, &k, e) != 0)
    return -1;
  k.blocked = blocked;
  int rc = store_key_update(c->st, &k) == 0 ? 0 : db_error(e);
  if (rc == 0) {
    *changed = 1;
    rc = answer_key(c, &k, NULL, wall_ms(), out, e);
  }
  key_record_free(&k);
  return rc;
}

static int op_block(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                    struct oai_error *e) {
  return set_blocked(c, args, 1, out, changed, e);
}

static int op_unblock(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                      struct oai_error *e) {
  return set_blocked(c, args, 0, out, changed, e);
}

static int op_regenerate(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                         struct oai_error *e) {
  struct key_record k;
  if (load_key(c, args, &k, e) != 0)
    return -1;
  char key[KEYS_KEY_MAX], token[KEYS_TOKEN_LEN + 1];
  int rc = 0;
  if (keys_generate(key) != 0 || keys_hash(c->secret, KEYS_SECRET_BYTES, key, token) != 0) {
    oai_error_set(e, 500, "server_error", "internal_error", NULL, "cannot generate a key");
    rc = -1;
  }
  if (rc == 0) {
    keys_display(key, k.display);
    rc = store_key_retoken(c->st, k.token, token, k.display) == 0 ? 0 : db_error(e);
  }
  if (rc == 0) {
    *changed = 1;
    memcpy(k.token, token, sizeof token);
    rc = answer_key(c, &k, key, wall_ms(), out, e);
  }
  memset(key, 0, sizeof key);
  key_record_free(&k);
  return rc;
}

static int op_delete(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                     struct oai_error *e) {
  const cJSON *keys = cJSON_GetObjectItemCaseSensitive(args, "keys");
  if (!cJSON_IsArray(keys) || cJSON_GetArraySize(keys) == 0)
    return bad(e, "keys", "expected a non-empty array of keys or tokens");
  int n = cJSON_GetArraySize(keys);
  char(*tokens)[KEYS_TOKEN_LEN + 1] = calloc((size_t)n, sizeof *tokens);
  if (!tokens)
    return oom(e);
  int rc = 0, i = 0;
  const cJSON *v;
  /* Every key must exist before any is deleted. */
  cJSON_ArrayForEach(v, keys) {
    struct key_record k;
    int got;
    if ((rc = resolve(c, v, "keys", tokens[i], e)) != 0)
      break;
    if ((got = store_key_get(c->st, tokens[i], &k)) != 0) {
      rc = got == 1 ? not_found(e) : db_error(e);
      break;
    }
    key_record_free(&k);
    i++;
  }
  cJSON *done = rc == 0 ? cJSON_CreateObject() : NULL;
  cJSON *list = done ? cJSON_AddArrayToObject(done, "deleted_keys") : NULL;
  for (int j = 0; rc == 0 && j < n; j++) {
    if (store_key_delete(c->st, tokens[j]) < 0)
      rc = db_error(e);
    else
      cJSON_AddItemToArray(list, cJSON_CreateString(tokens[j]));
    *changed = 1;
  }
  free(tokens);
  if (rc != 0) {
    cJSON_Delete(done);
    return -1;
  }
  return emit(done, out, e);
}

static int op_info(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                   struct oai_error *e) {
  (void)changed;
  struct key_record k;
  if (load_key(c, args, &k, e) != 0)
    return -1;
  int64_t now = wall_ms();
  double spend = 0;
  int rc = key_spend(c->st, &k, now, &spend) == 0 ? 0 : db_error(e);
  cJSON *o = rc == 0 ? cJSON_CreateObject() : NULL;
  if (o) {
    cJSON_AddStringToObject(o, "key", k.token);
    cJSON *info = cJSON_AddObjectToObject(o, "info");
    cJSON_AddStringToObject(info, "token", k.token);
    add_key_fields(info, &k, now);
    cJSON_AddNumberToObject(info, "spend", spend);
  }
  key_record_free(&k);
  return rc == 0 ? emit(o, out, e) : -1;
}

static int truthy(const cJSON *v) {
  return cJSON_IsTrue(v) || (cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0);
}

static int op_list(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                   struct oai_error *e) {
  (void)changed;
  int full = truthy(cJSON_GetObjectItemCaseSensitive(args, "return_full_object"));
  struct key_record *keys;
  size_t n;
  if (store_key_list(c->st, &keys, &n) != 0)
    return db_error(e);
  int64_t now = wall_ms();
  int rc = 0;
  cJSON *o = cJSON_CreateObject();
  cJSON *list = o ? cJSON_AddArrayToObject(o, "keys") : NULL;
  for (size_t i = 0; i < n; i++) {
    double spend = 0;
    if (full && rc == 0 && key_spend(c->st, &keys[i], now, &spend) != 0)
      rc = db_error(e);
    if (rc == 0 && list)
      cJSON_AddItemToArray(list, full ? key_object(&keys[i], NULL, spend, now)
                                      : cJSON_CreateString(keys[i].token));
    key_record_free(&keys[i]);
  }
  free(keys);
  if (rc != 0 || !list) {
    cJSON_Delete(o);
    return rc != 0 ? -1 : oom(e);
  }
  return emit(o, out, e);
}

/* start_date / end_date (YYYY-MM-DD = that day, inclusive). */
static int date_range(const cJSON *args, int64_t *start, int64_t *end, struct oai_error *e) {
  static const char *const NAMES[] = {"start_date", "end_date"};
  int64_t *slots[] = {start, end};
  for (int i = 0; i < 2; i++) {
    *slots[i] = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, NAMES[i]);
    if (!v || cJSON_IsNull(v))
      continue;
    if (!cJSON_IsString(v) || keys_parse_date(v->valuestring, slots[i]) != 0)
      return bad(e, NAMES[i], "expected a date such as 2025-01-31");
    if (i == 1 && strlen(v->valuestring) == 10)
      *end += 86400000; /* a whole day */
  }
  return 0;
}

static int op_spend_logs(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                         struct oai_error *e) {
  (void)changed;
  int64_t start, end;
  if (date_range(args, &start, &end, e) != 0)
    return -1;
  char token[KEYS_TOKEN_LEN + 1];
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(args, "api_key");
  if (k && resolve(c, k, "api_key", token, e) != 0)
    return -1;
  cJSON *rows = store_spend_logs(c->st, k ? token : NULL, start, end);
  return rows ? emit(rows, out, e) : db_error(e);
}

static int op_spend_report(const struct admin_ctx *c, const cJSON *args, char **out,
                           int *changed, struct oai_error *e) {
  (void)changed;
  int64_t start, end;
  if (date_range(args, &start, &end, e) != 0)
    return -1;
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(args, "group_by");
  const char *group = cJSON_IsString(g) ? g->valuestring : "api_key";
  if (g && (!cJSON_IsString(g) ||
            (strcmp(group, "api_key") != 0 && strcmp(group, "model") != 0)))
    return bad(e, "group_by", "expected api_key or model");
  cJSON *rows = store_spend_report(c->st, group, start, end);
  return rows ? emit(rows, out, e) : db_error(e);
}

typedef int (*op_fn)(const struct admin_ctx *c, const cJSON *args, char **out, int *changed,
                     struct oai_error *e);

static const struct {
  const char *name;
  op_fn run;
  int reads_spend; /* the ledger queue is flushed first */
} OPS[] = {
    {"key/generate", op_generate, 0},   {"key/update", op_update, 1},
    {"key/delete", op_delete, 0},       {"key/block", op_block, 1},
    {"key/unblock", op_unblock, 1},     {"key/regenerate", op_regenerate, 1},
    {"key/info", op_info, 1},           {"key/list", op_list, 1},
    {"spend/logs", op_spend_logs, 1},   {"global/spend/report", op_spend_report, 1},
};

static int find_op(const char *name) {
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (strcmp(OPS[i].name, name) == 0)
      return (int)i;
  return -1;
}

int admin_run(const struct admin_ctx *c, const char *op, const cJSON *args, char **out,
              int *changed, struct oai_error *e) {
  *out = NULL;
  *changed = 0;
  int i = find_op(op);
  if (i < 0) {
    oai_error_set(e, 404, "invalid_request_error", "not_found", NULL, "Unknown operation %s", op);
    return -1;
  }
  return OPS[i].run(c, args, out, changed, e);
}

/* ------------------------------------------------------------------ HTTP */

/* The query arguments any GET operation reads. */
static const char *const QUERY_ARGS[] = {"key", "return_full_object", "api_key", "start_date",
                                         "end_date", "group_by"};

static cJSON *request_args(struct http_request *hr, struct oai_error *e) {
  if (strcmp(http_request_method(hr), "GET") == 0) {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < sizeof QUERY_ARGS / sizeof QUERY_ARGS[0]; i++) {
      const char *v = http_request_query(hr, QUERY_ARGS[i]);
      if (v)
        cJSON_AddStringToObject(o, QUERY_ARGS[i], v);
    }
    if (!o)
      oom(e);
    return o;
  }
  size_t len;
  const char *body = http_request_body(hr, &len);
  cJSON *o = len ? cJSON_ParseWithLength(body, len) : cJSON_CreateObject();
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    oai_error_set(e, 400, "invalid_request_error", "invalid_json", NULL,
                  "The body must be a JSON object");
    return NULL;
  }
  return o;
}

void admin_handle(struct http_request *hr, const char *subpath) {
  (void)subpath;
  const char *op = http_request_path(hr) + 1;
  const char *presented = keys_from_headers(http_request_header(hr, "Authorization"),
                                            http_request_header(hr, "x-api-key"));
  struct oai_error e;
  char self[KEYS_TOKEN_LEN + 1];
  const char *self_token = NULL;
  cJSON *args = NULL;
  if (!gateway_enabled()) {
    oai_error_set(&e, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "The admin API needs gateway mode: set master_key on the proxy");
    goto fail;
  }
  if (!gateway_is_master(presented)) {
    /* A member may read their own key's record. */
    int own = strcmp(op, "key/info") == 0 && !http_request_query(hr, "key") && presented &&
              gateway_token_of(presented, self) == 0 && gateway_key_live(self);
    if (!own) {
      oai_error_set(&e, 401, "invalid_request_error", "invalid_api_key", NULL,
                    "The admin API needs the master key (Authorization: Bearer ...)");
      goto fail;
    }
    self_token = self;
  }
  if (!(args = request_args(hr, &e)))
    goto fail;
  if (admin_queue_submit(hr, op, args, self_token) == 0)
    return; /* answered from the store thread's result */
  args = NULL; /* freed by the queue */
  oai_error_set(&e, 500, "server_error", "internal_error", NULL, "out of memory");
fail:
  cJSON_Delete(args);
  http_request_respond_error(hr, &e);
}

char *admin_execute(const char *op, const cJSON *args, const char *self_token, int *status) {
  struct oai_error e;
  struct admin_ctx c = {NULL, gateway_secret(), self_token};
  int i = find_op(op);
  if (i >= 0 && OPS[i].reads_spend)
    gateway_ledger_flush(); /* every row settled so far is counted */
  char *out = NULL;
  int changed = 0;
  c.st = gateway_store_lock();
  int rc = admin_run(&c, op, args, &out, &changed, &e);
  gateway_store_unlock(changed);
  if (rc == 0) {
    *status = 200;
    return out;
  }
  *status = e.status;
  return oai_error_json(&e);
}
