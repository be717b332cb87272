#include <stdarg.h>
#include <stdio.h>

#include "test.h"

int test_passed, test_failed;
const char *test_current = "";

void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  test_failed++;
  fprintf(stderr, "FAIL %s:%d [%s] ", file, line, test_current);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* One line per shared/ module; each suite lives in test_<module>.c. */
#define SUITES(X)                                                              \
  X(buf)                                                                       \
  X(fit_text)                                                                  \
  X(oai_error)                                                                 \
  X(config)                                                                    \
  X(models)                                                                    \
  X(chat_request)                                                              \
  X(prompt)                                                                    \
  X(prediction)                                                                \
  X(prediction_list)                                                           \
  X(upstream_error)                                                            \
  X(response)                                                                  \
  X(sse)                                                                       \
  X(stop)                                                                      \
  X(jsonmode)                                                                  \
  X(completion_request)                                                        \
  X(pipeline)                                                                  \
  X(think)                                                                     \
  X(toolcall)                                                                  \
  X(keys)                                                                      \
  X(limits)                                                                    \
  X(ledger)                                                                    \
  X(json_scan)                                                                 \
  X(origin)                                                                    \
  X(dialects)                                                                  \
  X(store)                                                                     \
  X(http1)                                                                     \
  X(cpus)                                                                      \
  X(metrics)                                                                   \
  X(access_log)                                                                \
  X(circuit)                                                                   \
  X(backoff)                                                                   \
  X(trace)                                                                     \
  X(otlp_pb)                                                                   \
  X(num_text)

#define DECLARE(name) void suite_##name(void);
SUITES(DECLARE)

int main(void) {
#define RUN(name)                                                              \
  do {                                                                         \
    int before = test_failed;                                                  \
    suite_##name();                                                            \
    fprintf(stderr, "%-16s %s\n", #name, test_failed == before ? "ok" : "FAILED"); \
  } while (0);
  SUITES(RUN)
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}
