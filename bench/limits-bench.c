/* Micro-benchmark of shared/limits.c: admit + settle pairs per second with
 * every limit set, for 1 and 2 threads, on one shared key (every call takes
 * the same lock: the worst case) and on one key per thread. Prints figures;
 * not a test.
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Ishared bench/limits-bench.c shared/limits.c \
 *      -lpthread -lm -o build/limits-bench && build/limits-bench */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "limits.h"

#define SECONDS 1.0

struct run {
  struct limit_table *t;
  const char *key;
  long pairs, refused;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  struct run *r = arg;
  /* Limits high enough never to refuse, so every call does the full work:
   * RPM and TPM windows, parallel, budget. The clock is simulated (1 ms per
   * pair) so a window holds at most 60,000 entries per thread. */
  struct limit_spec spec = {1000000, 2000000000L, 1000, 1e9, 3600000, 0};
  double end = now_s() + SECONDS;
  int64_t ms = 0;
  while (now_s() < end) {
    for (int i = 0; i < 1000; i++, ms++) {
      struct limit_ticket tk;
      struct limit_state st;
      if (limit_admit(r->t, r->key, &spec, 1500, 0.004, ms, 1700000000000LL + ms, &tk, &st) != 0) {
        r->refused++;
        continue;
      }
      limit_settle(r->t, &tk, 900, 0.002, ms, 1700000000000LL + ms);
      r->pairs++;
    }
  }
  return NULL;
}

static void bench(int threads, int shared_key) {
  static const char *keys[] = {"key-a", "key-b"};
  struct limit_table *t = limit_table_new();
  struct run runs[2];
  pthread_t th[2];
  for (int i = 0; i < threads; i++) {
    runs[i] = (struct run){t, shared_key ? keys[0] : keys[i], 0, 0};
    pthread_create(&th[i], NULL, worker, &runs[i]);
  }
  long pairs = 0, refused = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    pairs += runs[i].pairs;
    refused += runs[i].refused;
  }
  printf("%d thread%s, %-16s %5.2f M admit+settle/s (%.0f ns each)%s\n", threads,
         threads > 1 ? "s" : " ", shared_key ? "one key:" : "key per thread:",
         (double)pairs / SECONDS / 1e6, SECONDS * 1e9 * threads / (double)pairs,
         refused ? " REFUSED SOME" : "");
  limit_table_free(t);
}

int main(void) {
  bench(1, 1);
  bench(2, 1);
  bench(2, 0);
  return 0;
}
