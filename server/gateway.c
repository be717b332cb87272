#include "gateway.h"

#include <cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../shared/limits.h"
#include "../shared/metrics.h"
#include "../shared/oai_error.h"
#include "../shared/response.h"
#include "admin_queue.h"
#include "exchange.h"
#include "final_usage.h"
#include "http.h"
#include "key_snapshot.h"
#include "ledger.h"
#include "limiter.h"
#include "routes.h"
#include "store/store.h"
#include "worker.h"

#define SNAPSHOT_POLL_MS 200  /* a CLI change is seen within this */
#define LEDGER_BATCH_MS 100   /* what kill -9 can lose (README) */
#define ADMIN_BUSY_MS 2000    /* admin writes wait this long for a lock */
#define LEDGER_MAX_PENDING 200000 /* rows held while the database is unreachable (~100 MB) */
#define MODEL_DEFAULT_MAX_TOKENS 1024
/* How long a hung-up request's settlement waits for Replicate to report what
 * its canceled predictions consumed (then: the estimate, flagged). */
#define FINAL_USAGE_DEADLINE_MS 30000

static struct {
  int open;
  int enabled;
  const struct config *cfg;
  unsigned char secret[KEYS_SECRET_BYTES];
  struct keys_hmac hmac; /* the secret's pads, hashed once */
  char master_token[KEYS_TOKEN_LEN + 1];
  struct store *snap_store, *ledger_store, *admin_store;
  pthread_mutex_t admin_lock;
  struct ledger *ledger;
  int snapshot_started;
} G = {.admin_lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- ledger */

/* On the writer thread, with commits held: what reached the store is no
 * longer added to a reloaded spend (limit_set_spend). */
static int ledger_sink(void *ctx, const struct ledger_row *rows, size_t n) {
  if (store_ledger_insert(ctx, rows, n) != 0) {
    metrics_database_error(MD_LEDGER);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    if (rows[i].in_limits)
      limit_written(limiter_local_table(), rows[i].api_key, rows[i].spend, rows[i].end_ms);
  return 0;
}

/* --------------------------------------------------------------- lifecycle */

char *gateway_db_path(const struct config *cfg, const char *config_path) {
  if (cfg->database_url && cfg->database_url[0]) /* PostgreSQL, shared by replicas */
    return strdup(cfg->database_url);
  if (cfg->database && cfg->database[0])
    return strdup(cfg->database);
  const char *slash = config_path ? strrchr(config_path, '/') : NULL;
  struct buf b = BUF_INIT;
  if (slash)
    buf_append(&b, config_path, (size_t)(slash - config_path + 1));
  if (buf_append_str(&b, "replicate-proxy.db") != 0) {
    buf_free(&b);
    return NULL;
  }
  return b.data;
}

int gateway_open(const struct config *cfg, const char *db_path, char *err, size_t errlen) {
  G.cfg = cfg;
  G.enabled = cfg->master_key && cfg->master_key[0];
  G.snap_store = store_open(db_path, 5000, err, errlen);
  if (!G.snap_store)
    return -1;
  G.ledger_store = store_open(db_path, 5000, err, errlen);
  G.admin_store = G.ledger_store ? store_open(db_path, ADMIN_BUSY_MS, err, errlen) : NULL;
  if (!G.admin_store)
    goto fail;
  if (store_secret(G.snap_store, G.secret) != 0) {
    snprintf(err, errlen, "cannot read or create the database secret in %s",
             store_path_is_pg(db_path) ? "PostgreSQL" : db_path); /* a URL may hold a password */
    goto fail;
  }
  if (keys_hmac_init(&G.hmac, G.secret, sizeof G.secret) != 0 ||
      (G.enabled && keys_hmac_token(&G.hmac, cfg->master_key, G.master_token) != 0)) {
    snprintf(err, errlen, "cannot hash the master key (libcrypto)");
    goto fail;
  }
  /* Limits: local, or shared by the replicas with redis_url. */
  if (limiter_open(cfg->redis_url, db_path, err, errlen) != 0)
    goto fail;
  G.ledger = ledger_start(ledger_sink, G.ledger_store, LEDGER_BATCH_MS);
  if (!G.ledger) {
    snprintf(err, errlen, "cannot start the ledger writer");
    goto fail;
  }
  ledger_set_max_pending(G.ledger, LEDGER_MAX_PENDING);
  G.snapshot_started = 1;
  if (key_snapshot_start(G.snap_store, limiter_local_table(), G.ledger, SNAPSHOT_POLL_MS) != 0) {
    snprintf(err, errlen, "cannot load the keys from %s",
             store_path_is_pg(db_path) ? "PostgreSQL" : db_path);
    goto fail;
  }
  G.open = 1;
  return 0;
fail:
  gateway_close();
  return -1;
}

void gateway_close(void) {
  /* The workers are gone: hang-ups still waiting for Replicate's counts settle
   * on their estimates, while Redis and the ledger still take settlements. */
  final_usage_shutdown();
  admin_queue_stop(); /* it writes through the admin connection */
  if (G.snapshot_started)
    key_snapshot_stop(); /* before the ledger: a reload may hold its commits */
  G.snapshot_started = 0;
  ledger_stop(G.ledger); /* every row reaches the file */
  G.ledger = NULL;
  store_close(G.snap_store);
  store_close(G.ledger_store);
  store_close(G.admin_store);
  G.snap_store = G.ledger_store = G.admin_store = NULL;
  limiter_close();
  if (G.hmac.inner)
    keys_hmac_free(&G.hmac);
  memset(G.secret, 0, sizeof G.secret);
  memset(G.master_token, 0, sizeof G.master_token);
  G.open = 0;
}

/* ------------------------------------------------------------- admission */

struct admission {
  struct snapshot *snap;      /* referenced while key is used */
  const struct snap_key *key; /* NULL: the master key, or no gateway */
  const char *upstream_token;
  const char *route;
  char *model, *user, *client_addr;
  int stream, n;
  /* Its limits; shared ones (Redis) keep the request suspended until they
   * answer, then its route handler runs again and finds them decided. */
  struct limiter_call limits;
  struct http_request *hr;
  int64_t start_wall_ms;
  const char *error_code; /* a refusal made here */
};

static void admission_free(struct admission *a) {
  key_snapshot_put(a->snap);
  free(a->model);
  free(a->user);
  free(a->client_addr);
  free(a);
}

static void respond(struct http_request *hr, int status, const char *type, const char *code,
                    const char *param, const char *message) {
  struct oai_error e;
  oai_error_set(&e, status, type, code, param, "%s", message);
  http_request_respond_error(hr, &e);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The row and the reservation of a request whose settlement waits for its
 * predictions' final counts (a client that hung up). */
struct deferred {
  struct admission *a;
  struct ledger_row row;
  double in_price, out_price; /* the config's when the request ended */
};

/* The one settlement: the real usage's cost reconciles the reservation, the
 * key's spend and the ledger row, all with the same figure. Frees a. */
static void settle_final(struct admission *a, struct ledger_row *row, double in_price,
                         double out_price) {
  long pt = row->prompt_tokens, ct = row->completion_tokens;
  double cost = usage_cost(pt, ct, in_price, out_price);
  int64_t wall = now_wall_ms();
  row->in_limits = a->limits.local_held && a->key; /* before the settle clears it */
  limiter_settle(&a->limits, pt + ct, cost, wall);
  row->spend = cost;
  row->end_ms = wall;
  if (ledger_submit(G.ledger, row) != 0)
    log_msg(LOG_ERROR, "gateway: out of memory: a ledger row was lost");
  admission_free(a);
}

static void on_final_usage(void *ctx, const struct final_usage_result *r) {
  struct deferred *d = ctx;
  d->row.prompt_tokens = r->prompt_tokens;
  d->row.completion_tokens = r->completion_tokens;
  d->row.tokens_estimated = r->estimated;
  if (r->created_ids) {
    /* Predictions whose create was in flight at the hang-up are charged: list them. */
    struct buf ids = BUF_INIT;
    const char *had = d->row.prediction_ids;
    if ((had && (buf_append_str(&ids, had) != 0 || buf_append_str(&ids, ",") != 0)) ||
        buf_append_str(&ids, r->created_ids) != 0) {
      log_msg(LOG_ERROR, "gateway: out of memory: predictions %s are charged but not listed",
              r->created_ids);
      buf_free(&ids);
    } else {
      free(d->row.prediction_ids);
      d->row.prediction_ids = ids.data;
    }
  }
  settle_final(d->a, &d->row, d->in_price, d->out_price);
  free(d);
}

/* A client that hung up left predictions whose counts are estimates, or
 * creates still in flight (their predictions have no id yet): give the
 * parallel slot back now, keep the budget reserved, and settle once Replicate
 * reports what they consumed. 0 deferred (row and a taken), -1 not. */
static int defer_settle(struct http_request *hr, struct admission *a, struct ledger_row *row,
                        const struct config *cfg) {
  struct exchange_pred_usage *u;
  size_t n;
  char *token;
  struct http_request_end end = http_request_end_info(hr);
  struct deferred *d = calloc(1, sizeof *d);
  if (!d || exchange_pred_usage(end.ex, &u, &n, &token) != 0) {
    free(d);
    return -1;
  }
  *d = (struct deferred){.a = a, .row = *row, .in_price = cfg->input_price_per_mtok,
                         .out_price = cfg->output_price_per_mtok};
  /* Before the start: the settlement may run inside it (and free a). */
  limiter_release_slot(&a->limits);
  if (final_usage_start(http_request_worker(hr), u, n, token, FINAL_USAGE_DEADLINE_MS,
                        on_final_usage, d) != 0) {
    free(d);
    return -1; /* settled now, on the estimate (the slot is free already) */
  }
  memset(row, 0, sizeof *row); /* d owns its strings now */
  return 0;
}

/* The request ended: reconcile the reservation and write its ledger row. */
static void settle(struct http_request *hr, void *ctx) {
  struct admission *a = ctx;
  struct http_request_end end = http_request_end_info(hr);
  struct exchange_outcome o;
  int have = end.ex && exchange_outcome(end.ex, &o) == 0;
  const struct config *cfg = http_request_config(hr); /* a reload's prices and model */
  struct ledger_row row = {
      .request_id = strdup(http_request_id(hr)), /* X-Request-Id: answer, log, Replicate */
      .api_key = a->key ? strdup(a->key->token) : NULL,
      .key_alias = a->key ? dup_or_null(a->key->alias) : NULL,
      .route = strdup(a->route),
      .model = a->model,
      .upstream_model = strdup(cfg->model),
      .stream = a->stream,
      .n = have ? o.n : a->n,
      /* nginx's 499: the client left before any answer was sent. */
      .status = end.status ? end.status : end.client_gone ? 499 : 0,
      .error_code = dup_or_null(a->error_code),
      .prompt_tokens = have ? o.prompt_tokens : 0,
      .completion_tokens = have ? o.completion_tokens : 0,
      .tokens_estimated = have && o.estimated,
      .start_ms = a->start_wall_ms,
      .completion_start_ms =
          end.first_byte_ms ? a->start_wall_ms + (int64_t)(end.first_byte_ms - end.started_ms) : 0,
      .prediction_ids = have ? o.prediction_ids : NULL,
      .finish_reason = have ? dup_or_null(o.finish_reason) : NULL,
      .user = a->user,
      .client_addr = a->client_addr,
  };
  a->model = a->user = a->client_addr = NULL; /* the row owns them now */
  if (a->key && a->key->alias)
    http_request_set_key_alias(hr, a->key->alias); /* for the access log line */
  /* A create orphaned by a failing exchange is charged the same way. */
  int wait = (end.client_gone && row.tokens_estimated) ||
             (end.ex && exchange_creates_pending(end.ex));
  if (wait && defer_settle(hr, a, &row, cfg) == 0)
    return;
  settle_final(a, &row, cfg->input_price_per_mtok, cfg->output_price_per_mtok);
}

/* The tokens of the keys this thread saw last: a key is hashed once per
 * worker, not on every request (the HMAC is a microsecond of OpenSSL context
 * copies). Compared in constant time; the table lives as long as the thread. */
#define TOKEN_MEMO 16
#define TOKEN_MEMO_KEY_MAX 96 /* longer keys are hashed every time */

struct token_memo {
  size_t len;
  char key[TOKEN_MEMO_KEY_MAX];
  char token[KEYS_TOKEN_LEN + 1];
};

static _Thread_local struct token_memo token_memo[TOKEN_MEMO];

static int token_of(const char *key, char out[KEYS_TOKEN_LEN + 1]) {
  size_t len = strlen(key);
  if (len == 0 || len >= TOKEN_MEMO_KEY_MAX)
    return keys_hmac_token(&G.hmac, key, out);
  uint32_t h = 2166136261u; /* FNV-1a picks the slot */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)key[i]) * 16777619u;
  struct token_memo *m = &token_memo[h % TOKEN_MEMO];
  if (m->len == len && CRYPTO_memcmp(m->key, key, len) == 0) {
    memcpy(out, m->token, sizeof m->token);
    return 0;
  }
  if (keys_hmac_token(&G.hmac, key, out) != 0)
    return -1;
  m->len = len;
  memcpy(m->key, key, len);
  memcpy(m->token, out, sizeof m->token);
  return 0;
}

/* The admission whose route handler runs again with Redis's answer. */
static _Thread_local struct admission *resuming;

/* The refusal's count in /metrics, by key alias and reason. */
static void count_refusal(struct http_request *hr, const struct admission *a,
                          enum metrics_refusal why) {
  struct metrics_block *b = http_request_worker(hr)->up.metrics;
  if (b)
    metrics_refusal(b, a->key ? a->key->alias : NULL, why);
}

struct admission *gateway_authorize(struct http_request *hr, const char *route) {
  if (resuming && resuming->hr == hr)
    return resuming;
  const struct config *cfg = http_request_config(hr);
  const char *presented = keys_from_headers(http_request_header(hr, "Authorization"),
                                            http_request_header(hr, "x-api-key"));
  struct admission *a = calloc(1, sizeof *a);
  if (!a) {
    respond(hr, 500, "server_error", "internal_error", NULL, "out of memory");
    return NULL;
  }
  a->route = route;
  a->hr = hr;
  a->start_wall_ms = now_wall_ms();
  char addr[64];
  if (http_request_client_addr(hr, addr, sizeof addr) == 0)
    a->client_addr = strdup(addr);
  http_request_on_done(hr, settle, a); /* from here, every answer is settled */
  if (!G.enabled) {
    /* One developer: the configured token, or the client's passed through. */
    const char *configured = cfg->replicate_api_token;
    a->upstream_token = configured && configured[0] ? configured : presented;
    if (a->upstream_token)
      return a;
    a->error_code = "invalid_api_key";
    count_refusal(hr, a, MF_INVALID_KEY);
    respond(hr, 401, "invalid_request_error", "invalid_api_key", NULL,
            "You didn't provide an API key. Pass your Replicate API token as the Bearer key "
            "(Authorization: Bearer r8_...), or configure replicate_api_token on the proxy.");
    return NULL;
  }
  a->upstream_token = cfg->replicate_api_token;
  char token[KEYS_TOKEN_LEN + 1];
  if (presented && token_of(presented, token) == 0) {
    if (keys_equal(token, G.master_token))
      return a;
    a->snap = key_snapshot_get();
    const struct snap_key *k = key_snapshot_find(a->snap, token);
    if (k && !k->blocked && (!k->expires_ms || k->expires_ms > a->start_wall_ms)) {
      a->key = k;
      return a;
    }
  }
  a->error_code = "invalid_api_key";
  count_refusal(hr, a, MF_INVALID_KEY);
  respond(hr, 401, "invalid_request_error", "invalid_api_key", NULL,
          presented ? "Invalid API key: unknown, blocked, expired or deleted. Ask the gateway's "
                      "admin for a key (Authorization: Bearer sk-...)."
                    : "You didn't provide an API key. This gateway needs a key issued by its "
                      "admin (Authorization: Bearer sk-...).");
  return NULL;
}

const char *gateway_upstream_token(const struct admission *a) { return a->upstream_token; }

int gateway_scope(struct http_request *hr, const struct admission *a,
                  char out[KEYS_TOKEN_LEN + 1]) {
  if (a->key) {
    memcpy(out, a->key->token, KEYS_TOKEN_LEN + 1);
    return 0;
  }
  const char *presented = keys_from_headers(http_request_header(hr, "Authorization"),
                                            http_request_header(hr, "x-api-key"));
  out[0] = '\0';
  return presented ? keys_hmac_token(&G.hmac, presented, out) : 0;
}

/* The request's `user` field, read only when the body names one. */
static char *find_user(const char *body, size_t len) {
  const char *p = body, *end = body + len;
  int named = 0;
  while (!named && (p = memmem(p, (size_t)(end - p), "\"user\"", 6)) != NULL) {
    p += 6;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
      p++;
    named = p < end && *p == ':';
  }
  if (!named)
    return NULL;
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "user");
  char *out = cJSON_IsString(u) ? strdup(u->valuestring) : NULL;
  cJSON_Delete(root);
  return out;
}

