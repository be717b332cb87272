#include "limits_redis.h"

#include <math.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/clock.h"
#include "../shared/keys.h"
#include "loop.h"
#include "mailbox.h"
#include "worker.h"

#define IO_TIMEOUT_MS 1000  /* a Redis call longer than this counts as Redis down */
#define RECONNECT_MS 1000   /* while down, one connection attempt per this */

/* KEYS: rpm, tpm, parallel sorted sets, the tpm sum, the budget hash, the
 * budget reservations. ARGV: now (unused: the script reads Redis's clock, one
 * clock for every replica), rpm, tpm, parallel, tokens, member, lease, max
 * budget (nano-USD, -1 none), cost (nano-USD), the budget window (its reset
 * time, the same on every replica), the settled spend to start a window from
 * (-1: none given) and the ledger time it was read up to. The budget hash
 * holds win, settled, reserved (nano-USD) and since (ms: requests that ended
 * after it are not in settled yet). When it is missing (a new window, or
 * Redis restarted without persistence) and no start is given, the script
 * changes nothing and answers status 2: the client reads the key's settled
 * spend from the ledger, the authoritative figure, and asks again with it.
 * Budget reservations are "member:cost" with the lease as score, so a
 * replica that dies does not hold its reservations forever. TPM members are
 * "member:tokens" and the sum key holds their total, so an admission costs
 * O(log n) plus the entries that expire now, never a scan of the window.
 * Returns {status, kind, limit, used, retry_ms, rpm_used, rpm_reset,
 * tpm_used, tpm_reset}. */
static const char ADMIT[] =
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "local rpm, tpm, par = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local tokens, member, lease = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])\n"
    "local maxb, cost, win, seed = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10], ARGV[11]\n"
    "local cut = now - 60000\n"
    "local function weight(m) return tonumber(string.match(m, ':(%d+)$')) end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cut)\n"
    "local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cut)\n"
    "if #old > 0 then\n"
    "  local gone = 0\n"
    "  for i = 1, #old do gone = gone + weight(old[i]) end\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cut)\n"
    "  redis.call('DECRBY', KEYS[4], gone)\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)\n"
    "local used_r = redis.call('ZCARD', KEYS[1])\n"
    "local used_t = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
    "local used_p = redis.call('ZCARD', KEYS[3])\n"
    "local function reset(k)\n"
    "  local z = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')\n"
    "  if #z > 0 then return tonumber(z[2]) + 60000 - now end return 0 end\n"
    "if rpm > 0 and used_r >= rpm then\n"
    "  return {1, 1, rpm, used_r, reset(KEYS[1]), used_r, reset(KEYS[1]), used_t, reset(KEYS[2])} end\n"
    "if tpm > 0 and used_t + tokens > tpm then\n"
    /* The wait: until enough of the oldest reservations leave the window
     * (a request larger than the limit never fits: -1). */
    "  local need, freed, wait = used_t + tokens - tpm, 0, -1\n"
    "  if tokens <= tpm then\n"
    "    wait = 60000\n"
    "    local t = redis.call('ZRANGE', KEYS[2], 0, 999, 'WITHSCORES')\n"
    "    for i = 1, #t, 2 do\n"
    "      freed = freed + weight(t[i])\n"
    "      if freed >= need then wait = tonumber(t[i + 1]) + 60000 - now break end end end\n"
    "  return {1, 2, tpm, used_t, wait, used_r, reset(KEYS[1]), used_t, reset(KEYS[2])} end\n"
    "if par > 0 and used_p >= par then\n"
    "  return {1, 3, par, used_p, 1000, used_r, reset(KEYS[1]), used_t, reset(KEYS[2])} end\n"
    "if maxb >= 0 then\n"
    "  if redis.call('HGET', KEYS[5], 'win') ~= win then\n"
    "    if tonumber(seed) < 0 then\n"
    "      return {2, 0, 0, 0, 0, used_r, reset(KEYS[1]), used_t, reset(KEYS[2])} end\n"
    "    redis.call('DEL', KEYS[6])\n"
    "    redis.call('HSET', KEYS[5], 'win', win, 'settled', seed, 'reserved', 0, 'since', ARGV[12])\n"
    "  end\n"
    "  local gone_b = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)\n"
    "  if #gone_b > 0 then\n"
    "    local gone = 0\n"
    "    for i = 1, #gone_b do gone = gone + weight(gone_b[i]) end\n"
    "    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)\n"
    "    redis.call('HINCRBY', KEYS[5], 'reserved', -gone)\n"
    "  end\n"
    "  local b = redis.call('HMGET', KEYS[5], 'settled', 'reserved')\n"
    "  local used_b = tonumber(b[1]) + tonumber(b[2])\n"
    "  if used_b + cost > maxb then\n"
    "    local wait = -1\n"
    "    if cost <= maxb and tonumber(win) > 0 then wait = tonumber(win) - now end\n"
    "    return {1, 4, maxb, used_b, wait, used_r, reset(KEYS[1]), used_t, reset(KEYS[2])} end\n"
    "  redis.call('HINCRBY', KEYS[5], 'reserved', cost)\n"
    "  redis.call('ZADD', KEYS[6], now + lease, member .. ':' .. cost)\n"
    "  redis.call('PEXPIRE', KEYS[6], lease + 1000)\n"
    "end\n"
    "if rpm > 0 then redis.call('ZADD', KEYS[1], now, member)"
    " redis.call('PEXPIRE', KEYS[1], 61000) end\n"
    "if tpm > 0 then redis.call('ZADD', KEYS[2], now, member .. ':' .. tokens)"
    " redis.call('INCRBY', KEYS[4], tokens)"
    " redis.call('PEXPIRE', KEYS[2], 61000) redis.call('PEXPIRE', KEYS[4], 61000) end\n"
    "if par > 0 then redis.call('ZADD', KEYS[3], now + lease, member)"
    " redis.call('PEXPIRE', KEYS[3], lease + 1000) end\n"
    "return {0, 0, 0, 0, 0, used_r + 1, reset(KEYS[1]), used_t + tokens, reset(KEYS[2])}\n";

