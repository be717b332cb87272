/* Delays before a create is sent again, and between polls (pure). */
#ifndef RP_BACKOFF_H
#define RP_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS_CREATE 8000

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)] from rnd
 * (attempt 0 = before the first retry). */
long backoff_full_jitter_ms(int attempt, uint32_t rnd);

/* No fixed waits: the first poll goes out at once (a `Prefer: wait` reply
 * saying processing often comes just before the end); later ones start a
 * twelfth of the prediction's age after the previous poll started, at least
 * POLL_MIN_DELAY_MS and at most cap_ms (poll_interval) apart. Counting from
 * the previous poll's start, not its reply, keeps the poll's own round trip
 * out of the gap: the end is then found within a twelfth of the duration
 * plus one round trip (with GETs answered after 60 ms, as Replicate's take
 * tens of ms, counting from the reply found a 1 s prediction's end 10.3%
 * late; bench/README.md, 2026-12-03). A poll slower than the gap is followed
 * at once: one poll in flight at a time, never two.
 * elapsed_ms: since the create was sent; since_sent_ms: since the previous
 * poll was sent; polls: sent so far. */
#define POLL_MIN_DELAY_MS 20
#define POLL_DELAY_DIVISOR 12
uint64_t backoff_poll_delay_ms(uint64_t elapsed_ms, uint64_t since_sent_ms, int polls,
                               uint64_t cap_ms);

/* Replicate's throttle text "... resets in ~12s" as ms, or -1. */
long backoff_resets_in_ms(const char *body, size_t len);

#endif
