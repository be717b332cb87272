/* A JSON string written with a cursor, its plain bytes found eight at a
 * time (SWAR): the per-byte test was most of the cost of the access line
 * and the spans' strings. */
#ifndef RP_JSON_PLAIN_H
#define RP_JSON_PLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JP_ONES 0x0101010101010101ull
#define JP_HIGHS 0x8080808080808080ull

/* Some byte of w is zero / below n (n <= 128): exact as a yes or no. */
static inline uint64_t jp_has_zero(uint64_t w) { return (w - JP_ONES) & ~w & JP_HIGHS; }
static inline uint64_t jp_has_less(uint64_t w, uint64_t n) {
  return (w - JP_ONES * n) & ~w & JP_HIGHS;
}

static inline int jp_byte_plain(unsigned char c, int ascii_only) {
  return c >= 0x20 && c != '"' && c != '\\' && (!ascii_only || c < 0x7f);
}

/* Leading bytes of s[0..n) that need no escape: not a control byte, quote
 * or backslash, and with ascii_only not 0x7f or above either. */
static inline size_t json_plain_len(const char *s, size_t n, int ascii_only) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (jp_has_less(w, 0x20) | jp_has_zero(w ^ (JP_ONES * '"')) |
        jp_has_zero(w ^ (JP_ONES * '\\')) |
        (ascii_only ? (w & JP_HIGHS) | jp_has_zero(w ^ (JP_ONES * 0x7f)) : 0))
      break;
  }
  while (i < n && jp_byte_plain(p[i], ascii_only))
    i++;
  return i;
}

/* "s" at o, quotes included: quote, backslash and control bytes escaped
 * (with ascii_only, bytes >= 0x7f too, as \u00XX). o has room for
 * 6 * strlen(s) + 2 bytes; returns the end. */
static inline char *json_quote(char *o, const char *s, int ascii_only) {
  static const char HEX[] = "0123456789abcdef";
  size_t n = strlen(s);
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    size_t run = json_plain_len(s + i, n - i, ascii_only);
    memcpy(o, s + i, run);
    o += run;
    i += run;
    if (i == n)
      break;
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = HEX[c >> 4];
      o[5] = HEX[c & 15];
      o += 6;
    }
  }
  *o++ = '"';
  return o;
}

#endif