/* KEYS: tpm, parallel, the tpm sum, the budget hash, the budget
 * reservations. ARGV: member, reserved, used (tokens), cost reserved, cost
 * (nano-USD), the budget window, the request's end (the ledger row's endTime).
 * A reservation already out of its window, or made before Redis lost it, is
 * left alone; the cost counts once: in settled here only when the request
 * ended after the window's start was read from the ledger (since). */
static const char SETTLE[] =
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "if redis.call('HGET', KEYS[4], 'win') == ARGV[6] then\n"
    "  if redis.call('ZREM', KEYS[5], ARGV[1] .. ':' .. ARGV[4]) == 1 then\n"
    "    redis.call('HINCRBY', KEYS[4], 'reserved', -tonumber(ARGV[4])) end\n"
    "  if tonumber(ARGV[7]) > tonumber(redis.call('HGET', KEYS[4], 'since') or '0') then\n"
    "    redis.call('HINCRBY', KEYS[4], 'settled', tonumber(ARGV[5])) end\n"
    "end\n"
    "local old = ARGV[1] .. ':' .. ARGV[2]\n"
    "local at = redis.call('ZSCORE', KEYS[1], old)\n"
    "if at then\n"
    "  redis.call('ZREM', KEYS[1], old)\n"
    "  redis.call('ZADD', KEYS[1], at, ARGV[1] .. ':' .. ARGV[3])\n"
    "  redis.call('INCRBY', KEYS[3], tonumber(ARGV[3]) - tonumber(ARGV[2]))\n"
    "end\n"
    "return 0\n";

struct job {
  struct job *next;
  struct mail mail; /* its answer, back to its worker */
  int settle;                 /* a settlement or a slot release: no answer */
  int release;                /* only the parallel slot given back (a hang-up) */
  char key[KEYS_TOKEN_LEN + 1];
  char member[40];
  struct limit_spec spec;
  long tokens, used;
  int64_t lease_ms;
  int64_t max_n, cost_n, used_n, window; /* the budget (nano-USD; max_n -1: none) */
  int64_t seed_n, fallback_n, cut;  /* a window's start (-1: ask), this replica's view, read up to */
  int64_t end_ms;                   /* settle: when the request ended */
  struct mailbox *box;
  redis_done_fn done;
  void *ctx;
  struct redis_answer answer;
};

