#include "../../shared/stop.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

#define EOS                                                                    \
  "<\xEF\xBD\x9C"                                                              \
  "end\xE2\x96\x81"                                                            \
  "of\xE2\x96\x81"                                                             \
  "sentence\xEF\xBD\x9C>"
#define USER "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"

/* The reference answer: text cut at the earliest strstr hit of any stop. */
static size_t naive_cut(const char *text, const char *const *stops, size_t n,
                        int *matched) {
  size_t cut = strlen(text);
  *matched = 0;
  for (size_t k = 0; k < n; k++) {
    const char *hit = stops[k][0] ? strstr(text, stops[k]) : NULL;
    if (hit && (size_t)(hit - text) <= cut) {
      cut = (size_t)(hit - text);
      *matched = 1;
    }
  }
  return cut;
}

/* Longest suffix of s[0..len) that is a proper prefix of some stop. */
static size_t naive_hold(const char *s, size_t len, const char *const *stops,
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

/* Push `text` cut at `cuts`, then finish. Checks on the way that, before a
 * match, out + held is exactly the text pushed so far and held is exactly
 * the longest partial match; and that 1 is sticky. Returns the number of
 * violated invariants; *matched is the final match state. */
static int run_stop(const char *text, const char *const *stops, size_t n,
                    const size_t *cuts, size_t ncuts, struct buf *out,
                    int *matched) {
  struct stop_matcher m;
  int bad = 0, rc = 0;
  size_t len = strlen(text), from = 0;
  buf_reset(out);
  if (stop_matcher_init(&m, stops, n) != 0)
    return 1;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    size_t before = out->len;
    int r = stop_matcher_push(&m, text + from, to - from, out);
    from = to;
    if (r < 0 || (rc == 1 && (r != 1 || out->len != before)))
      bad++;
    rc = r;
    if (rc == 0) {
      if (out->len + m.held.len != to ||
          (out->len && memcmp(out->data, text, out->len)) ||
          (m.held.len && memcmp(m.held.data, text + out->len, m.held.len)))
        bad++;
      /* a pending match (stop inside a longer stop) lies inside it */
      if (m.held.len != naive_hold(text, to, stops, n))
        bad++;
    }
  }
  if (stop_matcher_finish(&m, out) != 0)
    bad++;
  *matched = rc == 1 || m.matched;
  stop_matcher_free(&m);
  return bad;
}

/* Single push, every 2- and 3-piece split, and 1-byte pushes must all give
 * the naive answer. */
static void check_splits(const char *text, const char *const *stops, size_t n) {
  int want_m, got_m;
  size_t len = strlen(text), want = naive_cut(text, stops, n, &want_m);
  struct buf out = BUF_INIT;
  size_t runs = 0, bad = 0;
  CHECK_INT(run_stop(text, stops, n, NULL, 0, &out, &got_m), 0);
  CHECK_INT(got_m, want_m);
  CHECK(out.len == want && (!want || !memcmp(out.data, text, want)));
  for (size_t a = 0; a <= len; a++)
    for (size_t b = a; b <= len; b++) {
      size_t cuts[2] = {a, b};
      runs++;
      if (run_stop(text, stops, n, cuts, 2, &out, &got_m) || got_m != want_m ||
          out.len != want || (want && memcmp(out.data, text, want))) {
        if (!bad++)
          test_fail(__FILE__, __LINE__, "\"%s\" cut at %zu,%zu: got \"%.*s\"",
                    text, a, b, (int)out.len, out.data ? out.data : "");
      }
    }
  size_t *cuts = malloc(len * sizeof *cuts + 1);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i;
  CHECK_INT(run_stop(text, stops, n, cuts, len, &out, &got_m), 0);
  CHECK_INT(got_m, want_m);
  CHECK(out.len == want && (!want || !memcmp(out.data, text, want)));
  free(cuts);
  if (!bad)
    test_passed++;
  buf_free(&out);
}

