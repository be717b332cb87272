#include "circuit.h"

#include <string.h>

void circuit_init(struct circuit *c, uint64_t cooldown_ms) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  c->cooldown_ms = cooldown_ms;
}

struct circuit *circuit_global(void) {
  static struct circuit process;
  return &process;
}

enum circuit_state circuit_state_get(const struct circuit *c) {
  return (enum circuit_state)atomic_load_explicit(&c->published, memory_order_relaxed);
}

static void set_state(struct circuit *c, enum circuit_state s) {
  c->state = s;
  atomic_store_explicit(&c->published, (int)s, memory_order_relaxed);
}

const char *circuit_state_name(enum circuit_state s) {
  static const char *const NAMES[] = {"closed", "open", "half-open"};
  return NAMES[s];
}

/* now - then, 0 when then is later: workers read the clock before taking the
 * lock, so another may have stamped a later time meanwhile (unsigned
 * wrap-around would read as a cool-down long over). */
static uint64_t elapsed(uint64_t now_ms, uint64_t then_ms) {
  return now_ms > then_ms ? now_ms - then_ms : 0;
}

static int allow(struct circuit *c, uint64_t now_ms, uint64_t *retry_after_ms) {
  uint64_t since = elapsed(now_ms, c->opened_ms);
  switch (c->state) {
  case CIRCUIT_CLOSED:
    return 1;
  case CIRCUIT_OPEN:
    if (since >= c->cooldown_ms) {
      set_state(c, CIRCUIT_HALF_OPEN);
      c->probe_ms = now_ms;
      return 1;
    }
    *retry_after_ms = c->cooldown_ms - since;
    return 0;
  case CIRCUIT_HALF_OPEN:
    /* A probe that never reported (its request vanished) must not keep
     * the circuit shut forever: after a cool-down, another may go. */
    if (elapsed(now_ms, c->probe_ms) >= c->cooldown_ms) {
      c->probe_ms = now_ms;
      return 1;
    }
    *retry_after_ms = c->cooldown_ms - elapsed(now_ms, c->probe_ms);
    return 0;
  }
  return 1;
}

static int window_failures(const struct circuit *c, uint64_t now_ms) {
  int f = 0;
  for (int i = 0; i < c->n; i++)
    f += c->failed[i] && elapsed(now_ms, c->at[i]) <= CIRCUIT_WINDOW_MS;
  return f;
}

static void open_it(struct circuit *c, uint64_t now_ms) {
  set_state(c, CIRCUIT_OPEN);
  c->opened_ms = now_ms;
  c->consecutive = 0;
  c->n = c->next = 0; /* a fresh window after the probe closes it */
}

static int record(struct circuit *c, uint64_t now_ms, int ok) {
  if (c->state == CIRCUIT_HALF_OPEN || c->state == CIRCUIT_OPEN) {
    if (ok) {
      set_state(c, CIRCUIT_CLOSED);
      c->consecutive = 0;
      c->n = c->next = 0;
      return CIRCUIT_CLOSED_NOW;
    }
    if (c->state == CIRCUIT_OPEN)
      return 0; /* a create from before it opened: already counted */
    open_it(c, now_ms);
    return CIRCUIT_OPENED;
  }
  c->at[c->next] = now_ms;
  c->failed[c->next] = !ok;
  c->next = (c->next + 1) % CIRCUIT_WINDOW;
  if (c->n < CIRCUIT_WINDOW)
    c->n++;
  c->consecutive = ok ? 0 : c->consecutive + 1;
  if (!ok && (c->consecutive >= CIRCUIT_CONSECUTIVE ||
              window_failures(c, now_ms) >= CIRCUIT_WINDOW / 2)) {
    open_it(c, now_ms);
    return CIRCUIT_OPENED;
  }
  return 0;
}

int circuit_allow(struct circuit *c, uint64_t now_ms, uint64_t *retry_after_ms) {
  if (circuit_state_get(c) == CIRCUIT_CLOSED)
    return 1; /* the common case: no lock */
  pthread_mutex_lock(&c->lock);
  int ok = allow(c, now_ms, retry_after_ms);
  pthread_mutex_unlock(&c->lock);
  return ok;
}

int circuit_record(struct circuit *c, uint64_t now_ms, int ok) {
  pthread_mutex_lock(&c->lock);
  int rc = record(c, now_ms, ok);
  pthread_mutex_unlock(&c->lock);
  return rc;
}