static void deliver(struct mail *m);

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int started, stopping;
  struct job *head, **tail;
  struct mailbox_set boxes;
  char host[256], password[256];
  int port, db;
  redisContext *c;   /* the client thread's only */
  char admit_sha[48], settle_sha[48]; /* the scripts as loaded on c */
  redis_seed_fn seed;  /* a window's settled spend from the ledger (client thread) */
  void *seed_ctx;
  int down;          /* last call failed (client thread only) */
  atomic_int down_seen; /* the same, for other threads */
  int64_t next_try;  /* while down: no connection attempt before this */
} R = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .boxes = {.mu = &R.mu, .tag = "redis", .deliver = deliver}};

/* Money travels in nano-USD, as in limits.c. */
static int64_t nano(double usd) { return usd > 0 ? (int64_t)llround(usd * 1e9) : 0; }

int redis_limits_enabled(void) { return R.started; }

/* ------------------------------------------------------------ the client */

static void drop_connection(void) {
  if (R.c)
    redisFree(R.c);
  R.c = NULL;
}

static int connect_redis(void) {
  struct timeval tv = {IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
  R.c = redisConnectWithTimeout(R.host, R.port, tv);
  if (!R.c || R.c->err || redisSetTimeout(R.c, tv) != REDIS_OK) {
    drop_connection();
    return -1;
  }
  redisReply *r = NULL;
  if (R.password[0]) {
    r = redisCommand(R.c, "AUTH %s", R.password);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      freeReplyObject(r);
      drop_connection();
      return -1;
    }
    freeReplyObject(r);
  }
  if (R.db) {
    r = redisCommand(R.c, "SELECT %d", R.db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      freeReplyObject(r);
      drop_connection();
      return -1;
    }
    freeReplyObject(r);
  }
  /* The scripts once per connection; then each call names them by hash. */
  const struct { const char *text; char *sha; } scripts[] = {{ADMIT, R.admit_sha},
                                                              {SETTLE, R.settle_sha}};
  for (size_t i = 0; i < 2; i++) {
    r = redisCommand(R.c, "SCRIPT LOAD %s", scripts[i].text);
    if (!r || r->type != REDIS_REPLY_STRING || r->len >= sizeof R.admit_sha) {
      freeReplyObject(r);
      drop_connection();
      return -1;
    }
    memcpy(scripts[i].sha, r->str, r->len + 1);
    freeReplyObject(r);
  }
  return 0;
}

/* Connected, or -1 (at most one attempt per RECONNECT_MS while down). */
static int ensure(void) {
  if (R.c)
    return 0;
  if (R.down && clock_mono_ms() < R.next_try)
    return -1;
  if (connect_redis() == 0)
    return 0;
  R.next_try = clock_mono_ms() + RECONNECT_MS;
  return -1;
}

/* Logged once per change: never silent, never a flood. */
static void set_down(int down) {
  if (down && !R.down)
    log_msg(LOG_ERROR, "redis: unreachable; see redis_failure for what requests get meanwhile");
  else if (!down && R.down)
    log_msg(LOG_INFO, "redis: reachable again; limits are shared across replicas again");
  R.down = down;
  atomic_store(&R.down_seen, down);
}

int redis_limits_down(void) { return R.started && atomic_load(&R.down_seen); }