static int model_allowed(const struct snap_key *k, const char *model) {
  if (!k->n_models)
    return 1;
  for (size_t i = 0; i < k->n_models; i++)
    if (strcmp(k->models[i], model) == 0)
      return 1;
  return 0;
}

/* Header helpers: 0, or -1 when out of memory (the header is then missing;
 * callers log it and answer anyway: the headers are advice). */
static int add_long_header(struct http_request *hr, const char *name, long v) {
  char text[32];
  limit_format_long(v, text, sizeof text);
  return http_request_add_header(hr, name, text);
}

static int add_duration_header(struct http_request *hr, const char *name, int64_t ms) {
  char text[32];
  limit_format_duration(ms, text, sizeof text);
  return http_request_add_header(hr, name, text);
}

static int ratelimit_headers(struct http_request *hr, const struct limit_state *st) {
  int rc = 0;
  if (st->req_limit > 0)
    rc |= add_long_header(hr, "x-ratelimit-limit-requests", st->req_limit) |
          add_long_header(hr, "x-ratelimit-remaining-requests", st->req_remaining) |
          add_duration_header(hr, "x-ratelimit-reset-requests", st->req_reset_ms);
  if (st->tok_limit > 0)
    rc |= add_long_header(hr, "x-ratelimit-limit-tokens", st->tok_limit) |
          add_long_header(hr, "x-ratelimit-remaining-tokens", st->tok_remaining) |
          add_duration_header(hr, "x-ratelimit-reset-tokens", st->tok_reset_ms);
  return rc;
}