static void basics(void) {
  struct stop_matcher m;
  struct buf out = BUF_INIT;

  TEST("stop: single stop within one push");
  const char *s1[] = {"wor"};
  CHECK_INT(stop_matcher_init(&m, s1, 1), 0);
  CHECK_INT(stop_matcher_push(&m, "Hello world", 11, &out), 1);
  CHECK_MEM(out.data, out.len, "Hello ");
  TEST("stop: after a match nothing more is released");
  CHECK_INT(stop_matcher_push(&m, "more", 4, &out), 1);
  CHECK_INT(stop_matcher_finish(&m, &out), 0);
  CHECK_MEM(out.data, out.len, "Hello ");
  stop_matcher_free(&m);

  TEST("stop: tables built at the first byte a stop starts with");
  buf_reset(&out);
  const char *s0[] = {EOS, USER};
  CHECK_INT(stop_matcher_init(&m, s0, 2), 0);
  CHECK_INT(stop_matcher_push(&m, "Hello! How can I help you today?", 32, &out), 0);
  CHECK(m.fail == NULL);      /* no '<' yet: nothing built */
  CHECK(m.held.data == NULL); /* and nothing held: no buffer either */
  CHECK_INT(stop_matcher_push(&m, " <\xEF\xBD", 4, &out), 0);
  CHECK(m.fail != NULL);
  CHECK_INT(stop_matcher_push(&m, "\x9CUser\xEF\xBD\x9C> tail", 14, &out), 1);
  CHECK_MEM(out.data, out.len, "Hello! How can I help you today? ");
  stop_matcher_free(&m);
  buf_reset(&out);
  CHECK_INT(stop_matcher_init(&m, s0, 2), 0);
  CHECK_INT(stop_matcher_finish(&m, &out), 0); /* finished before any table */
  CHECK_INT(out.len, 0);
  stop_matcher_free(&m);

  TEST("stop: earliest of several stops wins");
  buf_reset(&out);
  const char *s2[] = {"x", "lo", "l"};
  CHECK_INT(stop_matcher_init(&m, s2, 3), 0);
  CHECK_INT(stop_matcher_push(&m, "Hello x", 7, &out), 1);
  CHECK_MEM(out.data, out.len, "He");
  stop_matcher_free(&m);

  TEST("stop: false start");
  buf_reset(&out);
  const char *s3[] = {"ab"};
  CHECK_INT(stop_matcher_init(&m, s3, 1), 0);
  CHECK_INT(stop_matcher_push(&m, "a", 1, &out), 0);
  CHECK_INT(out.len, 0);
  CHECK_MEM(m.held.data, m.held.len, "a");
  CHECK_INT(stop_matcher_push(&m, "a", 1, &out), 0);
  CHECK_MEM(out.data, out.len, "a");
  CHECK_MEM(m.held.data, m.held.len, "a");
  TEST("stop: empty push changes nothing");
  CHECK_INT(stop_matcher_push(&m, "", 0, &out), 0);
  CHECK_MEM(out.data, out.len, "a");
  CHECK_MEM(m.held.data, m.held.len, "a");
  CHECK_INT(stop_matcher_push(&m, "b", 1, &out), 1);
  CHECK_MEM(out.data, out.len, "a");
  stop_matcher_free(&m);

  TEST("stop: overlapping prefixes ab / abc / bc");
  buf_reset(&out);
  const char *s4[] = {"abc", "bc", "ab"};
  CHECK_INT(stop_matcher_init(&m, s4, 3), 0);
  CHECK_INT(stop_matcher_push(&m, "xa", 2, &out), 0);
  CHECK_MEM(out.data, out.len, "x");
  CHECK_INT(stop_matcher_push(&m, "b", 1, &out), 1);
  CHECK_MEM(out.data, out.len, "x");
  stop_matcher_free(&m);

  TEST("stop: at the very start");
  buf_reset(&out);
  const char *s5[] = {"STOP"};
  CHECK_INT(stop_matcher_init(&m, s5, 1), 0);
  CHECK_INT(stop_matcher_push(&m, "ST", 2, &out), 0);
  CHECK_INT(stop_matcher_push(&m, "OPxyz", 5, &out), 1);
  CHECK_INT(out.len, 0);
  stop_matcher_free(&m);

  TEST("stop: longer than all the text, finish releases it");
  buf_reset(&out);
  const char *s6[] = {"abcdefgh"};
  CHECK_INT(stop_matcher_init(&m, s6, 1), 0);
  CHECK_INT(stop_matcher_push(&m, "abc", 3, &out), 0);
  CHECK_INT(out.len, 0);
  CHECK_INT(stop_matcher_finish(&m, &out), 0);
  CHECK_MEM(out.data, out.len, "abc");
  CHECK(!m.matched);
  stop_matcher_free(&m);

  TEST("stop: special token split across many pushes");
  buf_reset(&out);
  const char *s7[] = {EOS, USER};
  static const char tok[] = "Hi" EOS "junk";
  CHECK_INT(stop_matcher_init(&m, s7, 2), 0);
  int rc = 0;
  for (size_t i = 0; i < sizeof tok - 1 && rc == 0; i++) {
    rc = stop_matcher_push(&m, tok + i, 1, &out);
    CHECK(m.held.len < sizeof EOS - 1);
  }
  CHECK_INT(rc, 1);
  CHECK_MEM(out.data, out.len, "Hi");
  stop_matcher_free(&m);

  TEST("stop: no stops (or only empty ones) release at once");
  buf_reset(&out);
  const char *s8[] = {"", ""};
  CHECK_INT(stop_matcher_init(&m, s8, 2), 0);
  CHECK_INT(stop_matcher_push(&m, "abc", 3, &out), 0);
  CHECK_MEM(out.data, out.len, "abc");
  CHECK_INT(stop_matcher_finish(&m, &out), 0);
  CHECK_MEM(out.data, out.len, "abc");
  stop_matcher_free(&m);
  CHECK_INT(stop_matcher_init(&m, NULL, 0), 0);
  CHECK_INT(stop_matcher_push(&m, "d", 1, &out), 0);
  CHECK_MEM(out.data, out.len, "abcd");
  stop_matcher_free(&m);

  TEST("stop: at most STOP_MAX_SEQUENCES stops");
  const char *nine[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
  CHECK_INT(stop_matcher_init(&m, nine, 8), 0);
  stop_matcher_free(&m);
  CHECK_INT(stop_matcher_init(&m, nine, 9), -1);
  stop_matcher_free(&m);

  TEST("stop: a stop inside a longer one waits for it");
  buf_reset(&out);
  const char *s9[] = {"bc", "abcd"};
  CHECK_INT(stop_matcher_init(&m, s9, 2), 0);
  CHECK_INT(stop_matcher_push(&m, "xabc", 4, &out), 0); /* "abcd" may follow */
  CHECK_MEM(out.data, out.len, "x");
  CHECK_INT(stop_matcher_push(&m, "d", 1, &out), 1);
  CHECK_MEM(out.data, out.len, "x");
  stop_matcher_free(&m);
  buf_reset(&out);
  CHECK_INT(stop_matcher_init(&m, s9, 2), 0);
  CHECK_INT(stop_matcher_push(&m, "xabc", 4, &out), 0);
  CHECK_INT(stop_matcher_push(&m, "e", 1, &out), 1);
  CHECK_MEM(out.data, out.len, "xa");
  stop_matcher_free(&m);
  buf_reset(&out);
  CHECK_INT(stop_matcher_init(&m, s9, 2), 0);
  CHECK_INT(stop_matcher_push(&m, "xabc", 4, &out), 0);
  CHECK_INT(stop_matcher_finish(&m, &out), 0); /* settled at the end */
  CHECK_MEM(out.data, out.len, "xa");
  CHECK(m.matched);
  stop_matcher_free(&m);
  buf_free(&out);
}

static void properties(void) {
  static const char *const texts[] = {
      "the quick brown fox jumps",
      "aaaaab",
      "abababcab",
      "xxabcdxbcab",
      "aabaabaaab",
      "abcd",
      "",
      "Hi<\xEF\xBD\x9C"
      "User" EOS "x",
  };
  static const char *const sets[][4] = {
      {"ab"},
      {"ab", "abc", "bc"},
      {"bc", "abcd"},
      {"aab", "aaab", "b"},
      {"fox", " j", "quick brown fox jumps over"},
      {"zzz", "abcde"},
      {"a"},
      {"abab", "bab", "ababc", "cab"},
      {"aabaaab", "baa"},
      {EOS, USER},
  };
  TEST("stop: every 2- and 3-piece split matches the naive answer");
  for (size_t t = 0; t < sizeof texts / sizeof *texts; t++)
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
      size_t n = 0;
      while (n < 4 && sets[s][n])
        n++;
      check_splits(texts[t], sets[s], n);
    }

  TEST("stop: random texts, stops and splits match the naive answer");
  unsigned long long x = 88172645463325252ULL; /* fixed seed: reproducible */
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
  struct buf out = BUF_INIT;
  int bad = 0;
  for (int round = 0; round < 20000 && !bad; round++) {
    char text[41], stopbuf[4][7];
    const char *stops[4];
    size_t len = RND() % 41, n = 1 + RND() % 4, cuts[40], ncuts = 0;
    for (size_t i = 0; i < len; i++)
      text[i] = (char)('a' + RND() % 3);
    text[len] = '\0';
    for (size_t k = 0; k < n; k++) {
      size_t sl = 1 + RND() % 6;
      for (size_t i = 0; i < sl; i++)
        stopbuf[k][i] = (char)('a' + RND() % 3);
      stopbuf[k][sl] = '\0';
      stops[k] = stopbuf[k];
    }
    for (size_t i = 0; i < len; i++)
      if (RND() % 3 == 0)
        cuts[ncuts++] = i;
    int want_m, got_m;
    size_t want = naive_cut(text, stops, n, &want_m);
    if (run_stop(text, stops, n, cuts, ncuts, &out, &got_m) ||
        got_m != want_m || out.len != want ||
        (want && memcmp(out.data, text, want))) {
      bad = 1;
      test_fail(__FILE__, __LINE__, "text \"%s\" stops %s %s %s %s", text,
                stops[0], n > 1 ? stops[1] : "", n > 2 ? stops[2] : "",
                n > 3 ? stops[3] : "");
    }
  }
#undef RND
  if (!bad)
    test_passed++;
  buf_free(&out);
}

