#include "backoff.h"

#include <string.h>

long backoff_full_jitter_ms(int attempt, uint32_t rnd) {
  long ceiling = BACKOFF_BASE_MS;
  for (int i = 0; i < attempt && ceiling < BACKOFF_CAP_MS_CREATE; i++)
    ceiling *= 2;
  if (ceiling > BACKOFF_CAP_MS_CREATE)
    ceiling = BACKOFF_CAP_MS_CREATE;
  return (long)(rnd % (uint32_t)(ceiling + 1));
}

uint64_t backoff_poll_delay_ms(uint64_t elapsed_ms, uint64_t since_sent_ms, int polls,
                               uint64_t cap_ms) {
  if (polls == 0)
    return 0;
  uint64_t gap = elapsed_ms / POLL_DELAY_DIVISOR;
  if (gap < POLL_MIN_DELAY_MS)
    gap = POLL_MIN_DELAY_MS;
  if (gap > cap_ms)
    gap = cap_ms;
  return gap > since_sent_ms ? gap - since_sent_ms : 0;
}

long backoff_resets_in_ms(const char *body, size_t len) {
  static const char KEY[] = "resets in ~";
  const size_t k = sizeof KEY - 1;
  for (size_t i = 0; body && i + k < len; i++) {
    if (memcmp(body + i, KEY, k) != 0)
      continue;
    long s = 0;
    size_t j = i + k, digits = 0;
    for (; j < len && body[j] >= '0' && body[j] <= '9' && digits < 6; j++, digits++)
      s = s * 10 + (body[j] - '0');
    if (digits > 0 && j < len && body[j] == 's')
      return s * 1000;
  }
  return -1;
}