/* Queue a job's script on the connection (sent with the batch). 0 or -1. */
static int append_job(const struct job *j) {
  /* One hash tag per key: a Redis Cluster keeps a key's counters on one node. */
  char k1[KEYS_TOKEN_LEN + 16], k2[KEYS_TOKEN_LEN + 16], k3[KEYS_TOKEN_LEN + 16],
      k4[KEYS_TOKEN_LEN + 16], k5[KEYS_TOKEN_LEN + 16], k6[KEYS_TOKEN_LEN + 16];
  snprintf(k1, sizeof k1, "rp:{%s}:rpm", j->key);
  snprintf(k2, sizeof k2, "rp:{%s}:tpm", j->key);
  snprintf(k3, sizeof k3, "rp:{%s}:par", j->key);
  snprintf(k4, sizeof k4, "rp:{%s}:tps", j->key);
  snprintf(k5, sizeof k5, "rp:{%s}:bud", j->key);
  snprintf(k6, sizeof k6, "rp:{%s}:bres", j->key);
  /* hiredis checks no format: every conversion here is matched by hand. */
  if (j->release)
    return redisAppendCommand(R.c, "ZREM %s %s", k3, j->member) == REDIS_OK ? 0 : -1;
  if (j->settle)
    return redisAppendCommand(R.c, "EVALSHA %s 5 %s %s %s %s %s %s %ld %ld %lld %lld %lld %lld",
                              R.settle_sha, k2, k3, k4, k5, k6, j->member, j->tokens, j->used,
                              (long long)j->cost_n, (long long)j->used_n, (long long)j->window,
                              (long long)j->end_ms) == REDIS_OK ? 0 : -1;
  return redisAppendCommand(R.c,
                            "EVALSHA %s 6 %s %s %s %s %s %s %lld %ld %ld %ld %ld %s %lld %lld %lld "
                            "%lld %lld %lld",
                            R.admit_sha, k1, k2, k3, k4, k5, k6, (long long)clock_wall_ms(),
                            j->spec.rpm, j->spec.tpm, j->spec.parallel, j->tokens, j->member,
                            (long long)j->lease_ms, (long long)j->max_n, (long long)j->cost_n,
                            (long long)j->window, (long long)j->seed_n,
                            (long long)j->cut) == REDIS_OK ? 0 : -1;
}

/* Fill the job's answer from its reply (NULL: Redis unavailable). */
static void read_answer(struct job *j, const redisReply *r) {
  if (r && r->type == REDIS_REPLY_ERROR) /* the script's own message: names no secret */
    log_msg(LOG_WARN, "redis: the %s script failed: %.200s", j->settle ? "settle" : "admission",
            r->str);
  struct redis_answer *a = &j->answer;
  memset(a, 0, sizeof *a);
  a->status = -1;
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 9)
    return;
  long long v[9];
  for (int i = 0; i < 9; i++)
    v[i] = r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
  a->status = (int)v[0];
  a->st.refused = (enum limit_kind)v[1];
  /* Money travels in nano-USD, as in limits.c. */
  double unit = a->st.refused == LIMIT_BUDGET ? 1e9 : 1;
  a->st.limit = (double)v[2] / unit;
  a->st.used = (double)v[3] / unit;
  a->st.retry_after_ms = v[4];
  if (j->spec.rpm > 0) {
    a->st.req_limit = j->spec.rpm;
    a->st.req_remaining = j->spec.rpm > v[5] ? j->spec.rpm - (long)v[5] : 0;
    a->st.req_reset_ms = v[6];
  }
  if (j->spec.tpm > 0) {
    a->st.tok_limit = j->spec.tpm;
    a->st.tok_remaining = j->spec.tpm > v[7] ? j->spec.tpm - (long)v[7] : 0;
    a->st.tok_reset_ms = v[8];
  }
}

/* Every job waiting, in one pipeline: one round trip for the lot, so the
 * rate is not one request per round trip. */
static void run_batch(struct job **jobs, size_t n) {
  size_t sent = 0;
  if (ensure() == 0)
    while (sent < n && append_job(jobs[sent]) == 0)
      sent++;
  int broken = sent < n;
  for (size_t i = 0; i < n; i++) {
    redisReply *r = NULL;
    if (i < sent && !broken && (redisGetReply(R.c, (void **)&r) != REDIS_OK || !r)) {
      freeReplyObject(r);
      r = NULL;
      broken = 1;
    }
    /* NOSCRIPT (a SCRIPT FLUSH): reconnecting loads the scripts again. */
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
      broken = 1;
    read_answer(jobs[i], r);
    freeReplyObject(r);
  }
  if (broken && R.c) {
    drop_connection();
    R.next_try = clock_mono_ms() + RECONNECT_MS;
  }
  set_down(broken);
}

