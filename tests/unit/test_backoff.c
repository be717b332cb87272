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

  test_current = "poll delay";
  CHECK_INT(backoff_poll_delay_ms(0, 0, 0, 500), 0);       /* the first poll: at once */
  CHECK_INT(backoff_poll_delay_ms(5000, 9999, 0, 500), 0); /* whatever the age */
  CHECK_INT(backoff_poll_delay_ms(10, 3, 1, 500), 17);     /* floor 20, from the send */
  CHECK_INT(backoff_poll_delay_ms(1200, 0, 3, 500), 100);  /* a twelfth of the age */
  CHECK_INT(backoff_poll_delay_ms(1200, 30, 3, 500), 70);  /* less the round trip */
  CHECK_INT(backoff_poll_delay_ms(1200, 100, 3, 500), 0);  /* a poll as slow as the gap */
  CHECK_INT(backoff_poll_delay_ms(1200, 400, 3, 500), 0);  /* ... or slower: at once */
  CHECK_INT(backoff_poll_delay_ms(60000, 50, 9, 500), 450); /* capped at poll_interval */
  CHECK_INT(backoff_poll_delay_ms(100, 0, 2, 10), 10);     /* a cap under the floor wins */

  test_current = "resets in";
  const char *t = "{\"detail\":\"Request was throttled. Your rate limit resets in ~12s.\"}";
  CHECK_INT(backoff_resets_in_ms(t, strlen(t)), 12000);
  const char *u = "resets in ~s";
  CHECK_INT(backoff_resets_in_ms(u, strlen(u)), -1);
  CHECK_INT(backoff_resets_in_ms(NULL, 0), -1);
  const char *cut = "resets in ~12";
  CHECK_INT(backoff_resets_in_ms(cut, strlen(cut)), -1);
}
