#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../shared/num_text.h"
#include "test.h"

/* num_g against snprintf itself: the same bytes, or the test says which. */
static int same(double v, int p) {
  char want[64], got[NUM_G_MAX];
  snprintf(want, sizeof want, "%.*g", p, v);
  size_t n = num_g(got, v, p);
  if (n != strlen(want) || strcmp(got, want) != 0) {
    CHECK_STR(got, want);
    return 0;
  }
  return 1;
}

void suite_num_text(void) {
  static const int PRECS[] = {1, 2, 6, 9, 15, 16, 17};
  size_t np = sizeof PRECS / sizeof PRECS[0];

  test_current = "num_g fixed values";
  static const double FIXED[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.25, 0.125, 0.1, 0.2, 0.3,
                                 1e-4, 1e-5, 9.5, 0.95, 99.5, 1.5, 2.5, 1e15, 1e16, 1e17,
                                 123456789.0, 1234567890.0, 9.9999999949999999,
                                 9.999999995, 0.000099999999995, 4503599627370495.5,
                                 4503599627370496.0, 9007199254740993.0, 1e300, 1e-300,
                                 5e-324, 2.2250738585072014e-308, INFINITY, -INFINITY, NAN,
                                 6.72e-7, 2.016e-6, 0.000028896, 1.0 / 3, 2.0 / 3, 100.0,
                                 1e-11, 1e-12, 123.456, -0.000123};
  for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
    for (size_t k = 0; k < np; k++)
      if (!same(FIXED[i], PRECS[k]))
        break;

  test_current = "num_g costs: tokens x price / 1e6";
  /* The values a cost takes: whole tokens at per-million prices. */
  static const double PRICES[] = {0.672, 2.016, 0.05, 0.25, 3.0, 15.0, 0.1, 1e-3, 75.0};
  int bad = 0;
  for (size_t pi = 0; pi < sizeof PRICES / sizeof PRICES[0] && !bad; pi++)
    for (long t = 0; t < 20000 && !bad; t += t < 200 ? 1 : 37)
      for (long c = 0; c < 3 && !bad; c++) {
        double v = ((double)t * PRICES[pi] + (double)(t * c) * PRICES[(pi + 1) % 9]) / 1e6;
        bad = !same(v, 9) || !same(v, 17);
      }

  test_current = "num_g random doubles";
  /* Every magnitude the fast path takes and beyond, random significands. */
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 200000 && !bad; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double v = ldexp((double)(x >> 11) / 9007199254740992.0 + 0.5,
                     (int)((x >> 3) % 140) - 80);
    if (x & 1)
      v = -v;
    bad = !same(v, PRECS[i % np]);
  }

  test_current = "num_g ties";
  /* Dyadic values whose digits end exactly half way: ties go to even. */
  for (int i = 1; i < 4096 && !bad; i++) {
    double v = (double)i / 4096.0;
    for (size_t k = 0; k < np && !bad; k++)
      bad = !same(v, PRECS[k]) || !same(v * 1000, PRECS[k]);
  }

  test_current = "num_u64 and num_i64";
  static const int64_t INTS[] = {0, 1, -1, 9, 10, -10, 499, 1000000007, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof INTS / sizeof INTS[0]; i++) {
    char want[32], got[NUM_DEC_MAX + 1];
    snprintf(want, sizeof want, "%lld", (long long)INTS[i]);
    *num_i64(got, INTS[i]) = '\0';
    CHECK_STR(got, want);
  }
  static const uint64_t UINTS[] = {0, 7, 18446744073709551615ull, 10000000000000000000ull};
  for (size_t i = 0; i < sizeof UINTS / sizeof UINTS[0]; i++) {
    char want[32], got[NUM_DEC_MAX + 1];
    snprintf(want, sizeof want, "%llu", (unsigned long long)UINTS[i]);
    *num_u64(got, UINTS[i]) = '\0';
    CHECK_STR(got, want);
  }
  /* Each digit count's edges: 10^k - 1, 10^k, 10^k + 1; nothing written past the digits. */
  int edges_ok = 1;
  for (uint64_t p10 = 1, k = 0; k < 20 && edges_ok; k++, p10 *= 10)
    for (uint64_t v = p10 - 1; v <= p10 + 1 && edges_ok; v++) {
      char want[32], got[NUM_DEC_MAX + 2];
      memset(got, '#', sizeof got);
      int n = snprintf(want, sizeof want, "%llu", (unsigned long long)v);
      char *end = num_u64(got, v);
      edges_ok = end - got == n && memcmp(got, want, (size_t)n) == 0 && got[n] == '#';
    }
  CHECK(edges_ok);
}
