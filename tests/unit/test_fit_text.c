#include <string.h>

#include "../../shared/fit_text.h"
#include "test.h"

void suite_fit_text(void) {
  char f[8];

  TEST("fit_text: fits whole, then appends");
  size_t n = fit_str(f, sizeof f, 0, "ab");
  CHECK_INT(n, 2);
  n = fit_text(f, sizeof f, n, "cdXX", 2);
  CHECK_INT(n, 4);
  CHECK_STR(f, "abcd");

  TEST("fit_text: cut at the field's last byte, NUL kept");
  n = fit_str(f, sizeof f, n, "efghij");
  CHECK_INT(n, 7);
  CHECK_STR(f, "abcdefg");
  n = fit_str(f, sizeof f, n, "more");
  CHECK_INT(n, 7);
  CHECK_STR(f, "abcdefg");

  TEST("fit_text: empty and exact");
  CHECK_INT(fit_str(f, sizeof f, 0, ""), 0);
  CHECK_STR(f, "");
  CHECK_INT(fit_str(f, sizeof f, 0, "1234567"), 7);
  CHECK_STR(f, "1234567");

  TEST("fit_str reads no further than the room left (no NUL needed past it)");
  const char unterminated[4] = {'w', 'x', 'y', 'z'};
  char g[4];
  CHECK_INT(fit_str(g, sizeof g, 0, unterminated), 3);
  CHECK_STR(g, "wxy");
}
