/* Exact per-key limits. Every key has an entry in a chained hash table; one
 * mutex guards the table and its entries, and every critical section is a
 * few ring operations (no allocation in the steady state), so it stays short
 * (see bench/limits-bench.c). Money is kept in integer nano-USD so that
 * reservations and settlements add and subtract exactly: 33 × 0.03 never
 * drifts past 1.00. The clock is passed in, so all of this is testable. */
#include "limits.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "num_text.h"

#define WINDOW_MS 60000 /* RPM and TPM are per sliding minute */
#define PARALLEL_RETRY_MS 1000 /* when a stream ends is unknown */
#define NANO 1e9

/* One admission in a sliding window: RPM weighs each 1, TPM its tokens. */
struct win_ent {
  int64_t at;
  long weight;
  uint64_t seq;
};

/* A FIFO ring of admissions in time order, with the sum of their weights. */
struct window {
  struct win_ent *e;
  size_t cap, head, n;
  long long sum;
};

struct entry {
  struct entry *next; /* hash chain, or the orphan list once forgotten */
  char *key;
  int linked;         /* 0 once forgotten: freed when its last ticket settles */
  long tickets;       /* admitted, not yet settled: they point at this entry */
  long inflight;      /* ... of which still hold a parallel slot */
  int64_t last_ms;    /* latest admission time: keeps the windows in order */
  uint64_t next_seq;
  struct window rpm, tpm;
  int64_t settled_n, reserved_n;  /* budget, nano-USD */
  int64_t unwritten_n;            /* settled in this window, not yet in the store */
  int64_t rolled_at;              /* wall clock of the last reset applied */
  int64_t reset_at, window_ms;    /* the budget window as last applied */
  int64_t spec_reset_at;          /* the spec's reset when we adopted it */
};

struct limit_table {
  pthread_mutex_t lock;
  struct entry **buckets;
  size_t nbuckets, count;
  struct entry *orphans; /* forgotten with requests still in flight */
};

static int64_t to_nano(double usd) {
  if (!(usd > 0))
    return 0;
  if (usd > 9e9)
    return INT64_MAX / 4; /* absurd, but keeps sums from overflowing */
  return (int64_t)llround(usd * NANO);
}

/* ------------------------------------------------------------- windows */

static struct win_ent *win_at(const struct window *w, size_t i) {
  return &w->e[(w->head + i) % w->cap];
}

static void win_prune(struct window *w, int64_t now) {
  while (w->n && now - w->e[w->head].at >= WINDOW_MS) {
    w->sum -= w->e[w->head].weight;
    w->head = (w->head + 1) % w->cap;
    w->n--;
  }
}

/* Make room for one more entry before anything is reserved: -1 when out of
 * memory, with the window unchanged. */
static int win_reserve(struct window *w) {
  if (w->n < w->cap)
    return 0;
  size_t cap = w->cap ? w->cap * 2 : 8;
  struct win_ent *e = malloc(cap * sizeof *e);
  if (!e)
    return -1;
  for (size_t i = 0; i < w->n; i++)
    e[i] = *win_at(w, i);
  free(w->e);
  w->e = e;
  w->cap = cap;
  w->head = 0;
  return 0;
}

static void win_push(struct window *w, int64_t at, long weight, uint64_t seq) {
  *win_at(w, w->n) = (struct win_ent){at, weight, seq};
  w->n++;
  w->sum += weight;
}

/* How long until `weight` more fits under `limit`: the time when enough of
 * the oldest entries have left. -1 when it can never fit. */
static int64_t win_wait(const struct window *w, long weight, long limit, int64_t now) {
  if (weight > limit)
    return -1;
  long long need = w->sum + weight - limit, freed = 0;
  if (need <= 0)
    return 0;
  for (size_t i = 0; i < w->n; i++) {
    const struct win_ent *x = win_at(w, i);
    freed += x->weight;
    if (freed >= need)
      return x->at + WINDOW_MS - now;
  }
  return -1; /* not reached: the entries sum to more than need */
}

/* Until the oldest entry leaves the window (0 when empty). */
static int64_t win_reset(const struct window *w, int64_t now) {
  return w->n ? w->e[w->head].at + WINDOW_MS - now : 0;
}