/* The script found no budget window (new, or Redis restarted without
 * persistence): read the key's settled spend in it from the ledger, the one
 * figure every replica agrees on, up to now (later ends settle into Redis
 * themselves). The ledger unreachable: this replica's own view, as before. */
static void seed_job(struct job *j) {
  int64_t now = clock_wall_ms();
  int64_t win_ms = j->spec.budget_window_ms;
  int64_t since = j->window > 0 && win_ms > 0 ? j->window - win_ms : 0;
  double spend = 0;
  j->cut = now;
  if (R.seed && R.seed(R.seed_ctx, j->key, since, now, &spend) == 0) {
    j->seed_n = nano(spend);
    return;
  }
  log_msg(LOG_WARN, "redis: cannot read a budget's settled spend from the database; "
                    "starting it from this replica's view");
  j->seed_n = j->fallback_n;
}

#define BATCH_MAX 256

static void *client_thread(void *arg) {
  (void)arg;
  struct job *jobs[BATCH_MAX];
  pthread_mutex_lock(&R.mu);
  for (;;) {
    while (!R.head && !R.stopping)
      pthread_cond_wait(&R.cv, &R.mu);
    if (!R.head)
      break; /* stopping, and nothing left */
    size_t n = 0;
    while (R.head && n < BATCH_MAX) {
      jobs[n++] = R.head;
      R.head = R.head->next;
    }
    if (!R.head)
      R.tail = &R.head;
    pthread_mutex_unlock(&R.mu);
    run_batch(jobs, n);
    struct job *again[BATCH_MAX];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (!jobs[i]->settle && jobs[i]->answer.status == 2) {
        seed_job(jobs[i]);
        again[m++] = jobs[i];
      }
    if (m)
      run_batch(again, m); /* with a start given, never status 2 again */
    pthread_mutex_lock(&R.mu);
    for (size_t i = 0; i < n; i++) {
      struct job *j = jobs[i];
      if (j->settle) {
        free(j);
        continue;
      }
      mailbox_post(j->box, &j->mail);
    }
  }
  pthread_mutex_unlock(&R.mu);
  drop_connection();
  return NULL;
}

/* ----------------------------------------------------------- the workers */

static struct job *job_of(struct mail *m) {
  return (struct job *)(void *)((char *)m - offsetof(struct job, mail));
}

/* Worker thread: hand one answer to its caller. */
static void deliver(struct mail *m) {
  struct job *j = job_of(m);
  j->done(j->ctx, &j->answer);
  free(j);
}

static void discard(struct mail *m) { free(job_of(m)); }

static int enqueue(struct job *j, struct worker *w) {
  pthread_mutex_lock(&R.mu);
  if (w)
    j->box = mailbox_for(&R.boxes, w);
  if ((w && !j->box) || !R.started || R.stopping) {
    pthread_mutex_unlock(&R.mu);
    free(j);
    return -1;
  }
  *R.tail = j;
  R.tail = &j->next;
  pthread_cond_signal(&R.cv);
  pthread_mutex_unlock(&R.mu);
  return 0;
}

int redis_limits_admit(struct worker *w, const char *key_id, const struct limit_spec *spec,
                       long tokens, const struct redis_budget *b, const char *member,
                       int64_t lease_ms, redis_done_fn done, void *ctx) {
  struct job *j = calloc(1, sizeof *j);
  if (!j)
    return -1;
  j->max_n = spec->max_budget >= 0 ? nano(spec->max_budget) : -1;
  j->cost_n = nano(b->cost);
  j->seed_n = -1; /* asked for only when Redis has no window */
  j->fallback_n = nano(b->settled);
  j->window = b->window;
  snprintf(j->key, sizeof j->key, "%s", key_id);
  snprintf(j->member, sizeof j->member, "%s", member);
  j->spec = *spec;
  j->tokens = tokens;
  j->lease_ms = lease_ms;
  j->done = done;
  j->ctx = ctx;
  return enqueue(j, w);
}

