/* libFuzzer target for shared/stop.c. Input: byte 0 = options (number of
 * stops, small alphabet); then per stop a length byte and its bytes; the rest
 * is the text. The text is pushed whole, at pseudo-random cuts, and byte by
 * byte. Checked: before a match out + held == text pushed so far and held is
 * exactly the longest suffix that is a proper prefix of a stop; the final
 * output is the text cut at the earliest memmem hit of any stop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/stop.h"

static size_t naive_hold(const char *s, size_t len, char stops[][17],
                         size_t n) {
  size_t best = 0;
  for (size_t k = 0; k < n; k++) {
    size_t sl = strlen(stops[k]);
    for (size_t l = sl ? sl - 1 : 0; l > best; l--)
      if (l <= len && !memcmp(s + len - l, stops[k], l)) {
        best = l;
        break;
      }
  }
  return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t n = data[0] % 9, pos = 1;
  int small = data[0] & 0x80; /* map to "abc" so overlaps are common */
  char stops[8][17];
  const char *sp[8];
  for (size_t k = 0; k < n; k++) {
    size_t l = pos < size ? (size_t)1 + data[pos++] % 16 : 0;
    if (l > size - pos)
      l = size - pos;
    for (size_t i = 0; i < l; i++)
      stops[k][i] =
          small ? (char)('a' + data[pos + i] % 3) : (char)data[pos + i];
    stops[k][l] = '\0'; /* an embedded NUL shortens it, maybe to "" */
    pos += l;
    sp[k] = stops[k];
  }
  size_t len = size - pos;
  char *text = malloc(len + 1);
  for (size_t i = 0; i < len; i++)
    text[i] = small ? (char)('a' + data[pos + i] % 3) : (char)data[pos + i];

  /* reference */
  size_t want = len, maxlen = 0;
  int want_m = 0;
  for (size_t k = 0; k < n; k++) {
    size_t sl = strlen(stops[k]);
    if (sl > maxlen)
      maxlen = sl;
    const char *hit = sl ? memmem(text, len, stops[k], sl) : NULL;
    if (hit && (size_t)(hit - text) <= want) {
      want = (size_t)(hit - text);
      want_m = 1;
    }
  }

  uint64_t seed = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 1099511628211ULL;
  struct buf out = BUF_INIT;
  for (int mode = 0; mode < 3; mode++) {
    struct stop_matcher m;
    if (stop_matcher_init(&m, sp, n) != 0)
      abort();
    buf_reset(&out);
    size_t from = 0;
    int rc = 0;
    do {
      size_t c = len - from;
      if (mode == 1) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        c = (size_t)(seed >> 33) % (c + 1);
      } else if (mode == 2 && c) {
        c = 1;
      }
      size_t before = out.len;
      int r = stop_matcher_push(&m, text + from, c, &out);
      from += c;
      if (r < 0 || (rc == 1 && (r != 1 || out.len != before)))
        abort();
      rc = r;
      if (rc == 0) {
        if (out.len + m.held.len != from ||
            (out.len && memcmp(out.data, text, out.len)) ||
            (m.held.len && memcmp(m.held.data, text + out.len, m.held.len)) ||
            (maxlen && m.held.len >= maxlen) ||
            m.held.len != naive_hold(text, from, stops, n))
          abort();
      }
    } while (from < len);
    if (stop_matcher_finish(&m, &out) != 0)
      abort();
    int got_m = rc == 1 || m.matched;
    if (got_m != want_m || out.len != want ||
        (want && memcmp(out.data, text, want)))
      abort();
    stop_matcher_free(&m);
  }
  buf_free(&out);
  free(text);
  return 0;
}