/* The entry of a ticket, by its sequence number (entries are in seq order). */
static struct win_ent *win_find(struct window *w, uint64_t seq) {
  size_t lo = 0, hi = w->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    struct win_ent *x = win_at(w, mid);
    if (x->seq == seq)
      return x;
    if (x->seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* --------------------------------------------------------------- table */

static uint64_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

struct limit_table *limit_table_new(void) {
  struct limit_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->nbuckets = 64;
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  if (!t->buckets || pthread_mutex_init(&t->lock, NULL) != 0) {
    free(t->buckets);
    free(t);
    return NULL;
  }
  return t;
}

static void entry_free(struct entry *e) {
  free(e->rpm.e);
  free(e->tpm.e);
  free(e->key);
  free(e);
}

void limit_table_free(struct limit_table *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->nbuckets; i++)
    for (struct entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      entry_free(e);
    }
  for (struct entry *e = t->orphans, *next; e; e = next) {
    next = e->next;
    entry_free(e);
  }
  free(t->buckets);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static struct entry **find_link(struct limit_table *t, const char *key) {
  struct entry **p = &t->buckets[hash_key(key) & (t->nbuckets - 1)];
  while (*p && strcmp((*p)->key, key) != 0)
    p = &(*p)->next;
  return p;
}

static void grow(struct limit_table *t) {
  size_t n = t->nbuckets * 2;
  struct entry **b = calloc(n, sizeof *b);
  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < t->nbuckets; i++)
    for (struct entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      struct entry **p = &b[hash_key(e->key) & (n - 1)];
      e->next = *p;
      *p = e;
    }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
}

/* The key's entry, created when absent; NULL when out of memory. */
static struct entry *get_entry(struct limit_table *t, const char *key) {
  struct entry **p = find_link(t, key);
  if (*p)
    return *p;
  struct entry *e = calloc(1, sizeof *e);
  if (!e || !(e->key = strdup(key))) {
    free(e);
    return NULL;
  }
  e->linked = 1;
  e->next_seq = 1;
  *p = e;
  if (++t->count > t->nbuckets)
    grow(t);
  return e;
}

/* -------------------------------------------------------------- budget */

/* Take the spec's window when it names a different reset than last time
 * (the key changed, or its store moved the reset), then roll whole windows
 * forward: each reset clears the settled spend. */
static void budget_roll(struct entry *e, const struct limit_spec *spec, int64_t now_wall) {
  if (spec && (spec->budget_reset_at_ms != e->spec_reset_at ||
               spec->budget_window_ms != e->window_ms)) {
    e->spec_reset_at = spec->budget_reset_at_ms;
    e->reset_at = spec->budget_reset_at_ms;
    e->window_ms = spec->budget_window_ms;
  }
  if (e->reset_at <= 0 || now_wall < e->reset_at)
    return;
  e->settled_n = 0;
  e->unwritten_n = 0; /* rows of a past window are not in this one's spend */
  if (e->window_ms > 0) {
    e->rolled_at = e->reset_at + (now_wall - e->reset_at) / e->window_ms * e->window_ms;
    e->reset_at = e->rolled_at + e->window_ms;
  } else {
    e->rolled_at = e->reset_at;
    e->reset_at = 0; /* a one-off reset */
  }
}

int limit_set_spend(struct limit_table *t, const char *key_id, double spend) {
  pthread_mutex_lock(&t->lock);
  struct entry *e = get_entry(t, key_id);
  if (e) /* the store has not seen what was settled since its rows were queued */
    e->settled_n = to_nano(spend) + e->unwritten_n;
  pthread_mutex_unlock(&t->lock);
  return e ? 0 : -1;
}

double limit_spend(struct limit_table *t, const char *key_id, int64_t now_wall_ms) {
  double spend = 0;
  pthread_mutex_lock(&t->lock);
  struct entry *e = *find_link(t, key_id);
  if (e) {
    budget_roll(e, NULL, now_wall_ms);
    spend = (double)e->settled_n / NANO;
  }
  pthread_mutex_unlock(&t->lock);
  return spend;
}

void limit_forget(struct limit_table *t, const char *key_id) {
  pthread_mutex_lock(&t->lock);
  struct entry **p = find_link(t, key_id), *e = *p;
  if (e) {
    *p = e->next;
    t->count--;
    e->linked = 0;
    if (e->tickets == 0) {
      entry_free(e);
    } else { /* its tickets still point at it */
      e->next = t->orphans;
      t->orphans = e;
    }
  }
  pthread_mutex_unlock(&t->lock);
}

static void unlink_orphan(struct limit_table *t, struct entry *e) {
  for (struct entry **p = &t->orphans; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      return;
    }
}

/* ------------------------------------------------------ admit / settle */

/* One limit's verdict: its wait (0 = passes, -1 = never) and figures. */
struct check {
  enum limit_kind kind;
  int64_t wait;
  double limit, used;
};

/* Fill the x-ratelimit-* figures, after the reservation when admitted. */
static void fill_headers(const struct entry *e, const struct limit_spec *spec, int64_t now,
                         struct limit_state *st) {
  if (spec->rpm > 0) {
    st->req_limit = spec->rpm;
    st->req_remaining = spec->rpm > e->rpm.sum ? spec->rpm - (long)e->rpm.sum : 0;
    st->req_reset_ms = win_reset(&e->rpm, now);
  }
  if (spec->tpm > 0) {
    st->tok_limit = spec->tpm;
    st->tok_remaining = spec->tpm > e->tpm.sum ? spec->tpm - (long)e->tpm.sum : 0;
    st->tok_reset_ms = win_reset(&e->tpm, now);
  }
}

/* A wait of -1 (never) outranks any finite one. */
static int longer(int64_t a, int64_t b) {
  return a < 0 ? b >= 0 : (b >= 0 && a > b);
}

int limit_admit(struct limit_table *t, const char *key_id, const struct limit_spec *spec,
                long tokens, double cost, int64_t now_ms, int64_t now_wall_ms,
                struct limit_ticket *ticket, struct limit_state *st) {
  memset(st, 0, sizeof *st);
  memset(ticket, 0, sizeof *ticket);
  if (tokens < 0)
    tokens = 0;
  int64_t cost_n = to_nano(cost);

