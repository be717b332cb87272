#include "key_snapshot.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "store/store.h"
#include "worker.h"

/* Immutable once published; freed when the last reader lets go. */
struct snapshot {
  atomic_int refs;
  struct snap_key *keys;
  size_t n;
  uint32_t *slots; /* open addressing: key index + 1, 0 = empty */
  size_t mask;
};

static struct {
  pthread_rwlock_t snap_lock;
  struct snapshot *snap;
  pthread_mutex_t reload_lock;
  int64_t keys_version;
  struct store *poll_store;
  struct limit_table *limits;
  struct ledger *ledger;
  int poll_ms;
  pthread_t thread;
  int thread_started;
  pthread_mutex_t stop_mu;
  pthread_cond_t stop_cv;
  int stopping;
} G = {.snap_lock = PTHREAD_RWLOCK_INITIALIZER,
       .reload_lock = PTHREAD_MUTEX_INITIALIZER,
       .stop_mu = PTHREAD_MUTEX_INITIALIZER,
       .stop_cv = PTHREAD_COND_INITIALIZER};

static int64_t now_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t token_hash(const char *token) {
  uint32_t h = 0;
  for (int i = 0; i < 8 && token[i]; i++) {
    char c = token[i];
    h = h << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
  }
  return h;
}

static void snapshot_unref(struct snapshot *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->keys[i].alias);
    for (size_t m = 0; m < s->keys[i].n_models; m++)
      free(s->keys[i].models[m]);
    free(s->keys[i].models);
  }
  free(s->keys);
  free(s->slots);
  free(s);
}

static const struct snap_key *snapshot_find(const struct snapshot *s, const char *token) {
  if (!s || !s->n)
    return NULL;
  for (size_t i = token_hash(token) & s->mask;; i = (i + 1) & s->mask) {
    uint32_t slot = s->slots[i];
    if (!slot)
      return NULL;
    if (keys_equal(s->keys[slot - 1].token, token))
      return &s->keys[slot - 1];
  }
}

/* The window the key's spend is counted in: its start (0 = all time). */
static int64_t window_start(const struct key_record *k, int64_t window_ms, int64_t now) {
  if (window_ms <= 0 || k->budget_reset_at_ms <= 0)
    return 0;
  return keys_next_reset(k->budget_reset_at_ms, window_ms, now) - window_ms;
}

static int snap_key_from(struct snap_key *sk, const struct key_record *k, int64_t now) {
  memcpy(sk->token, k->token, sizeof sk->token);
  sk->alias = k->key_alias ? strdup(k->key_alias) : NULL;
  if (k->key_alias && !sk->alias)
    return -1;
  sk->expires_ms = k->expires_ms;
  sk->blocked = k->blocked;
  int64_t window = 0;
  if (k->budget_duration && keys_parse_duration(k->budget_duration, &window) != 0)
    window = 0;
  sk->spec = (struct limit_spec){
      .rpm = k->rpm_limit, .tpm = k->tpm_limit, .parallel = k->max_parallel_requests,
      .max_budget = k->max_budget, .budget_window_ms = window,
      .budget_reset_at_ms = window ? keys_next_reset(k->budget_reset_at_ms, window, now) : 0};
  cJSON *models = k->models ? cJSON_Parse(k->models) : NULL;
  int n = cJSON_IsArray(models) ? cJSON_GetArraySize(models) : 0;
  if (n > 0) {
    sk->models = calloc((size_t)n, sizeof *sk->models);
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
      if (sk->models && cJSON_IsString(m) && (sk->models[sk->n_models] = strdup(m->valuestring)))
        sk->n_models++;
    }
  }
  cJSON_Delete(models);
  return n > 0 && !sk->models ? -1 : 0;
}

static struct snapshot *snapshot_build(const struct key_record *recs, size_t n, int64_t now) {
  struct snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  atomic_init(&s->refs, 1);
  size_t cap = 16;
  while (cap < n * 2)
    cap *= 2;
  s->mask = cap - 1;
  s->slots = calloc(cap, sizeof *s->slots);
  s->keys = calloc(n ? n : 1, sizeof *s->keys);
  int failed = !s->slots || !s->keys;
  for (size_t i = 0; !failed && i < n; i++) {
    s->n++;
    failed = snap_key_from(&s->keys[i], &recs[i], now) != 0;
    size_t at = token_hash(recs[i].token) & s->mask;
    while (s->slots[at])
      at = (at + 1) & s->mask;
    s->slots[at] = (uint32_t)i + 1;
  }
  if (failed) {
    snapshot_unref(s);
    return NULL;
  }
  return s;
}

static int spec_budget_equal(const struct limit_spec *a, const struct limit_spec *b) {
  return a->max_budget == b->max_budget && a->budget_window_ms == b->budget_window_ms &&
         a->budget_reset_at_ms == b->budget_reset_at_ms;
}

