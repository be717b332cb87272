#include "metrics.h"

#include "num_text.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds: LLM latencies run from tens of milliseconds to minutes. */
static const double TIME_BOUNDS[METRICS_N_BUCKETS] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
/* Tokens: OpenTelemetry's advice for gen_ai.client.token.usage. */
#define N_TOKEN_BOUNDS 14
static const double TOKEN_BOUNDS[N_TOKEN_BOUNDS] = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};

static const int STATUS_CODES[METRICS_N_STATUS - 1] = {
    200, 204, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 422, 429, 431, 499, 500, 502, 503};

static const char *const ROUTE_NAMES[MR__N] = {"chat",   "completions", "responses", "messages",
                                              "models", "health",      "metrics",   "other"};
static const char *const KIND_NAMES[MU__N] = {"create", "poll", "stream", "cancel", "list"};
static const char *const OUTCOME_NAMES[MO__N] = {"ok", "client_error", "rate_limited",
                                                 "server_error", "transport_error"};
static const char *const CANCEL_NAMES[MC__N] = {"hangup", "stop", "timeout", "shutdown",
                                                "other"};
static const char *const REFUSAL_NAMES[MF__N] = {"rpm",    "tpm",
                                                 "parallel", "budget",
                                                 "model_not_allowed", "invalid_key"};

/* Path -> route label; prefixes match the route table (with or without /v1). */
static const struct {
  const char *path;
  int prefix;
  enum metrics_route route;
} ROUTE_PATHS[] = {
    {"/v1/chat/completions", 0, MR_CHAT}, {"/chat/completions", 0, MR_CHAT},
    {"/v1/completions", 0, MR_COMPLETIONS}, {"/completions", 0, MR_COMPLETIONS},
    {"/v1/responses", 0, MR_RESPONSES}, {"/responses", 0, MR_RESPONSES},
    {"/v1/messages", 1, MR_MESSAGES}, {"/messages", 1, MR_MESSAGES},
    {"/v1/models", 1, MR_MODELS}, {"/models", 1, MR_MODELS},
    {"/health", 0, MR_HEALTH}, {"/metrics", 0, MR_METRICS},
};

const char *metrics_route_name(enum metrics_route r) { return ROUTE_NAMES[r]; }

enum metrics_route metrics_route_of(const char *path) {
  for (size_t i = 0; i < sizeof ROUTE_PATHS / sizeof ROUTE_PATHS[0]; i++) {
    size_t n = strlen(ROUTE_PATHS[i].path);
    if (ROUTE_PATHS[i].prefix ? strncmp(path, ROUTE_PATHS[i].path, n) == 0
                              : strcmp(path, ROUTE_PATHS[i].path) == 0)
      return ROUTE_PATHS[i].route;
  }
  return MR_OTHER;
}

/* ---- writers: one writer per block, so load + store is enough ---- */

static void add(metrics_u64 *x, uint64_t d) {
  atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + d,
                        memory_order_relaxed);
}

static void add_i(metrics_i64 *x, int64_t d) {
  atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + d,
                        memory_order_relaxed);
}

static uint64_t get(const metrics_u64 *x) {
  return atomic_load_explicit(x, memory_order_relaxed);
}

static void observe(struct metrics_hist *h, const double *bounds, size_t n, double v,
                    uint64_t sum_add) {
  size_t i = 0;
  while (i < n && v > bounds[i])
    i++;
  add(&h->bucket[i], 1);
  add(&h->count, 1);
  add(&h->sum_us, sum_add);
}

static void observe_us(struct metrics_hist *h, uint64_t us) {
  observe(h, TIME_BOUNDS, METRICS_N_BUCKETS, (double)us / 1e6, us);
}

static size_t status_index(int status) {
  for (size_t i = 0; i < METRICS_N_STATUS - 1; i++)
    if (STATUS_CODES[i] == status)
      return i;
  return METRICS_N_STATUS - 1;
}

/* The model's slot in this block: found, added, or slot 0 ("other"). */
static struct metrics_model *model_slot(struct metrics_table *t, const char *name) {
  if (!name)
    return &t->row[1];
  unsigned n = atomic_load_explicit(&t->n, memory_order_relaxed);
  for (unsigned i = 2; i < n; i++)
    if (strcmp(t->row[i].name, name) == 0)
      return &t->row[i];
  if (n == METRICS_MAX_MODELS || strlen(name) >= METRICS_MODEL_LEN)
    return &t->row[0];
  memcpy(t->row[n].name, name, strlen(name) + 1);
  atomic_store_explicit(&t->n, n + 1, memory_order_release);
  return &t->row[n];
}

