/* Text into a fixed-size field (request ids, methods, span names), cut to
 * fit: snprintf("%s%s") costs 500-1,000 instructions a call, and every
 * request fills a few such fields. */
#ifndef RP_FIT_TEXT_H
#define RP_FIT_TEXT_H

#include <stddef.h>
#include <string.h>

/* s[0..n) at dst[at], cut so dst (cap > 0 bytes) keeps its NUL; returns the
 * new length. at must be < cap (a previous fit_text's result is). */
static inline size_t fit_text(char *dst, size_t cap, size_t at, const char *s, size_t n) {
  if (n > cap - 1 - at)
    n = cap - 1 - at;
  memcpy(dst + at, s, n);
  dst[at + n] = '\0';
  return at + n;
}

/* The C string s, reading no further than the field has room for. */
static inline size_t fit_str(char *dst, size_t cap, size_t at, const char *s) {
  return fit_text(dst, cap, at, s, strnlen(s, cap - 1 - at));
}

#endif
