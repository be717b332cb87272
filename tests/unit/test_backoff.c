#include <string.h>

#include "../../shared/backoff.h"
#include "test.h"

void suite_backoff(void) {
  test_current = "full jitter";
  CHECK_INT(backoff_full_jitter_ms(0, 0), 0);
  CHECK_INT(backoff_full_jitter_ms(0, 500), 500);
  CHECK_INT(backoff_full_jitter_ms(0, 501), 0);  /* 501 % 501 */
  CHECK_INT(backoff_full_jitter_ms(1, 1000), 1000);
  CHECK_INT(backoff_full_jitter_ms(2, 2000), 2000);
  CHECK_INT(backoff_full_jitter_ms(10, 8000), 8000); /* capped */
  CHECK_INT(backoff_full_jitter_ms(40, 4000000000u), 4000000000u % 8001);

  test_current = "resets in";
  const char *t = "{\"detail\":\"Request was throttled. Your rate limit resets in ~12s.\"}";
  CHECK_INT(backoff_resets_in_ms(t, strlen(t)), 12000);
  const char *u = "resets in ~s";
  CHECK_INT(backoff_resets_in_ms(u, strlen(u)), -1);
  CHECK_INT(backoff_resets_in_ms(NULL, 0), -1);
  const char *cut = "resets in ~12";
  CHECK_INT(backoff_resets_in_ms(cut, strlen(cut)), -1);
}
