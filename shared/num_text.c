#include "num_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t POW10[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};

/* 5^s fits 64 bits up to s = 27. */
#define POW5_MAX 27
static const uint64_t POW5[28] = {1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull, 1953125ull, 9765625ull, 48828125ull, 244140625ull, 1220703125ull, 6103515625ull, 30517578125ull, 152587890625ull, 762939453125ull, 3814697265625ull, 19073486328125ull, 95367431640625ull, 476837158203125ull, 2384185791015625ull, 11920928955078125ull, 59604644775390625ull, 298023223876953125ull, 1490116119384765625ull, 7450580596923828125ull};

/* floor(m * 2^e2 * 10^s) into *q, and how the rest compares with one half
 * (-1 below, 0 equal, 1 above). 0, or -1 when it does not fit 128 bits.
 * 10^s = 5^s * 2^s: only 5^s multiplies, the 2^s joins the shift. */
static int scaled(uint64_t m, int e2, int s, uint64_t *q, int *half) {
  if (s < 0 || s > POW5_MAX)
    return -1;
  u128 prod = (u128)m * POW5[s]; /* < 2^117 */
  int shift = -(e2 + s);    /* value = prod * 2^-shift */
  if (shift <= 0) {
    if (shift < -10)
      return -1;
    prod <<= -shift;
    *half = -1;
  } else {
    if (shift >= 118)
      return -1;
    u128 rest = prod & (((u128)1 << shift) - 1), h = (u128)1 << (shift - 1);
    prod >>= shift;
    *half = rest < h ? -1 : rest > h;
  }
  if (prod >> 64)
    return -1;
  *q = (uint64_t)prod;
  return 0;
}

/* The precision significant digits of |v| (v finite, nonzero) rounded
 * to nearest, ties to even (glibc's printf in the default rounding mode),
 * and the decimal exponent x of the first: v ~ digits * 10^(x-p+1).
 * 0, or -1 (out of the exact range). */
static int digits_of(double v, int p, uint64_t *digits, int *x) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int be = (int)(bits >> 52 & 0x7ff);
  if (be == 0)
    return -1; /* subnormal: snprintf's */
  uint64_t m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
  int e2 = be - 1075, e = be - 1022; /* v = m * 2^e2, 2^(e-1) <= v < 2^e */
  /* floor((e - 1) * log10(2)), 78913 / 2^18 ~ log10(2): right or one low */
  int t = (e - 1) * 78913;
  int xe = t >= 0 ? t / 262144 : -((-t + 262143) / 262144);
  for (int tries = 0; tries < 3; tries++) {
    uint64_t q;
    int half;
    if (scaled(m, e2, p - 1 - xe, &q, &half) != 0)
      return -1;
    if (q >= POW10[p]) {
      xe++;
      continue;
    }
    if (q < POW10[p - 1]) {
      xe--;
      continue;
    }
    if (half > 0 || (half == 0 && (q & 1)))
      q++;
    if (q == POW10[p]) { /* 9.99..5 rounds to 10.0..: one digit more */
      q = POW10[p - 1];
      xe++;
    }
    *digits = q;
    *x = xe;
    return 0;
  }
  return -1;
}

/* "00" .. "99": two digits a step halves the divisions. */
static const char PAIRS[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                               "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                               "8081828384858687888990919293949596979899";

char *num_u64(char *o, uint64_t v) {
  /* The digit count first (compares, not divisions), then the digits in
   * place from the end, two a step: a copy from a scratch buffer (a memcpy
   * call) was half the cost of a small number, and the access line writes
   * seven. */
  size_t n = 1;
  while (n < 20 && v >= POW10[n])
    n++;
  char *p = o + n;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, PAIRS + 2 * r, 2);
  }
  if (v >= 10)
    memcpy(p - 2, PAIRS + 2 * v, 2);
  else
    p[-1] = (char)('0' + v);
  return o + n;
}

char *num_i64(char *o, int64_t v) {
  if (v < 0) {
    *o++ = '-';
    return num_u64(o, 0ull - (uint64_t)v);
  }
  return num_u64(o, (uint64_t)v);
}

size_t num_g(char out[NUM_G_MAX], double v, int precision) {
  int p = precision < 1 ? 1 : precision;
  uint64_t d;
  int x;
  if (v == 0) { /* every request that costs nothing (not a completion): no snprintf */
    char *o = out;
    if (signbit(v))
      *o++ = '-';
    *o++ = '0';
    *o = '\0';
    return (size_t)(o - out);
  }
  if (p > 17 || !isfinite(v) || digits_of(fabs(v), p, &d, &x) != 0) {
    int n = snprintf(out, NUM_G_MAX, "%.*g", p, v);
    return n > 0 && n < NUM_G_MAX ? (size_t)n : 0;
  }
  char dig[20];
  int at = p; /* p digits: 10^(p-1) <= d < 10^p; two a step from the end */
  for (; at >= 2; at -= 2, d /= 100)
    memcpy(dig + at - 2, PAIRS + 2 * (d % 100), 2);
  if (at)
    dig[0] = (char)('0' + d);
  int nd = p; /* %g drops trailing zeros */
  while (nd > 1 && dig[nd - 1] == '0')
    nd--;
  char *o = out;
  if (signbit(v))
    *o++ = '-';
  if (x < -4 || x >= p) { /* d.ddde+XX */
    *o++ = dig[0];
    if (nd > 1) {
      *o++ = '.';
      memcpy(o, dig + 1, (size_t)nd - 1);
      o += nd - 1;
    }
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    int ax = x < 0 ? -x : x;
    if (ax >= 100)
      *o++ = (char)('0' + ax / 100);
    *o++ = (char)('0' + ax / 10 % 10);
    *o++ = (char)('0' + ax % 10);
  } else if (x >= 0) { /* ddd.ddd */
    int ni = x + 1;
    memcpy(o, dig, (size_t)(ni < nd ? ni : nd));
    o += ni < nd ? ni : nd;
    for (int i = nd; i < ni; i++)
      *o++ = '0';
    if (nd > ni) {
      *o++ = '.';
      memcpy(o, dig + ni, (size_t)(nd - ni));
      o += nd - ni;
    }
  } else { /* 0.000ddd */
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -x - 1; i++)
      *o++ = '0';
    memcpy(o, dig, (size_t)nd);
    o += nd;
  }
  *o = '\0';
  return (size_t)(o - out);
}