static const struct {
  enum limit_kind kind;
  const char *name;
} LIMIT_NAMES[] = {
    {LIMIT_RPM, "requests per min (RPM)"},
    {LIMIT_TPM, "tokens per min (TPM)"},
    {LIMIT_PARALLEL, "parallel requests (max_parallel_requests)"},
};

static void refuse(struct http_request *hr, struct admission *a, const struct limit_state *st,
                   long tokens, double cost) {
  struct oai_error e;
  const char *alias = a->key->alias ? a->key->alias : "";
  count_refusal(hr, a, st->refused == LIMIT_BUDGET ? MF_BUDGET
                       : st->refused == LIMIT_TPM  ? MF_TPM
                       : st->refused == LIMIT_PARALLEL ? MF_PARALLEL
                                                       : MF_RPM);
  if (st->refused == LIMIT_BUDGET) {
    a->error_code = "insufficient_quota";
    oai_error_set(&e, 429, "insufficient_quota", "insufficient_quota", NULL,
                  "Budget exceeded for key %s: spent $%.6f of max_budget $%.6f (this request "
                  "may cost up to $%.6f)%s",
                  alias[0] ? alias : "(no alias)", st->used, st->limit, cost,
                  st->retry_after_ms < 0 ? "; the budget does not reset"
                                         : "; the budget resets at budget_reset_at");
    if (http_request_add_header(hr, "x-should-retry", "false") != 0)
      log_msg(LOG_WARN, "gateway: out of memory: x-should-retry not sent");
  } else {
    const char *name = "a limit";
    for (size_t i = 0; i < sizeof LIMIT_NAMES / sizeof LIMIT_NAMES[0]; i++)
      if (LIMIT_NAMES[i].kind == st->refused)
        name = LIMIT_NAMES[i].name;
    a->error_code = "rate_limit_exceeded";
    oai_error_set(&e, 429, "requests", "rate_limit_exceeded", NULL,
                  "Rate limit reached for key %s on %s: Limit %.0f, Used %.0f, Requested %ld.",
                  alias[0] ? alias : "(no alias)", name, st->limit, st->used,
                  st->refused == LIMIT_TPM ? tokens : 1L);
    if (st->refused == LIMIT_TPM)
      snprintf(e.type, sizeof e.type, "tokens");
  }
  if (st->retry_after_ms >= 0) {
    long secs = (long)((st->retry_after_ms + 999) / 1000);
    snprintf(e.retry_after, sizeof e.retry_after, "%ld", secs > 0 ? secs : 1);
    if (add_long_header(hr, "retry-after-ms", (long)st->retry_after_ms) != 0)
      log_msg(LOG_WARN, "gateway: out of memory: retry-after-ms not sent");
  }
  http_request_respond_error(hr, &e);
}