/* Reload the snapshot from st when the keys changed (or always when force).
 * Keys whose budget is new or changed get their settled spend from the
 * ledger; keys gone are forgotten by the limits table. 0 or -1. */
static int snapshot_reload(struct store *st, int force) {
  pthread_mutex_lock(&G.reload_lock);
  int64_t version = store_keys_version(st);
  if (version < 0 || (!force && version == G.keys_version)) {
    pthread_mutex_unlock(&G.reload_lock);
    return version < 0 ? -1 : 0;
  }
  struct key_record *recs;
  size_t n;
  int rc = store_key_list(st, &recs, &n);
  int64_t now = now_wall_ms();
  struct snapshot *fresh = rc == 0 ? snapshot_build(recs, n, now) : NULL;
  if (!fresh) {
    if (rc == 0) {
      for (size_t i = 0; i < n; i++)
        key_record_free(&recs[i]);
      free(recs);
    }
    pthread_mutex_unlock(&G.reload_lock);
    return -1;
  }
  struct snapshot *old = G.snap;
  int held = 0;
  for (size_t i = 0; i < n; i++) {
    const struct snap_key *was = snapshot_find(old, recs[i].token);
    const struct snap_key *is = &fresh->keys[i];
    if (is->spec.max_budget < 0 || (was && spec_budget_equal(&was->spec, &is->spec)))
      continue;
    if (!held) {
      /* No row is written between reading the store's spend and adding what the
       * limits settled since (limit_set_spend): a request that ends meanwhile is in
       * one of the two, never neither (no flush: the writer may be slow). */
      ledger_commits_hold(G.ledger);
      held = 1;
    }
    double spend = 0;
    if (store_key_spend(st, recs[i].token, window_start(&recs[i], is->spec.budget_window_ms, now),
                        &spend) == 0)
      limit_set_spend(G.limits, recs[i].token, spend);
  }
  if (held)
    ledger_commits_release(G.ledger);
  for (size_t i = 0; old && i < old->n; i++)
    if (!snapshot_find(fresh, old->keys[i].token))
      limit_forget(G.limits, old->keys[i].token);
  for (size_t i = 0; i < n; i++)
    key_record_free(&recs[i]);
  free(recs);
  pthread_rwlock_wrlock(&G.snap_lock);
  G.snap = fresh;
  pthread_rwlock_unlock(&G.snap_lock);
  snapshot_unref(old);
  G.keys_version = version;
  pthread_mutex_unlock(&G.reload_lock);
  return 0;
}

/* The last poll of the store worked (for /ready). */
static atomic_int store_reachable = 1;

int key_snapshot_store_ok(void) { return atomic_load(&store_reachable); }

static void *snapshot_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&G.stop_mu);
  while (!G.stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += G.poll_ms * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&G.stop_cv, &G.stop_mu, &until);
    if (G.stopping)
      break;
    pthread_mutex_unlock(&G.stop_mu);
    int ok = snapshot_reload(G.poll_store, 0) == 0;
    if (!ok) {
      log_msg(LOG_WARN, "gateway: cannot reload the keys; serving the previous snapshot");
      metrics_database_error(MD_KEYS);
    }
    atomic_store(&store_reachable, ok);
    pthread_mutex_lock(&G.stop_mu);
  }
  pthread_mutex_unlock(&G.stop_mu);
  return NULL;
}

/* Takes a reference (release with snapshot_unref). */
static struct snapshot *snapshot_get(void) {
  pthread_rwlock_rdlock(&G.snap_lock);
  struct snapshot *s = G.snap;
  if (s)
    atomic_fetch_add(&s->refs, 1);
  pthread_rwlock_unlock(&G.snap_lock);
  return s;
}

int key_snapshot_start(struct store *st, struct limit_table *limits, struct ledger *ledger,
                       int poll_ms) {
  G.poll_store = st;
  G.limits = limits;
  G.ledger = ledger;
  G.poll_ms = poll_ms;
  G.keys_version = -1;
  G.stopping = 0;
  if (snapshot_reload(st, 1) != 0)
    return -1;
  if (pthread_create(&G.thread, NULL, snapshot_thread, NULL) != 0)
    return -1;
  G.thread_started = 1;
  return 0;
}

void key_snapshot_stop(void) {
  if (G.thread_started) {
    pthread_mutex_lock(&G.stop_mu);
    G.stopping = 1;
    pthread_cond_signal(&G.stop_cv);
    pthread_mutex_unlock(&G.stop_mu);
    pthread_join(G.thread, NULL);
    G.thread_started = 0;
  }
  snapshot_unref(G.snap);
  G.snap = NULL;
}

int key_snapshot_reload(struct store *st) { return snapshot_reload(st, 0); }

struct snapshot *key_snapshot_get(void) { return snapshot_get(); }

void key_snapshot_put(struct snapshot *s) { snapshot_unref(s); }

const struct snap_key *key_snapshot_find(const struct snapshot *s, const char *token) {
  return snapshot_find(s, token);
}
