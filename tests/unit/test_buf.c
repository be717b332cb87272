#include "../../shared/buf.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

void suite_buf(void) {
  struct buf b = BUF_INIT;
  TEST("append and printf");
  CHECK_INT(buf_append_str(&b, "hello"), 0);
  CHECK_INT(buf_printf(&b, " %d %s", 42, "x"), 0);
  CHECK_MEM(b.data, b.len, "hello 42 x");
  TEST("consume");
  buf_consume(&b, 6);
  CHECK_MEM(b.data, b.len, "42 x");
  buf_consume(&b, 100);
  CHECK_INT(b.len, 0);
  CHECK_STR(b.data, "");
  TEST("growth past many doublings");
  for (int i = 0; i < 10000; i++)
    buf_append_char(&b, 'a' + i % 26);
  CHECK_INT(b.len, 10000);
  CHECK(b.data[9999] == 'a' + 9999 % 26 && b.data[10000] == '\0');
  TEST("printf: fits the room left, then one that does not (grown, formatted again)");
  {
    struct buf f = BUF_INIT;
    CHECK_INT(buf_printf(&f, "%s", ""), 0);
    CHECK(f.data != NULL && f.len == 0 && f.data[0] == '\0');
    CHECK_INT(buf_printf(&f, "%d-%s", 7, "ab"), 0);
    CHECK_MEM(f.data, f.len, "7-ab");
    char big[300];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t cap = f.cap;
    CHECK_INT(buf_printf(&f, "[%s]", big), 0);
    CHECK(f.cap > cap && f.len == 4 + 301 && f.data[f.len] == '\0');
    CHECK(memcmp(f.data, "7-ab[zz", 7) == 0 && f.data[f.len - 1] == ']');
    buf_free(&f);
  }
  TEST("decimal digits and a list of strings, as printf would make them");
  {
    struct buf n = BUF_INIT;
    CHECK_INT(buf_append_u64(&n, 0), 0);
    CHECK_INT(buf_append_strs(&n, ",", "", "x/", "y", (char *)NULL), 0);
    CHECK_INT(buf_append_u64(&n, 18446744073709551615ull), 0);
    CHECK_INT(buf_append_strs(&n, "", (char *)NULL), 0);
    CHECK_INT(buf_append_u64(&n, 200), 0);
    CHECK_STR(n.data, "0,x/y18446744073709551615200");
    CHECK_INT((int)n.len, 28);
    buf_free(&n);
  }
  TEST("take leaves it empty");
  char *s = buf_take(&b);
  CHECK(s != NULL && strlen(s) == 10000);
  CHECK(b.data == NULL && b.len == 0);
  free(s);
  s = buf_take(&b);
  CHECK_STR(s, "");
  free(s);
  buf_free(&b);
}
