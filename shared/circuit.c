#include "circuit.h"

#include <string.h>

void circuit_init(struct circuit *c, uint64_t cooldown_ms) {
  memset(c, 0, sizeof *c);
  c->cooldown_ms = cooldown_ms;
}

const char *circuit_state_name(enum circuit_state s) {
  static const char *const NAMES[] = {"closed", "open", "half-open"};
  return NAMES[s];
}

int circuit_allow(struct circuit *c, uint64_t now_ms, uint64_t *retry_after_ms) {
  uint64_t since = now_ms - c->opened_ms;
  switch (c->state) {
  case CIRCUIT_CLOSED:
    return 1;
  case CIRCUIT_OPEN:
    if (since >= c->cooldown_ms) {
      c->state = CIRCUIT_HALF_OPEN;
      c->probe_ms = now_ms;
      return 1;
    }
    *retry_after_ms = c->cooldown_ms - since;
    return 0;
  case CIRCUIT_HALF_OPEN:
    /* A probe that never reported (its request vanished) must not keep
     * the circuit shut forever: after a cool-down, another may go. */
    if (now_ms - c->probe_ms >= c->cooldown_ms) {
      c->probe_ms = now_ms;
      return 1;
    }
    *retry_after_ms = c->cooldown_ms - (now_ms - c->probe_ms);
    return 0;
  }
  return 1;
}

static int window_failures(const struct circuit *c, uint64_t now_ms) {
  int f = 0;
  for (int i = 0; i < c->n; i++)
    f += c->failed[i] && now_ms - c->at[i] <= CIRCUIT_WINDOW_MS;
  return f;
}

static void open_it(struct circuit *c, uint64_t now_ms) {
  c->state = CIRCUIT_OPEN;
  c->opened_ms = now_ms;
  c->consecutive = 0;
  c->n = c->next = 0; /* a fresh window after the probe closes it */
}

int circuit_record(struct circuit *c, uint64_t now_ms, int ok) {
  if (c->state == CIRCUIT_HALF_OPEN || c->state == CIRCUIT_OPEN) {
    if (ok) {
      c->state = CIRCUIT_CLOSED;
      c->consecutive = 0;
      c->n = c->next = 0;
      return 0;
    }
    if (c->state == CIRCUIT_OPEN)
      return 0; /* a create from before it opened: already counted */
    open_it(c, now_ms);
    return 1;
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
    return 1;
  }
  return 0;
}
