/* A circuit breaker for creates at Replicate (pure: the caller passes the
 * clock). Opens after CIRCUIT_CONSECUTIVE failures in a row, or when half of
 * the last CIRCUIT_WINDOW outcomes within CIRCUIT_WINDOW_MS failed (at least
 * CIRCUIT_WINDOW/2 of them); while open, creates are refused at once; after
 * the cool-down one probe goes through: success closes it, failure opens it
 * again. One per process (circuit_global), shared by the workers: a short
 * lock around each decision (creates only, never the per-token path), so
 * Replicate failing on any worker opens it for all. */
#ifndef RP_CIRCUIT_H
#define RP_CIRCUIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define CIRCUIT_CONSECUTIVE 5
#define CIRCUIT_WINDOW 20
#define CIRCUIT_WINDOW_MS 60000

enum circuit_state { CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };

struct circuit {
  pthread_mutex_t lock;            /* held for one allow or record */
  _Atomic int published;           /* state, readable without the lock */
  enum circuit_state state;
  int consecutive;                 /* failures in a row */
  uint64_t at[CIRCUIT_WINDOW];     /* ring of recent outcomes: when ... */
  unsigned char failed[CIRCUIT_WINDOW]; /* ... and whether it failed */
  int n, next;                     /* ring fill and write position */
  uint64_t opened_ms;              /* when it last opened */
  uint64_t probe_ms;               /* half-open: when the probe went out */
  uint64_t cooldown_ms;
};

void circuit_init(struct circuit *c, uint64_t cooldown_ms);

/* May a create go out now? 1 yes (in half-open: this is the probe), 0 no:
 * *retry_after_ms then says when to come back. */
int circuit_allow(struct circuit *c, uint64_t now_ms, uint64_t *retry_after_ms);

/* The outcome of a create that circuit_allow let through. Returns
 * CIRCUIT_OPENED when this outcome opened the circuit, CIRCUIT_CLOSED_NOW
 * when it closed it, else 0: the caller logs each change once. */
#define CIRCUIT_OPENED 1
#define CIRCUIT_CLOSED_NOW 2
int circuit_record(struct circuit *c, uint64_t now_ms, int ok);

/* The state now, without the lock (for /ready and /metrics). */
enum circuit_state circuit_state_get(const struct circuit *c);

/* The process's circuit (initialised once by main before the workers). */
struct circuit *circuit_global(void);

const char *circuit_state_name(enum circuit_state s);

#endif