void metrics_block_init(struct metrics_block *b) {
  memset(b, 0, sizeof *b);
  for (int t = 0; t < MT__N; t++) {
    memcpy(b->tables[t].row[0].name, "other", sizeof "other");
    b->tables[t].row[1].name[0] = '\0'; /* slot 1: no model / no key ("") */
    atomic_store(&b->tables[t].n, 2);
  }
}

void metrics_request_begin(struct metrics_block *b) { add_i(&b->in_flight, 1); }

void metrics_request_done(struct metrics_block *b, const struct metrics_request *r) {
  add_i(&b->in_flight, -1);
  struct metrics_model *m = model_slot(&b->tables[MT_MODEL], r->model);
  struct metrics_model *k = model_slot(&b->tables[MT_KEY], r->key_alias);
  add(&m->requests[r->route][status_index(r->status)], 1);
  add(&k->requests[r->route][status_index(r->status)], 1);
  observe_us(&b->duration[r->route], r->duration_us);
  /* Every request: one with no call to Replicate is all overhead. */
  observe_us(&b->overhead, r->duration_us > r->upstream_us ? r->duration_us - r->upstream_us : 0);
  if (r->first_byte && r->model)
    observe_us(&b->ttft, r->ttft_us);
  if (r->input_tokens > 0) {
    add(&m->input_tokens, (uint64_t)r->input_tokens);
    add(&k->input_tokens, (uint64_t)r->input_tokens);
    observe(&b->token_usage[0], TOKEN_BOUNDS, N_TOKEN_BOUNDS, (double)r->input_tokens,
            (uint64_t)r->input_tokens);
  }
  if (r->output_tokens > 0) {
    add(&m->output_tokens, (uint64_t)r->output_tokens);
    add(&k->output_tokens, (uint64_t)r->output_tokens);
    observe(&b->token_usage[1], TOKEN_BOUNDS, N_TOKEN_BOUNDS, (double)r->output_tokens,
            (uint64_t)r->output_tokens);
    if (r->first_byte && r->duration_us >= r->ttft_us)
      observe_us(&b->tpot, (r->duration_us - r->ttft_us) / (uint64_t)r->output_tokens);
  }
  if (r->cost_usd > 0) {
    uint64_t nusd = (uint64_t)(r->cost_usd * 1e9 + 0.5);
    add(&m->cost_nusd, nusd);
    add(&k->cost_nusd, nusd);
  }
}

void metrics_stream_opened(struct metrics_block *b) { add_i(&b->open_streams, 1); }
void metrics_stream_closed(struct metrics_block *b) { add_i(&b->open_streams, -1); }

void metrics_upstream_call(struct metrics_block *b, enum metrics_up_kind kind, long status,
                           int transport_error, uint64_t latency_us) {
  enum metrics_up_outcome o = transport_error || status == 0 ? MO_TRANSPORT
                              : status == 429                ? MO_429
                              : status >= 500                ? MO_5XX
                              : status >= 400                ? MO_4XX
                                                             : MO_OK;
  add(&b->upstream[kind][o], 1);
  observe_us(&b->upstream_latency[kind], latency_us);
}

void metrics_retry(struct metrics_block *b, enum metrics_up_kind kind) {
  add(&b->retries[kind], 1);
}

void metrics_cancel(struct metrics_block *b, enum metrics_cancel reason) {
  add(&b->cancels[reason], 1);
}

void metrics_refusal(struct metrics_block *b, const char *key_alias, enum metrics_refusal why) {
  add(&model_slot(&b->tables[MT_KEY], key_alias)->refusals[why], 1);
}

void metrics_redis_fallback(struct metrics_block *b) { add(&b->redis_fallbacks, 1); }

/* ---- rendering ---- */

/* A label value with \, " and newline escaped (text format 0.0.4). */
static int label_value(struct buf *out, const char *s) {
  for (; *s; s++) {
    const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
    if (esc ? buf_append_str(out, esc) != 0 : buf_append_char(out, *s) != 0)
      return -1;
  }
  return 0;
}

/* The render appends strings and digits, no printf: a scrape was ~60
 * printf calls (~1.5k instructions each), half of its cost. */
static int header(struct buf *out, const char *name, const char *type, const char *help) {
  return buf_append_strs(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n",
                         NULL);
}