/* The shared limits answered: run the request's handler again. */
static void resume_admission(void *ctx) {
  struct admission *a = ctx;
  resuming = a;
  routes_redispatch(a->hr);
  resuming = NULL;
  http_request_wake(a->hr);
}

int gateway_admit(struct http_request *hr, struct admission *a, const struct gateway_request *r) {
  a->stream = r->stream;
  a->n = r->n;
  free(a->model); /* set already when the handler runs again (Redis) */
  free(a->user);
  a->model = r->model ? strdup(r->model) : NULL;
  a->user = find_user(r->body, r->body_len);
  if (!a->key)
    return 0; /* the master key, or no gateway: no limits */
  if (r->model && !model_allowed(a->key, r->model)) {
    struct oai_error e;
    a->error_code = "model_not_allowed";
    count_refusal(hr, a, MF_MODEL_NOT_ALLOWED);
    oai_error_set(&e, 403, "invalid_request_error", "model_not_allowed", "model",
                  "This key is not allowed to use the model '%s'", r->model);
    http_request_respond_error(hr, &e);
    return -1;
  }
  const struct config *cfg = http_request_config(hr);
  /* The worst case: every prediction reads the prompt (estimated from the
   * whole body, an overestimate) and writes max_tokens. */
  long prompt = usage_estimate_tokens(NULL, r->body_len) * (long)r->n;
  long out = (r->max_tokens > 0 ? r->max_tokens : MODEL_DEFAULT_MAX_TOKENS) * (long)r->n;
  double cost = usage_cost(prompt, out, cfg->input_price_per_mtok, cfg->output_price_per_mtok);
  struct limiter_call *c = &a->limits;
  if (!c->decided) {
    memcpy(c->key, a->key->token, sizeof c->key);
    c->spec = a->key->spec;
    c->tokens = prompt + out;
    c->cost = cost;
    /* A slot left by a replica that died is freed after the longest a request may run. */
    c->lease_ms = cfg->request_timeout_ms + 120000;
    c->fail_closed = cfg->redis_fail_closed;
  }
  enum limiter_status got = limiter_admit(c, http_request_worker(hr), resume_admission, a);
  if (c->fallback && http_request_worker(hr)->up.metrics)
    metrics_redis_fallback(http_request_worker(hr)->up.metrics);
  switch (got) {
  case LIMITER_WAIT:
    return 1;
  case LIMITER_NOMEM:
    respond(hr, 500, "server_error", "internal_error", NULL, "out of memory");
    return -1;
  case LIMITER_UNAVAILABLE:
    a->error_code = "limits_unavailable";
    respond(hr, 503, "server_error", "limits_unavailable", NULL,
            "The shared rate limits (Redis) are unavailable; try again shortly.");
    return -1;
  case LIMITER_REFUSED:
    if (ratelimit_headers(hr, &c->st) != 0)
      log_msg(LOG_WARN, "gateway: out of memory: rate-limit headers not sent");
    refuse(hr, a, &c->st, prompt + out, cost);
    return -1;
  case LIMITER_ADMITTED:
    break;
  }
  if (ratelimit_headers(hr, &c->st) != 0)
    log_msg(LOG_WARN, "gateway: out of memory: rate-limit headers not sent");
  return 0;
}

