#include "stop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One KMP automaton per stop sequence, its state kept across pushes, so each
 * byte is looked at once (amortised O(n stops) per byte) however the text is
 * chunked; the held text is never rescanned. */

#define NO_PENDING ((size_t)-1)

static void reset_scan(struct stop_matcher *m) {
  memset(m->state, 0, sizeof m->state);
  m->pending = NO_PENDING;
}

/* f[i] = length of the longest proper border of p[0..i), for i in 1..len. */
static void build_fail(const char *p, size_t len, size_t *f) {
  f[0] = 0;
  f[1] = 0;
  for (size_t i = 1; i < len; i++) {
    size_t q = f[i];
    while (q > 0 && p[i] != p[q])
      q = f[q];
    if (p[i] == p[q])
      q++;
    f[i + 1] = q;
  }
}

int stop_matcher_init(struct stop_matcher *m, const char *const *stops,
                      size_t n) {
  size_t total = 0, k = 0;
  buf_init(&m->held);
  m->n = 0;
  m->matched = 0;
  m->fail = NULL;
  memset(m->first, 0, sizeof m->first);
  reset_scan(m);
  for (size_t i = 0; i < n; i++) {
    if (!stops[i] || !stops[i][0])
      continue;
    if (k == STOP_MAX_SEQUENCES)
      return -1;
    m->stops[k] = stops[i];
    m->stop_len[k] = strlen(stops[i]);
    m->fail_off[k] = total;
    total += m->stop_len[k] + 1;
    unsigned char c0 = (unsigned char)stops[i][0];
    m->first[c0 >> 3] |= (unsigned char)(1u << (c0 & 7));
    k++;
  }
  if (k > 0 && total > SIZE_MAX / sizeof *m->fail)
    return -1;
  m->fail_total = total;
  m->n = k; /* set last: a failed init leaves a matcher that passes all */
  return 0;
}

/* The failure tables, built when first needed: the per-request cost of the
 * implicit stops was their tables, ~600 instructions, for text that mostly
 * never holds a byte any stop starts with. */
static int build_tables(struct stop_matcher *m) {
  m->fail = malloc(m->fail_total * sizeof *m->fail);
  if (!m->fail)
    return -1;
  for (size_t i = 0; i < m->n; i++)
    build_fail(m->stops[i], m->stop_len[i], m->fail + m->fail_off[i]);
  return 0;
}

void stop_matcher_free(struct stop_matcher *m) {
  free(m->fail);
  m->fail = NULL;
  m->n = 0;
  buf_free(&m->held);
}

int stop_matcher_push(struct stop_matcher *m, const char *text, size_t len,
                      struct buf *out) {
  if (m->matched)
    return 1;
  if (m->n == 0)
    return buf_append(out, text, len) != 0 ? -1 : 0;

  /* Work on copies and commit only once memory is secured, so a -1 leaves
   * the matcher as it was. Positions count from the start of held. */
  size_t st[STOP_MAX_SEQUENCES];
  memcpy(st, m->state, sizeof st);
  size_t h = m->held.len, pending = m->pending, cut = 0, maxst = 0;
  for (size_t k = 0; k < m->n; k++)
    if (st[k] > maxst)
      maxst = st[k];
  int matched = 0;
  for (size_t j = 0; j < len && !matched; j++) {
    /* No partial match open: every automaton stays at 0 until a byte that
     * starts some stop, so skip to it (most text holds none: per token
     * this was the per-byte, per-stop loop for nothing). */
    if (maxst == 0 && pending == NO_PENDING) {
      while (j < len && !(m->first[(unsigned char)text[j] >> 3] &
                          (1u << ((unsigned char)text[j] & 7))))
        j++;
      if (j == len)
        break;
    }
    if (!m->fail && build_tables(m) != 0)
      return -1; /* nothing committed yet: the matcher is as it was */
    char c = text[j];
    size_t end = h + j + 1;
    maxst = 0;
    for (size_t k = 0; k < m->n; k++) {
      const char *p = m->stops[k];
      const size_t *f = m->fail + m->fail_off[k];
      size_t q = st[k];
      while (q > 0 && p[q] != c)
        q = f[q];
      if (p[q] == c)
        q++;
      if (q == m->stop_len[k]) {
        size_t start = end - q;
        if (pending == NO_PENDING || start < pending)
          pending = start;
        q = f[q];
      }
      st[k] = q;
      if (q > maxst)
        maxst = q;
    }
    /* A complete match is final once no partial match starts before it:
     * only then is it certainly the earliest-starting one. */
    if (pending != NO_PENDING && end - maxst >= pending) {
      matched = 1;
      cut = pending;
    }
  }
  if (!matched) {
    if (len == 0)
      return 0;
    cut = h + len - maxst; /* hold exactly the longest partial match */
  }

  size_t from_held = cut < h ? cut : h;
  size_t from_text = cut > h ? cut - h : 0;
  size_t keep = h + len - cut;
  if (buf_reserve(out, cut) != 0)
    return -1;
  if (!matched && keep > h && buf_reserve(&m->held, keep - h) != 0)
    return -1;
  /* cannot fail now: space is reserved */
  buf_append(out, m->held.data, from_held);
  buf_append(out, text, from_text);
  if (matched) {
    m->matched = 1;
    buf_free(&m->held); /* nothing will be released any more */
    reset_scan(m);
    return 1;
  }
  if (from_text == 0) {
    buf_consume(&m->held, from_held);
    buf_append(&m->held, text, len);
  } else {
    buf_reset(&m->held);
    /* Nothing held is the usual case: appending no bytes to a buffer never
     * grown would allocate one (and could fail, past the point of no
     * return). */
    if (keep)
      buf_append(&m->held, text + from_text, keep);
  }
  memcpy(m->state, st, sizeof st);
  m->pending = pending == NO_PENDING ? NO_PENDING : pending - cut;
  return 0;
}

int stop_matcher_finish(struct stop_matcher *m, struct buf *out) {
  if (m->matched)
    return 0;
  /* a pending match can no longer be beaten by an earlier start */
  size_t cut = m->pending != NO_PENDING ? m->pending : m->held.len;
  if (buf_append(out, m->held.data, cut) != 0)
    return -1;
  if (m->pending != NO_PENDING)
    m->matched = 1;
  buf_reset(&m->held);
  reset_scan(m);
  return 0;
}
