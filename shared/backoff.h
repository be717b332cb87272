/* Delays before a create is sent again (pure). */
#ifndef RP_BACKOFF_H
#define RP_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS_CREATE 8000

/* Full jitter: uniform in [0, min(cap, base * 2^attempt)] from rnd
 * (attempt 0 = before the first retry). */
long backoff_full_jitter_ms(int attempt, uint32_t rnd);

/* Replicate's throttle text "... resets in ~12s" as ms, or -1. */
long backoff_resets_in_ms(const char *body, size_t len);

#endif
