/* Operational metrics: each worker owns one block of counters and
 * histograms and is its only writer (relaxed atomic stores, no lock per
 * request); a scrape reads every block and sums them into the Prometheus
 * text format 0.0.4. Label sets are bounded: routes, upstream kinds and
 * outcomes and status codes are fixed tables; models are the first
 * METRICS_MAX_MODELS names a worker saw, the rest count as "other". */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum metrics_route {
  MR_CHAT, MR_COMPLETIONS, MR_RESPONSES, MR_MESSAGES, MR_MODELS, MR_HEALTH, MR_METRICS, MR_OTHER,
  MR__N
};
enum metrics_up_kind { MU_CREATE, MU_POLL, MU_STREAM, MU_CANCEL, MU_LIST, MU__N };
enum metrics_up_outcome { MO_OK, MO_4XX, MO_429, MO_5XX, MO_TRANSPORT, MO__N };
enum metrics_cancel { MC_HANGUP, MC_STOP, MC_TIMEOUT, MC_SHUTDOWN, MC_OTHER, MC__N };
/* Why the gateway refused a request (by key alias). */
enum metrics_refusal {
  MF_RPM, MF_TPM, MF_PARALLEL, MF_BUDGET, MF_MODEL_NOT_ALLOWED, MF_INVALID_KEY, MF__N
};

#define METRICS_N_STATUS 20      /* the status table in metrics.c, "other" last */
#define METRICS_MAX_MODELS 16    /* per worker; slot 0 is "other" */
#define METRICS_MODEL_LEN 64
#define METRICS_N_BUCKETS 16     /* seconds: 0.01 ... 600, then +Inf */

typedef _Atomic uint64_t metrics_u64;
typedef _Atomic int64_t metrics_i64;

struct metrics_hist {
  metrics_u64 bucket[METRICS_N_BUCKETS + 1]; /* not cumulative; last is +Inf */
  metrics_u64 count;
  metrics_u64 sum_us;
};

/* One row of a bounded label table (a model, or a gateway key's alias). */
struct metrics_model {
  char name[METRICS_MODEL_LEN]; /* written once, before the table's n covers it */
  metrics_u64 requests[MR__N][METRICS_N_STATUS];
  metrics_u64 input_tokens, output_tokens;
  metrics_u64 cost_nusd; /* nano-USD: integer, so sums are exact */
  metrics_u64 refusals[MF__N]; /* the key table only */
};

/* Slot 0 is "other" (the table was full), slot 1 "" (no such label). */
struct metrics_table {
  struct metrics_model row[METRICS_MAX_MODELS];
  _Atomic unsigned n;
};

enum metrics_table_id { MT_MODEL, MT_KEY, MT__N };

struct metrics_block {
  struct metrics_table tables[MT__N]; /* by model, by key alias */
  metrics_i64 in_flight, open_streams;
  struct metrics_hist duration[MR__N];
  struct metrics_hist ttft, tpot, overhead;
  struct metrics_hist token_usage[2]; /* gen_ai: input, output (in tokens, not seconds) */
  metrics_u64 upstream[MU__N][MO__N];
  struct metrics_hist upstream_latency[MU__N];
  metrics_u64 retries[MU__N];
  metrics_u64 cancels[MC__N];
  metrics_u64 circuit_opened;
  metrics_u64 redis_fallbacks; /* admissions decided here because Redis was down */
};

/* What the scrape adds about the process (filled by the caller). */
struct metrics_process {
  const char *version;
  double start_time_s;   /* unix time */
  double cpu_seconds;
  long long rss_bytes;
  long open_fds;
  long max_fds;
  int circuit_state;     /* the process's circuit: 0 closed, 1 open, 2 half-open */
  /* The gateway's ledger (ledger_counts): has_ledger 0 = no gateway. */
  int has_ledger;
  unsigned long long ledger_queued, ledger_written, ledger_dropped;
  /* Its database: shared = PostgreSQL (database_url), else the SQLite file. */
  int db_shared, db_up;
  /* Shared limits in Redis: enabled 0 = no redis_url. */
  int redis_enabled, redis_up, redis_fail_closed;
};

/* One request's end, as metrics_request_done records it. */
struct metrics_request {
  enum metrics_route route;
  int status;
  const char *model;       /* NULL: no model (not a completion) */
  const char *key_alias;   /* the gateway key's alias, or NULL (never the key) */
  int stream;
  uint64_t duration_us;
  int first_byte;          /* a byte of the answer was sent */
  uint64_t ttft_us;        /* arrival to that byte (may be 0 on a fast path) */
  uint64_t upstream_us;    /* first upstream call's start to the last one's end (overhead = duration - this) */
  long input_tokens, output_tokens; /* -1: unknown */
  double cost_usd;
};

void metrics_block_init(struct metrics_block *b);

/* ---- writers: the owning worker only ---- */
void metrics_request_begin(struct metrics_block *b);
void metrics_request_done(struct metrics_block *b, const struct metrics_request *r);
void metrics_stream_opened(struct metrics_block *b);
void metrics_stream_closed(struct metrics_block *b);
void metrics_upstream_call(struct metrics_block *b, enum metrics_up_kind kind, long status,
                           int transport_error, uint64_t latency_us);
void metrics_retry(struct metrics_block *b, enum metrics_up_kind kind);
void metrics_cancel(struct metrics_block *b, enum metrics_cancel reason);
/* A gateway refusal; key_alias NULL = no key (or one without an alias). */
void metrics_refusal(struct metrics_block *b, const char *key_alias, enum metrics_refusal why);
void metrics_redis_fallback(struct metrics_block *b);

/* Route label of a request path ("/v1/chat/completions" -> MR_CHAT). */
enum metrics_route metrics_route_of(const char *path);
const char *metrics_route_name(enum metrics_route r);

/* Sum n blocks and append the exposition text to out. 0, or -1 (OOM). */
int metrics_render(struct buf *out, struct metrics_block *const *blocks, size_t n,
                   const struct metrics_process *proc);

/* The trace exporter's counters (server/otlp.c), appended after the rest. */
int metrics_render_otlp(struct buf *out, uint64_t exported, uint64_t dropped);

/* ---- the database's failures (any thread: process-wide atomics) ---- */
enum metrics_db_op { MD_KEYS, MD_LEDGER, MD__N };
void metrics_database_error(enum metrics_db_op op);

/* ---- the process-wide set of blocks (one per worker) ---- */
/* Allocate n blocks; 0 or -1. Called once before the workers start;
 * version (static) and the start time go into every scrape. */
int metrics_global_init(size_t n, const char *version);
struct metrics_block *metrics_global_block(size_t index);
/* proc's version and start time are filled in here. */
int metrics_global_render(struct buf *out, struct metrics_process *proc);
void metrics_global_free(void);

#endif