/* One histogram summed over the blocks; hist_at picks it from a block. */
typedef const struct metrics_hist *(*hist_at)(const struct metrics_block *b, size_t arg);

/* The bounds' "%g" text, formatted once per process (a render used to
 * printf every bucket line of every series). */
#define BOUND_TEXT_MAX 16
static char time_bound_text[METRICS_N_BUCKETS][BOUND_TEXT_MAX];
static char token_bound_text[N_TOKEN_BOUNDS][BOUND_TEXT_MAX];
static pthread_once_t bound_text_once = PTHREAD_ONCE_INIT;

static void format_bounds(void) {
  for (size_t i = 0; i < METRICS_N_BUCKETS; i++)
    snprintf(time_bound_text[i], BOUND_TEXT_MAX, "%g", TIME_BOUNDS[i]);
  for (size_t i = 0; i < N_TOKEN_BOUNDS; i++)
    snprintf(token_bound_text[i], BOUND_TEXT_MAX, "%g", TOKEN_BOUNDS[i]);
}


/* What "%.6f" writes for sum (micro: sum / 1e6, else sum itself), from its
 * integer digits: exact while the double holds sum and its error stays far
 * below half a millionth (sum < 2^51 us, 71 years; or 2^51 tokens). */
static char *fixed6(char *o, uint64_t sum, int micro) {
  if (sum >= (1ull << 51)) {
    int n = snprintf(o, NUM_DEC_MAX + 8, "%.6f", micro ? (double)sum * 1e-6 : (double)sum);
    return o + (n > 0 && n < NUM_DEC_MAX + 8 ? n : 0);
  }
  o = num_u64(o, micro ? sum / 1000000 : sum);
  *o++ = '.';
  uint64_t frac = micro ? sum % 1000000 : 0;
  for (int i = 5; i >= 0; i--, frac /= 10)
    o[i] = (char)('0' + frac % 10);
  return o + 6;
}

/* Room for a bucket line past its prefix: le="...", "} ", 20 digits, \n. */
#define BUCKET_TAIL (BOUND_TEXT_MAX + 32)

static int hist_series(struct buf *out, const char *name, const char *labels,
                       struct metrics_block *const *blocks, size_t n, hist_at at, size_t arg,
                       const char (*bound_text)[BOUND_TEXT_MAX], size_t nb, double sum_scale) {
  uint64_t cum = 0, count = 0, sum = 0;
  /* name_bucket{labels,le=" written once, copied to every bucket line */
  char prefix[256];
  int np = snprintf(prefix, sizeof prefix, "%s_bucket{%s%sle=\"", name, labels,
                    labels[0] ? "," : "");
  if (np < 0 || (size_t)np >= sizeof prefix ||
      buf_reserve(out, (nb + 1) * ((size_t)np + BUCKET_TAIL)) != 0)
    return -1;
  char *o = out->data + out->len;
  for (size_t i = 0; i <= nb; i++) {
    for (size_t k = 0; k < n; k++)
      cum += get(&at(blocks[k], arg)->bucket[i]);
    memcpy(o, prefix, (size_t)np);
    o += np;
    const char *le = i < nb ? bound_text[i] : "+Inf";
    size_t nl = strlen(le);
    memcpy(o, le, nl);
    o += nl;
    memcpy(o, "\"} ", 3);
    o = num_u64(o + 3, cum);
    *o++ = '\n';
  }
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  for (size_t k = 0; k < n; k++) {
    count += get(&at(blocks[k], arg)->count);
    sum += get(&at(blocks[k], arg)->sum_us);
  }
  const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
  char sum_text[NUM_DEC_MAX + 8], count_text[NUM_DEC_MAX + 1];
  *fixed6(sum_text, sum, sum_scale != 1.0) = '\0';
  *num_u64(count_text, count) = '\0';
  return buf_append_strs(out, name, "_sum", open, labels, close, " ", sum_text, "\n", name,
                         "_count", open, labels, close, " ", count_text, "\n", NULL);
}

static const struct metrics_hist *at_duration(const struct metrics_block *b, size_t r) {
  return &b->duration[r];
}
static const struct metrics_hist *at_upstream(const struct metrics_block *b, size_t k) {
  return &b->upstream_latency[k];
}
static const struct metrics_hist *at_tokens(const struct metrics_block *b, size_t t) {
  return &b->token_usage[t];
}
static const struct metrics_hist *at_ttft(const struct metrics_block *b, size_t u) {
  (void)u;
  return &b->ttft;
}
static const struct metrics_hist *at_tpot(const struct metrics_block *b, size_t u) {
  (void)u;
  return &b->tpot;
}
static const struct metrics_hist *at_overhead(const struct metrics_block *b, size_t u) {
  (void)u;
  return &b->overhead;
}

