#include <pthread.h>

#include "../../shared/circuit.h"
#include "test.h"

/* Workers share one circuit: each thread records failures at once. */
static struct circuit shared;
static _Atomic int opened_count;
static void *fail_some(void *arg) {
  (void)arg;
  for (int i = 0; i < 50; i++)
    if (circuit_record(&shared, 1000, 0) == CIRCUIT_OPENED)
      atomic_fetch_add(&opened_count, 1);
  return NULL;
}

void suite_circuit(void) {
  struct circuit c;
  uint64_t ra = 0;

  test_current = "consecutive";
  circuit_init(&c, 10000);
  for (int i = 0; i < CIRCUIT_CONSECUTIVE - 1; i++) {
    CHECK(circuit_allow(&c, 1000, &ra));
    CHECK_INT(circuit_record(&c, 1000, 0), 0);
  }
  CHECK_INT(circuit_record(&c, 1000, 1), 0); /* a success resets the run */
  for (int i = 0; i < CIRCUIT_CONSECUTIVE - 1; i++)
    CHECK_INT(circuit_record(&c, 1000, 0), 0);
  CHECK_INT(circuit_record(&c, 2000, 0), CIRCUIT_OPENED);
  CHECK_INT(c.state, CIRCUIT_OPEN);
  CHECK_INT(circuit_state_get(&c), CIRCUIT_OPEN);

  test_current = "open refuses with Retry-After";
  CHECK_INT(circuit_allow(&c, 5000, &ra), 0);
  CHECK_INT(ra, 7000);

  test_current = "one probe after the cool-down";
  CHECK_INT(circuit_allow(&c, 12000, &ra), 1);
  CHECK_INT(c.state, CIRCUIT_HALF_OPEN);
  CHECK_INT(circuit_allow(&c, 12001, &ra), 0); /* only one */
  CHECK_INT(circuit_record(&c, 12500, 0), 1);  /* probe failed: open again */
  CHECK_INT(c.state, CIRCUIT_OPEN);
  CHECK_INT(circuit_allow(&c, 13000, &ra), 0);
  CHECK_INT(ra, 9500);
  CHECK_INT(circuit_allow(&c, 22500, &ra), 1);
  CHECK_INT(circuit_record(&c, 22600, 1), CIRCUIT_CLOSED_NOW); /* probe succeeded: closed */
  CHECK_INT(c.state, CIRCUIT_CLOSED);
  CHECK_INT(circuit_state_get(&c), CIRCUIT_CLOSED);
  CHECK_INT(circuit_record(&c, 22700, 1), 0); /* closed already: no change to report */
  CHECK_INT(circuit_allow(&c, 22601, &ra), 1);

  test_current = "a lost probe does not shut it forever";
  circuit_init(&c, 1000);
  for (int i = 0; i < CIRCUIT_CONSECUTIVE; i++)
    circuit_record(&c, 0, 0);
  CHECK_INT(circuit_allow(&c, 1000, &ra), 1);
  CHECK_INT(circuit_allow(&c, 1500, &ra), 0);
  CHECK_INT(circuit_allow(&c, 2000, &ra), 1);

  test_current = "a clock read before another worker opened it";
  circuit_init(&c, 10000);
  for (int i = 0; i < CIRCUIT_CONSECUTIVE; i++)
    circuit_record(&c, 5000, 0);
  CHECK_INT(circuit_allow(&c, 4999, &ra), 0); /* not a probe: the cool-down just began */
  CHECK_INT(ra, 10000);
  CHECK_INT(c.state, CIRCUIT_OPEN);
  CHECK_INT(circuit_allow(&c, 15000, &ra), 1); /* the probe */
  CHECK_INT(circuit_allow(&c, 14999, &ra), 0); /* and only one */

  test_current = "a failure stamped a moment later still counts";
  circuit_init(&c, 1000);
  for (int i = 0; i < 18; i++) /* fail, ok, ...: 9 failures, never 5 in a row */
    circuit_record(&c, 100000 + (uint64_t)i, i % 2 == 0 ? 0 : 1);
  CHECK_INT(circuit_record(&c, 99999, 0), CIRCUIT_OPENED); /* the 10th of the last 20 */

  test_current = "half of the last 20 within a minute";
  circuit_init(&c, 1000);
  int opened = 0;
  for (int i = 0; i < 20 && !opened; i++) /* fail, ok, fail, ok ...: never 5 in a row */
    opened = circuit_record(&c, (uint64_t)i * 100, i % 2 == 0 ? 0 : 1) ? i + 1 : 0;
  CHECK_INT(opened, 19); /* the 10th failure */

  test_current = "old failures fall out of the minute";
  circuit_init(&c, 1000);
  for (int i = 0; i < 18; i++)
    circuit_record(&c, (uint64_t)i * 10000, i % 2 == 0 ? 0 : 1);
  CHECK_INT(c.state, CIRCUIT_CLOSED);
  CHECK_STR(circuit_state_name(CIRCUIT_HALF_OPEN), "half-open");

  test_current = "one circuit for four threads opens once";
  circuit_init(&shared, 10000);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    CHECK_INT(pthread_create(&th[i], NULL, fail_some, NULL), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  CHECK_INT(atomic_load(&opened_count), 1);
  CHECK_INT(circuit_state_get(&shared), CIRCUIT_OPEN);
  CHECK_INT(circuit_allow(&shared, 2000, &ra), 0);
  CHECK(circuit_global() == circuit_global());
}