  pthread_mutex_lock(&t->lock);
  struct entry *e = get_entry(t, key_id);
  if (!e || (spec->rpm > 0 && win_reserve(&e->rpm) != 0) ||
      (spec->tpm > 0 && win_reserve(&e->tpm) != 0)) {
    pthread_mutex_unlock(&t->lock);
    return -1;
  }
  /* Callers on different threads read the clock before taking the lock: never
   * let time run backwards inside an entry, so its windows stay ordered. */
  int64_t now = now_ms > e->last_ms ? now_ms : e->last_ms;
  e->last_ms = now;
  win_prune(&e->rpm, now);
  win_prune(&e->tpm, now);
  budget_roll(e, spec, now_wall_ms);

  /* Check every limit; the request waits for the slowest of those it fails. */
  struct check checks[4];
  size_t nc = 0;
  if (spec->rpm > 0)
    checks[nc++] = (struct check){LIMIT_RPM, win_wait(&e->rpm, 1, spec->rpm, now),
                                  (double)spec->rpm, (double)e->rpm.sum};
  if (spec->tpm > 0)
    checks[nc++] = (struct check){LIMIT_TPM, win_wait(&e->tpm, tokens, spec->tpm, now),
                                  (double)spec->tpm, (double)e->tpm.sum};
  if (spec->parallel > 0)
    checks[nc++] = (struct check){LIMIT_PARALLEL,
                                  e->inflight < spec->parallel ? 0 : PARALLEL_RETRY_MS,
                                  (double)spec->parallel, (double)e->inflight};
  if (spec->max_budget >= 0) {
    int64_t max_n = to_nano(spec->max_budget), used_n = e->settled_n + e->reserved_n;
    int64_t wait = 0;
    if (used_n + cost_n > max_n)
      wait = cost_n > max_n || e->reset_at <= 0 ? -1 : e->reset_at - now_wall_ms;
    checks[nc++] = (struct check){LIMIT_BUDGET, wait, spec->max_budget, (double)used_n / NANO};
  }
  const struct check *worst = NULL;
  for (size_t i = 0; i < nc; i++)
    if (checks[i].wait != 0 && (!worst || longer(checks[i].wait, worst->wait)))
      worst = &checks[i];

  if (worst) {
    st->refused = worst->kind;
    st->limit = worst->limit;
    st->used = worst->used;
    st->retry_after_ms = worst->wait;
    fill_headers(e, spec, now, st);
    pthread_mutex_unlock(&t->lock);
    return 1;
  }