/* The distinct model names over all blocks (slot 0 "other" and 1 "" first). */
struct model_names {
  const char *name[METRICS_MAX_MODELS * 8];
  size_t n;
};

static void collect_models(struct model_names *mn, struct metrics_block *const *blocks,
                           size_t n, enum metrics_table_id t) {
  mn->name[0] = "other";
  mn->name[1] = "";
  mn->n = 2;
  for (size_t k = 0; k < n; k++) {
    const struct metrics_table *tb = &blocks[k]->tables[t];
    unsigned nm = atomic_load_explicit(&tb->n, memory_order_acquire);
    for (unsigned i = 2; i < nm; i++) {
      size_t j = 2;
      while (j < mn->n && strcmp(mn->name[j], tb->row[i].name) != 0)
        j++;
      if (j == mn->n && mn->n < sizeof mn->name / sizeof mn->name[0])
        mn->name[mn->n++] = tb->row[i].name;
    }
  }
}

/* Sum of a per-model counter for one name over all blocks. */
typedef const metrics_u64 *(*model_at)(const struct metrics_model *m, size_t a, size_t b);

static uint64_t model_sum(struct metrics_block *const *blocks, size_t n,
                          enum metrics_table_id t, size_t name_index, const char *name,
                          model_at at, size_t a, size_t b2) {
  uint64_t s = 0;
  for (size_t k = 0; k < n; k++) {
    const struct metrics_table *tb = &blocks[k]->tables[t];
    unsigned nm = atomic_load_explicit(&tb->n, memory_order_acquire);
    for (unsigned i = name_index < 2 ? (unsigned)name_index : 2; i < nm; i++)
      if (name_index < 2 || strcmp(tb->row[i].name, name) == 0) {
        s += get(at(&tb->row[i], a, b2));
        break;
      }
  }
  return s;
}

static const metrics_u64 *at_requests(const struct metrics_model *m, size_t r, size_t s) {
  return &m->requests[r][s];
}
static const metrics_u64 *at_in(const struct metrics_model *m, size_t a, size_t b) {
  (void)a, (void)b;
  return &m->input_tokens;
}
static const metrics_u64 *at_out(const struct metrics_model *m, size_t a, size_t b) {
  (void)a, (void)b;
  return &m->output_tokens;
}
static const metrics_u64 *at_cost(const struct metrics_model *m, size_t a, size_t b) {
  (void)a, (void)b;
  return &m->cost_nusd;
}

static const metrics_u64 *at_refusal(const struct metrics_model *m, size_t why, size_t b) {
  (void)b;
  return &m->refusals[why];
}

/* Refusals by key alias and reason (the key table). */
static int render_refusals(struct buf *out, struct metrics_block *const *blocks, size_t n,
                           const struct model_names *mn) {
  if (header(out, "replicate_proxy_refusals_total", "counter",
             "Requests the gateway refused, by key alias and reason (rpm, tpm, parallel, "
             "budget, model_not_allowed, invalid_key).") != 0)
    return -1;
  for (size_t j = 0; j < mn->n; j++)
    for (size_t why = 0; why < MF__N; why++) {
      uint64_t v = model_sum(blocks, n, MT_KEY, j, mn->name[j], at_refusal, why, 0);
      if (!v)
        continue;
      if (buf_append_str(out, "replicate_proxy_refusals_total{key_alias=\"") != 0 ||
          label_value(out, mn->name[j]) != 0 ||
          buf_printf(out, "\",reason=\"%s\"} %llu\n", REFUSAL_NAMES[why],
                     (unsigned long long)v) != 0)
        return -1;
    }
  return 0;
}

static int render_db_errors(struct buf *out);

