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