void redis_limits_settle(const char *key_id, const char *member, long reserved, long used,
                         const struct redis_budget *b) {
  struct job *j = calloc(1, sizeof *j);
  if (!j) {
    log_msg(LOG_ERROR, "redis: out of memory: a parallel slot stays taken until its lease ends");
    return;
  }
  j->settle = 1;
  snprintf(j->key, sizeof j->key, "%s", key_id);
  snprintf(j->member, sizeof j->member, "%s", member);
  j->tokens = reserved;
  j->used = used;
  j->cost_n = nano(b->reserved);
  j->used_n = nano(b->cost);
  j->window = b->window;
  j->end_ms = b->end_ms;
  if (enqueue(j, NULL) != 0)
    log_msg(LOG_WARN, "redis: stopping: a settlement was not sent");
}

void redis_limits_release_slot(const char *key_id, const char *member) {
  struct job *j = calloc(1, sizeof *j);
  if (!j) {
    log_msg(LOG_ERROR, "redis: out of memory: a parallel slot stays taken until its settlement");
    return;
  }
  j->settle = j->release = 1;
  snprintf(j->key, sizeof j->key, "%s", key_id);
  snprintf(j->member, sizeof j->member, "%s", member);
  if (enqueue(j, NULL) != 0)
    log_msg(LOG_WARN, "redis: stopping: a parallel slot release was not sent");
}

/* -------------------------------------------------------------- lifecycle */

/* redis://[[user]:password@]host[:port][/db] */
static int parse_url(const char *url, char *err, size_t errlen) {
  const char *p = url;
  if (strncmp(p, "redis://", 8) != 0) {
    snprintf(err, errlen, "redis_url must start with redis://");
    return -1;
  }
  p += 8;
  const char *at = strchr(p, '@');
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon ? colon + 1 : p;
    size_t n = (size_t)(at - pw);
    if (n >= sizeof R.password) {
      snprintf(err, errlen, "redis_url: the password is too long");
      return -1;
    }
    memcpy(R.password, pw, n);
    R.password[n] = '\0';
    p = at + 1;
  }
  size_t hl = strcspn(p, ":/");
  if (hl == 0 || hl >= sizeof R.host) {
    snprintf(err, errlen, "redis_url: no host");
    return -1;
  }
  memcpy(R.host, p, hl);
  R.host[hl] = '\0';
  p += hl;
  R.port = 6379;
  char *end;
  if (*p == ':') {
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/')) {
      snprintf(err, errlen, "redis_url: bad port");
      return -1;
    }
    R.port = (int)port;
    p = end;
  }
  R.db = 0;
  if (*p == '/' && p[1]) {
    long db = strtol(p + 1, &end, 10);
    if (*end || db < 0 || db > 1000000) {
      snprintf(err, errlen, "redis_url: bad database number");
      return -1;
    }
    R.db = (int)db;
  }
  return 0;
}

int redis_limits_start(const char *url, redis_seed_fn seed, void *seed_ctx, char *err,
                       size_t errlen) {
  if (parse_url(url, err, errlen) != 0)
    return -1;
  R.seed = seed;
  R.seed_ctx = seed_ctx;
  R.tail = &R.head;
  R.stopping = 0;
  if (pthread_create(&R.thread, NULL, client_thread, NULL) != 0) {
    snprintf(err, errlen, "cannot start the Redis client thread");
    return -1;
  }
  R.started = 1;
  return 0;
}

void redis_limits_stop(void) {
  if (!R.started)
    return;
  pthread_mutex_lock(&R.mu);
  R.stopping = 1;
  pthread_cond_signal(&R.cv);
  pthread_mutex_unlock(&R.mu);
  pthread_join(R.thread, NULL);
  R.started = 0;
  /* The workers are gone: answers nobody will read. */
  mailbox_free_all(&R.boxes, discard);
  memset(R.password, 0, sizeof R.password);
}