/* The gateway's ledger, its database and Redis, as read at scrape time. */
static int render_stores(struct buf *out, struct metrics_block *const *blocks, size_t n,
                         const struct metrics_process *p) {
  uint64_t fallbacks = 0;
  for (size_t k = 0; k < n; k++)
    fallbacks += get(&blocks[k]->redis_fallbacks);
  if (p->has_ledger &&
      (header(out, "replicate_proxy_ledger_rows_written_total", "counter",
              "Ledger rows stored in the database.") != 0 ||
       buf_printf(out, "replicate_proxy_ledger_rows_written_total %llu\n", p->ledger_written) != 0 ||
       header(out, "replicate_proxy_ledger_rows_queued", "gauge",
              "Ledger rows waiting for the database.") != 0 ||
       buf_printf(out, "replicate_proxy_ledger_rows_queued %llu\n", p->ledger_queued) != 0 ||
       header(out, "replicate_proxy_ledger_rows_dropped_total", "counter",
              "Ledger rows dropped because too many waited for the database.") != 0 ||
       buf_printf(out, "replicate_proxy_ledger_rows_dropped_total %llu\n", p->ledger_dropped) != 0 ||
       header(out, "replicate_proxy_database_up", "gauge",
              "1 when the last read of the keys' database worked, by backend.") != 0 ||
       buf_printf(out, "replicate_proxy_database_up{backend=\"%s\"} %d\n",
                  p->db_shared ? "postgresql" : "sqlite", p->db_up ? 1 : 0) != 0))
    return -1;
  if (p->has_ledger && render_db_errors(out) != 0)
    return -1;
  if (p->redis_enabled &&
      (header(out, "replicate_proxy_redis_up", "gauge",
              "1 when the last call to Redis (shared limits) worked.") != 0 ||
       buf_printf(out, "replicate_proxy_redis_up %d\n", p->redis_up ? 1 : 0) != 0 ||
       header(out, "replicate_proxy_redis_failure_mode", "gauge",
              "What requests get while Redis is down (redis_failure): 1 for the mode set.") != 0 ||
       buf_printf(out, "replicate_proxy_redis_failure_mode{mode=\"%s\"} 1\n",
                  p->redis_fail_closed ? "closed" : "open") != 0 ||
       header(out, "replicate_proxy_redis_local_fallbacks_total", "counter",
              "Admissions decided by this replica's own counts because Redis was down.") != 0 ||
       buf_printf(out, "replicate_proxy_redis_local_fallbacks_total %llu\n",
                  (unsigned long long)fallbacks) != 0))
    return -1;
  return 0;
}

/* The status label's text into code (NUM_DEC_MAX + 1 bytes). */
static void status_label(char *code, size_t s) {
  if (s < METRICS_N_STATUS - 1)
    *num_i64(code, STATUS_CODES[s]) = '\0';
  else
    memcpy(code, "other", sizeof "other");
}

/* requests by route, <label> and status for one table. */
static int render_requests(struct buf *out, struct metrics_block *const *blocks, size_t n,
                           enum metrics_table_id t, const struct model_names *mn,
                           const char *name, const char *label, const char *help) {
  if (header(out, name, "counter", help) != 0)
    return -1;
  for (size_t j = 0; j < mn->n; j++)
    for (size_t r = 0; r < MR__N; r++)
      for (size_t s = 0; s < METRICS_N_STATUS; s++) {
        uint64_t v = model_sum(blocks, n, t, j, mn->name[j], at_requests, r, s);
        char code[NUM_DEC_MAX + 1];
        if (!v)
          continue;
        status_label(code, s);
        if (buf_append_strs(out, name, "{route=\"", ROUTE_NAMES[r], "\",", label, "=\"", NULL) != 0 ||
            label_value(out, mn->name[j]) != 0 ||
            buf_append_strs(out, "\",status=\"", code, "\"} ", NULL) != 0 ||
            buf_append_u64(out, v) != 0 || buf_append_char(out, '\n') != 0)
          return -1;
      }
  return 0;
}

/* tokens and cost by <label> for one table. */
static int render_model_counters(struct buf *out, struct metrics_block *const *blocks,
                                 size_t n, enum metrics_table_id t,
                                 const struct model_names *mn, const char *prefix,
                                 const char *label) {
  char name[64];
  snprintf(name, sizeof name, "%s_tokens_total", prefix);
  if (buf_printf(out, "# HELP %s Tokens counted by Replicate (estimated when it reports none), "
                      "by %s and type.\n# TYPE %s counter\n", name, label, name) != 0)
    return -1;
  for (size_t j = 0; j < mn->n; j++)
    for (int io = 0; io < 2; io++) {
      uint64_t v = model_sum(blocks, n, t, j, mn->name[j], io ? at_out : at_in, 0, 0);
      if (!v)
        continue;
      if (buf_printf(out, "%s{%s=\"", name, label) != 0 || label_value(out, mn->name[j]) != 0 ||
          buf_printf(out, "\",type=\"%s\"} %llu\n", io ? "output" : "input",
                     (unsigned long long)v) != 0)
        return -1;
    }
  snprintf(name, sizeof name, "%s_cost_usd_total", prefix);
  if (buf_printf(out, "# HELP %s Cost at the configured prices, by %s.\n# TYPE %s counter\n",
                 name, label, name) != 0)
    return -1;
  for (size_t j = 0; j < mn->n; j++) {
    uint64_t v = model_sum(blocks, n, t, j, mn->name[j], at_cost, 0, 0);
    if (!v)
      continue;
    if (buf_printf(out, "%s{%s=\"", name, label) != 0 || label_value(out, mn->name[j]) != 0 ||
        buf_printf(out, "\"} %.9f\n", (double)v / 1e9) != 0)
      return -1;
  }
  return 0;
}