static void long_input(void) {
  /* 1 MB in 1-byte pushes, with stops built to keep partial matches alive
   * ("aaa...ab" over a run of a's): linear time shows as a fast test. */
  size_t len = (size_t)1 << 20;
  char *text = malloc(len + 1);
  for (size_t i = 0; i < len; i++)
    text[i] = (i % 1000 == 999) ? 'b' : 'a';
  memcpy(text + len - 40, "xyz" EOS "tail", 3 + sizeof EOS - 1 + 4);
  text[len] = '\0';
  char longstop[1200];
  memset(longstop, 'a', 1100);
  memcpy(longstop + 1100, "b", 2);
  const char *stops[] = {longstop, "aaaaaaaaac", EOS, USER};
  struct stop_matcher m;
  struct buf out = BUF_INIT;
  TEST("stop: 1 MB in 1-byte pushes");
  CHECK_INT(stop_matcher_init(&m, stops, 4), 0);
  int rc = 0;
  size_t maxheld = 0;
  for (size_t i = 0; i < len && rc == 0; i++) {
    rc = stop_matcher_push(&m, text + i, 1, &out);
    if (m.held.len > maxheld)
      maxheld = m.held.len;
  }
  CHECK_INT(rc, 1);
  CHECK_INT(out.len, len - 37);
  CHECK(maxheld < 1101);
  CHECK(!memcmp(out.data, text, out.len));
  stop_matcher_free(&m);
  free(text);
  buf_free(&out);
}

void suite_stop(void) {
  basics();
  properties();
  long_input();
}