  /* All pass: reserve all. */
  if (spec->rpm > 0)
    win_push(&e->rpm, now, 1, 0);
  ticket->seq = 0;
  if (spec->tpm > 0) {
    ticket->seq = e->next_seq++;
    win_push(&e->tpm, now, tokens, ticket->seq);
  }
  e->tickets++;
  e->inflight++;
  e->reserved_n += cost_n;
  ticket->slot = e;
  ticket->tokens = tokens;
  ticket->cost = cost;
  ticket->at_ms = now;
  fill_headers(e, spec, now, st);
  pthread_mutex_unlock(&t->lock);
  return 0;
}

void limit_release(struct limit_table *t, struct limit_ticket *ticket) {
  struct entry *e = ticket->slot;
  if (!e || ticket->released)
    return;
  pthread_mutex_lock(&t->lock);
  ticket->released = 1;
  e->inflight--;
  pthread_mutex_unlock(&t->lock);
}

void limit_settle(struct limit_table *t, struct limit_ticket *ticket, long tokens_used,
                  double cost, int64_t now_ms, int64_t now_wall_ms) {
  struct entry *e = ticket->slot;
  if (!e)
    return; /* never admitted, or settled already */
  if (tokens_used < 0)
    tokens_used = 0;
  int64_t cost_n = to_nano(cost);
  pthread_mutex_lock(&t->lock);
  ticket->slot = NULL;
  if (!ticket->released)
    e->inflight--;
  e->tickets--;
  e->reserved_n -= to_nano(ticket->cost);
  budget_roll(e, NULL, now_wall_ms);
  e->settled_n += cost_n;
  e->unwritten_n += cost_n;
  /* The window entry keeps its admission time; only its weight changes. */
  if (ticket->seq) {
    int64_t now = now_ms > e->last_ms ? now_ms : e->last_ms;
    win_prune(&e->tpm, now);
    struct win_ent *x = win_find(&e->tpm, ticket->seq);
    if (x) {
      e->tpm.sum += tokens_used - x->weight;
      x->weight = tokens_used;
    }
  }
  if (!e->linked && e->tickets == 0) {
    unlink_orphan(t, e);
    entry_free(e);
  }
  pthread_mutex_unlock(&t->lock);
}

void limit_written(struct limit_table *t, const char *key_id, double cost,
                   int64_t settled_wall_ms) {
  int64_t cost_n = to_nano(cost);
  if (!cost_n)
    return;
  pthread_mutex_lock(&t->lock);
  struct entry *e = *find_link(t, key_id);
  if (e && settled_wall_ms >= e->rolled_at) /* a past window's was dropped at the reset */
    e->unwritten_n -= cost_n < e->unwritten_n ? cost_n : e->unwritten_n;
  pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------ duration */

const char *limit_kind_name(enum limit_kind kind) {
  static const char *const names[] = {
      [LIMIT_NONE] = "", [LIMIT_RPM] = "RPM", [LIMIT_TPM] = "TPM",
      [LIMIT_PARALLEL] = "parallel requests", [LIMIT_BUDGET] = "budget"};
  return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "";
}

/* n bytes of text into out with its NUL: n, or 0 and "" when they do not fit. */
static size_t copy_out(const char *text, size_t n, char *out, size_t len) {
  if (n >= len) {
    if (len)
      out[0] = '\0';
    return 0;
  }
  memcpy(out, text, n);
  out[n] = '\0';
  return n;
}

size_t limit_format_long(long v, char *out, size_t len) {
  char tmp[NUM_DEC_MAX];
  return copy_out(tmp, (size_t)(num_i64(tmp, v) - tmp), out, len);
}

/* Go's time.Duration format at millisecond precision, which is what OpenAI
 * sends: "120ms" below a second, else "[Nh][Nm]S[.fff]s" with trailing
 * zeros of the fraction dropped ("1.5s", "6m0s", "1h0m0s"); 0 is "0s".
 * Returns the length written, or 0 (out = "") when it does not fit. Built by
 * hand, not with snprintf: it is on every keyed answer (x-ratelimit-reset-*). */
size_t limit_format_duration(int64_t ms, char *out, size_t len) {
  char tmp[64], *p = tmp;
  if (ms < 0)
    ms = 0;
  if (ms < 1000) {
    p = num_u64(p, (uint64_t)ms);
    if (ms)
      *p++ = 'm'; /* "120ms"; zero is "0s" */
  } else {
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, f = ms % 1000;
    if (h) {
      p = num_u64(p, (uint64_t)h);
      *p++ = 'h';
    }
    if (h || m) {
      p = num_u64(p, (uint64_t)m);
      *p++ = 'm';
    }
    p = num_u64(p, (uint64_t)s);
    if (f) { /* ".5", ".25", ".125" */
      *p++ = '.';
      *p++ = (char)('0' + f / 100);
      if (f % 100) {
        *p++ = (char)('0' + f / 10 % 10);
        if (f % 10)
          *p++ = (char)('0' + f % 10);
      }
    }
  }
  *p++ = 's';
  return copy_out(tmp, (size_t)(p - tmp), out, len);
}