static int64_t gauge_sum(struct metrics_block *const *blocks, size_t n, size_t offset) {
  int64_t s = 0;
  for (size_t k = 0; k < n; k++)
    s += atomic_load_explicit((const metrics_i64 *)((const char *)blocks[k] + offset),
                              memory_order_relaxed);
  return s;
}

static int render_simple(struct buf *out, struct metrics_block *const *blocks, size_t n,
                         const struct metrics_process *proc) {
  if (header(out, "replicate_proxy_requests_in_flight", "gauge", "Requests being served.") != 0 ||
      buf_printf(out, "replicate_proxy_requests_in_flight %lld\n",
                 (long long)gauge_sum(blocks, n, offsetof(struct metrics_block, in_flight))) != 0 ||
      header(out, "replicate_proxy_streams_open", "gauge", "SSE answers being streamed.") != 0 ||
      buf_printf(out, "replicate_proxy_streams_open %lld\n",
                 (long long)gauge_sum(blocks, n, offsetof(struct metrics_block, open_streams))) != 0)
    return -1;
  if (header(out, "replicate_proxy_upstream_requests_total", "counter",
             "Calls to Replicate by kind and outcome.") != 0)
    return -1;
  for (size_t kd = 0; kd < MU__N; kd++)
    for (size_t o = 0; o < MO__N; o++) {
      uint64_t v = 0;
      for (size_t k = 0; k < n; k++)
        v += get(&blocks[k]->upstream[kd][o]);
      if (v && buf_printf(out, "replicate_proxy_upstream_requests_total{kind=\"%s\",outcome=\"%s\"} %llu\n",
                          KIND_NAMES[kd], OUTCOME_NAMES[o], (unsigned long long)v) != 0)
        return -1;
    }
  if (header(out, "replicate_proxy_upstream_retries_total", "counter",
             "Calls to Replicate made again after a failure that may pass, by kind.") != 0)
    return -1;
  for (size_t kd = 0; kd < MU__N; kd++) {
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
      v += get(&blocks[k]->retries[kd]);
    if (buf_printf(out, "replicate_proxy_upstream_retries_total{kind=\"%s\"} %llu\n",
                   KIND_NAMES[kd], (unsigned long long)v) != 0)
      return -1;
  }
  if (header(out, "replicate_proxy_predictions_canceled_total", "counter",
             "Predictions the proxy canceled, by reason.") != 0)
    return -1;
  for (size_t c = 0; c < MC__N; c++) {
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
      v += get(&blocks[k]->cancels[c]);
    if (buf_printf(out, "replicate_proxy_predictions_canceled_total{reason=\"%s\"} %llu\n",
                   CANCEL_NAMES[c], (unsigned long long)v) != 0)
      return -1;
  }
  uint64_t opened = 0;
  for (size_t k = 0; k < n; k++)
    opened += get(&blocks[k]->circuit_opened);
  if (header(out, "replicate_proxy_circuit_state", "gauge",
             "Circuit to Replicate (one for the process): 0 closed, 1 open, 2 half-open.") != 0 ||
      buf_printf(out, "replicate_proxy_circuit_state %d\n", proc->circuit_state) != 0 ||
      header(out, "replicate_proxy_circuit_opened_total", "counter",
             "Times the circuit to Replicate opened.") != 0 ||
      buf_printf(out, "replicate_proxy_circuit_opened_total %llu\n",
                 (unsigned long long)opened) != 0)
    return -1;
  return 0;
}

