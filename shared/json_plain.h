/* A JSON string written with a cursor, its plain bytes found eight at a
 * time (SWAR): the per-byte test was most of the cost of the access line
 * and the spans' strings. */
#ifndef RP_JSON_PLAIN_H
#define RP_JSON_PLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* No byte of w needs an escape (jp_byte_plain for all eight). */
static inline int jp_word_plain(uint64_t w, int ascii_only) {
  return !(jp_has_less(w, 0x20) | jp_has_zero(w ^ (JP_ONES * '"')) |
           jp_has_zero(w ^ (JP_ONES * '\\')) |
           (ascii_only ? (w & JP_HIGHS) | jp_has_zero(w ^ (JP_ONES * 0x7f)) : 0));
}

#ifdef __SSE2__
/* The bytes of v that need an escape, one bit each: sixteen bytes in about
 * ten instructions, where the word test takes some twenty for eight. */
static inline unsigned jp_mask16(__m128i v, int ascii_only) {
  __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  if (ascii_only) /* signed: a byte >= 0x80 is below 0x20 too */
    bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
  else /* unsigned v < 0x20: min(v, 0x1f) == v */
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
  return (unsigned)_mm_movemask_epi8(bad);
}
#endif

/* Leading bytes of s[0..n) that need no escape: not a control byte, quote
 * or backslash, and with ascii_only not 0x7f or above either. */
static inline size_t json_plain_len(const char *s, size_t n, int ascii_only) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  uint64_t w;
#ifdef __SSE2__
  /* Sixteen bytes at a time, the last sixteen (overlapping: the bytes
   * re-read are plain) for the rest; 8..15 bytes as two overlapping
   * eight-byte loads, and on a byte to escape there the loops below find it. */
  if (n >= 16) {
    for (; i + 16 <= n; i += 16) {
      unsigned m = jp_mask16(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), ascii_only);
      if (m)
        return i + (size_t)__builtin_ctz(m);
    }
    if (i == n)
      return n;
    unsigned m = jp_mask16(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), ascii_only);
    return m ? n - 16 + (size_t)__builtin_ctz(m) : n;
  }
  if (n >= 8 && !jp_mask16(_mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)p),
                                              _mm_loadl_epi64((const __m128i *)(const void *)(p + n - 8))),
                           ascii_only))
    return n;
#endif
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    if (!jp_word_plain(w, ascii_only))
      break;
  }
  /* Fewer than eight bytes left, all plain in most strings: tested as one
   * word too (the last eight bytes, or two overlapping four-byte loads),
   * not byte by byte; the bytes re-read are plain already. */
  if (i < n && i + 8 > n && n >= 4) {
    if (n >= 8) {
      memcpy(&w, p + n - 8, 8);
    } else {
      uint32_t lo, hi;
      memcpy(&lo, p, 4);
      memcpy(&hi, p + n - 4, 4);
      w = (uint64_t)lo << 32 | hi;
    }
    if (jp_word_plain(w, ascii_only))
      return n;
  }
  while (i < n && jp_byte_plain(p[i], ascii_only))
    i++;
  return i;
}

/* Length of the UTF-8 sequence at p (NUL-terminated), or 0 when it is not
 * one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static inline size_t json_utf8_len(const unsigned char *p) {
  unsigned c = p[0], cp;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) { /* a NUL fails here: no read past the end */
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

/* JQ_ASCII: bytes >= 0x7f escaped as \u00XX (a line valid JSON whatever the
 * encoding); JQ_UTF8: UTF-8 passed as it is, 0x7f too, and a byte that is
 * not UTF-8 sent as \ufffd. */
enum json_quote_mode { JQ_ASCII, JQ_UTF8 };

/* "s" at o (its n bytes, NUL-terminated after them), quotes included;
 * quote, backslash and control bytes escaped. o has room for 6 * n + 2
 * bytes; returns the end. */
static inline char *json_quote_n(char *o, const char *s, size_t n, enum json_quote_mode mode) {
  static const char HEX[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  *o++ = '"';
  for (size_t i = 0; i < n;) {
    size_t run = json_plain_len(s + i, n - i, 1);
    memcpy(o, s + i, run);
    o += run;
    i += run;
    if (i == n)
      break;
    unsigned char c = p[i];
    size_t k = mode != JQ_UTF8 ? 0 : c == 0x7f ? 1 : c >= 0x80 ? json_utf8_len(p + i) : 0;
    if (k) { /* UTF-8 (or DEL) as it is */
      memcpy(o, p + i, k);
      o += k;
      i += k;
    } else if (mode == JQ_UTF8 && c >= 0x80) {
      memcpy(o, "\\ufffd", 6);
      o += 6;
      i++;
    } else if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
      i++;
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = HEX[c >> 4];
      o[5] = HEX[c & 15];
      o += 6;
      i++;
    }
  }
  *o++ = '"';
  return o;
}

/* The same for a NUL-terminated s (n = strlen(s)). */
static inline char *json_quote(char *o, const char *s, enum json_quote_mode mode) {
  return json_quote_n(o, s, strlen(s), mode);
}

#endif