/* ------------------------------------------------------------ admin side */

int gateway_enabled(void) { return G.enabled; }

int gateway_is_master(const char *key) {
  char token[KEYS_TOKEN_LEN + 1];
  return G.enabled && key && keys_hmac_token(&G.hmac, key, token) == 0 &&
         keys_equal(token, G.master_token);
}

int gateway_token_of(const char *key, char out[KEYS_TOKEN_LEN + 1]) {
  return keys_hmac_token(&G.hmac, key, out);
}

int gateway_key_live(const char *token) {
  struct snapshot *s = key_snapshot_get();
  const struct snap_key *k = key_snapshot_find(s, token);
  int live = k && !k->blocked && (!k->expires_ms || k->expires_ms > now_wall_ms());
  key_snapshot_put(s);
  return live;
}

struct store *gateway_store_lock(void) {
  pthread_mutex_lock(&G.admin_lock);
  return G.admin_store;
}

void gateway_store_unlock(int changed) {
  /* The writer's own connection reloads at once: "stops at once" holds for
   * every worker before the answer goes out. */
  if (changed && key_snapshot_reload(G.admin_store) != 0)
    log_msg(LOG_WARN, "gateway: cannot reload the keys after an admin change");
  pthread_mutex_unlock(&G.admin_lock);
}

int gateway_ledger_counts(size_t *queued, uint64_t *written, uint64_t *dropped) {
  if (!G.ledger)
    return -1;
  ledger_counts(G.ledger, queued, dropped);
  *written = ledger_written(G.ledger);
  return 0;
}

void gateway_ledger_flush(void) {
  if (G.ledger)
    ledger_flush(G.ledger);
}

const unsigned char *gateway_secret(void) { return G.secret; }