static int render_hists(struct buf *out, struct metrics_block *const *blocks, size_t n) {
  const double us = 1e-6;
  pthread_once(&bound_text_once, format_bounds);
  if (header(out, "replicate_proxy_request_duration_seconds", "histogram",
             "Time from the request's arrival to its end, by route.") != 0)
    return -1;
  for (size_t r = 0; r < MR__N; r++) {
    char labels[48];
    snprintf(labels, sizeof labels, "route=\"%s\"", ROUTE_NAMES[r]);
    if (hist_series(out, "replicate_proxy_request_duration_seconds", labels, blocks, n,
                    at_duration, r, time_bound_text, METRICS_N_BUCKETS, us) != 0)
      return -1;
  }
  if (header(out, "replicate_proxy_overhead_seconds", "histogram",
             "Time of a request spent in the proxy: its duration less the window from its first call to Replicate's start to its last one's end.") != 0 ||
      hist_series(out, "replicate_proxy_overhead_seconds", "", blocks, n, at_overhead, 0,
                  time_bound_text, METRICS_N_BUCKETS, us) != 0 ||
      header(out, "gen_ai_server_time_to_first_token_seconds", "histogram",
             "Time from the request to the first byte of its answer.") != 0 ||
      hist_series(out, "gen_ai_server_time_to_first_token_seconds", "", blocks, n, at_ttft, 0,
                  time_bound_text, METRICS_N_BUCKETS, us) != 0 ||
      header(out, "gen_ai_server_time_per_output_token_seconds", "histogram",
             "Time per output token after the first.") != 0 ||
      hist_series(out, "gen_ai_server_time_per_output_token_seconds", "", blocks, n, at_tpot,
                  0, time_bound_text, METRICS_N_BUCKETS, us) != 0 ||
      header(out, "gen_ai_client_token_usage", "histogram",
             "Tokens per request, by gen_ai_token_type.") != 0)
    return -1;
  for (size_t t = 0; t < 2; t++)
    if (hist_series(out, "gen_ai_client_token_usage",
                    t ? "gen_ai_token_type=\"output\"" : "gen_ai_token_type=\"input\"", blocks,
                    n, at_tokens, t, token_bound_text, N_TOKEN_BOUNDS, 1.0) != 0)
      return -1;
  if (header(out, "replicate_proxy_upstream_duration_seconds", "histogram",
             "Latency of calls to Replicate, by kind.") != 0)
    return -1;
  for (size_t kd = 0; kd < MU__N; kd++) {
    char labels[32];
    snprintf(labels, sizeof labels, "kind=\"%s\"", KIND_NAMES[kd]);
    if (hist_series(out, "replicate_proxy_upstream_duration_seconds", labels, blocks, n,
                    at_upstream, kd, time_bound_text, METRICS_N_BUCKETS, us) != 0)
      return -1;
  }
  return 0;
}

static int render_process(struct buf *out, const struct metrics_process *p) {
  if (header(out, "replicate_proxy_build_info", "gauge", "The running build.") != 0 ||
      buf_append_str(out, "replicate_proxy_build_info{version=\"") != 0 ||
      label_value(out, p->version ? p->version : "") != 0 || buf_append_str(out, "\"} 1\n") != 0)
    return -1;
  return buf_printf(out,
                    "# HELP process_cpu_seconds_total User and system CPU time.\n"
                    "# TYPE process_cpu_seconds_total counter\n"
                    "process_cpu_seconds_total %.3f\n"
                    "# HELP process_resident_memory_bytes Resident memory.\n"
                    "# TYPE process_resident_memory_bytes gauge\n"
                    "process_resident_memory_bytes %lld\n"
                    "# HELP process_open_fds Open file descriptors.\n"
                    "# TYPE process_open_fds gauge\n"
                    "process_open_fds %ld\n"
                    "# HELP process_max_fds Limit of open file descriptors.\n"
                    "# TYPE process_max_fds gauge\n"
                    "process_max_fds %ld\n"
                    "# HELP process_start_time_seconds Start time (unix).\n"
                    "# TYPE process_start_time_seconds gauge\n"
                    "process_start_time_seconds %.3f\n",
                    p->cpu_seconds, p->rss_bytes, p->open_fds, p->max_fds, p->start_time_s);
}

int metrics_render_otlp(struct buf *out, uint64_t exported, uint64_t dropped) {
  return buf_printf(out,
                    "# HELP replicate_proxy_otlp_spans_exported_total Spans the trace collector "
                    "accepted.\n"
                    "# TYPE replicate_proxy_otlp_spans_exported_total counter\n"
                    "replicate_proxy_otlp_spans_exported_total %llu\n"
                    "# HELP replicate_proxy_otlp_spans_dropped_total Spans dropped: export queue "
                    "full, or the collector down or failing.\n"
                    "# TYPE replicate_proxy_otlp_spans_dropped_total counter\n"
                    "replicate_proxy_otlp_spans_dropped_total %llu\n",
                    (unsigned long long)exported, (unsigned long long)dropped);
}

int metrics_render(struct buf *out, struct metrics_block *const *blocks, size_t n,
                   const struct metrics_process *proc) {
  struct model_names *mn = malloc(sizeof *mn);
  if (!mn)
    return -1;
  collect_models(mn, blocks, n, MT_MODEL);
  int rc = render_requests(out, blocks, n, MT_MODEL, mn, "replicate_proxy_requests_total",
                           "model", "Requests answered, by route, model and HTTP status.") != 0 ||
                   render_model_counters(out, blocks, n, MT_MODEL, mn, "replicate_proxy",
                                         "model") != 0
               ? -1
               : 0;
  /* The gateway's keys: by alias (bounded like models), never the key. */
  collect_models(mn, blocks, n, MT_KEY);
  rc = rc || render_requests(out, blocks, n, MT_KEY, mn, "replicate_proxy_key_requests_total",
                             "key_alias",
                             "Requests answered, by route, gateway key alias and HTTP status.") != 0 ||
               render_model_counters(out, blocks, n, MT_KEY, mn, "replicate_proxy_key",
                                     "key_alias") != 0 ||
               render_refusals(out, blocks, n, mn) != 0 || render_stores(out, blocks, n, proc) != 0 ||
               render_simple(out, blocks, n, proc) != 0 || render_hists(out, blocks, n) != 0 ||
               render_process(out, proc) != 0
           ? -1
           : 0;
  free(mn);
  return rc;
}

/* ---- the database's failures ---- */

static metrics_u64 db_errors[MD__N];
static _Atomic double db_last_error_s;
static const char *const DB_OP_NAMES[MD__N] = {"keys", "ledger"};

void metrics_database_error(enum metrics_db_op op) {
  atomic_fetch_add_explicit(&db_errors[op], 1, memory_order_relaxed);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  atomic_store_explicit(&db_last_error_s, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9,
                        memory_order_relaxed);
}

static int render_db_errors(struct buf *out) {
  if (header(out, "replicate_proxy_database_errors_total", "counter",
             "Failed reads of the keys and failed ledger writes (the message is in the log).") != 0)
    return -1;
  for (size_t op = 0; op < MD__N; op++)
    if (buf_printf(out, "replicate_proxy_database_errors_total{op=\"%s\"} %llu\n", DB_OP_NAMES[op],
                   (unsigned long long)get(&db_errors[op])) != 0)
      return -1;
  return header(out, "replicate_proxy_database_last_error_timestamp_seconds", "gauge",
                "When the database last failed (unix time; 0 = never).") != 0 ||
                 buf_printf(out, "replicate_proxy_database_last_error_timestamp_seconds %.3f\n",
                            atomic_load_explicit(&db_last_error_s, memory_order_relaxed)) != 0
             ? -1
             : 0;
}

/* ---- the process-wide set ---- */

static struct metrics_block **global_blocks;
static size_t global_n;
static const char *global_version;
static double global_start_s;

int metrics_global_init(size_t n, const char *version) {
  global_version = version;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  global_start_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  global_blocks = calloc(n ? n : 1, sizeof *global_blocks);
  if (!global_blocks)
    return -1;
  for (global_n = 0; global_n < n; global_n++) {
    global_blocks[global_n] = malloc(sizeof **global_blocks);
    if (!global_blocks[global_n]) {
      metrics_global_free();
      return -1;
    }
    metrics_block_init(global_blocks[global_n]);
  }
  return 0;
}

struct metrics_block *metrics_global_block(size_t index) {
  return index < global_n ? global_blocks[index] : NULL;
}

int metrics_global_render(struct buf *out, struct metrics_process *proc) {
  proc->version = global_version;
  proc->start_time_s = global_start_s;
  return metrics_render(out, global_blocks, global_n, proc);
}

void metrics_global_free(void) {
  for (size_t i = 0; global_blocks && i < global_n; i++)
    free(global_blocks[i]);
  free(global_blocks);
  global_blocks = NULL;
  global_n = 0;
}
