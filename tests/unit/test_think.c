#include "../../shared/think.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Transcript of the (part, text) stream with adjacent pieces of one part
 * merged: "\x01R" + reasoning, "\x01C" + content. */
struct rec {
  struct buf tr;
  int last;      /* -1, THINK_REASONING, THINK_CONTENT */
  size_t rbytes; /* reasoning bytes seen */
  int stop_after; /* > 0: return 7 on that callback */
  int ncb;
  int empty;     /* a callback with len 0 */
};

static int rec_cb(void *ud, enum think_part part, const char *text,
                  size_t len) {
  struct rec *r = ud;
  r->ncb++;
  if (len == 0)
    r->empty++;
  if ((int)part != r->last) {
    buf_append_str(&r->tr, part == THINK_REASONING ? "\x01R" : "\x01"
                                                               "C");
    r->last = (int)part;
  }
  buf_append(&r->tr, text, len);
  if (part == THINK_REASONING)
    r->rbytes += len;
  return r->stop_after && r->ncb == r->stop_after ? 7 : 0;
}

static void rec_init(struct rec *r) {
  memset(r, 0, sizeof *r);
  buf_init(&r->tr);
  r->last = -1;
}

/* Feed text cut at cuts (ascending), then finish. Returns the number of
 * violated invariants (return codes, reasoning_bytes, empty callbacks, held
 * text never longer than a marker prefix). */
static int run_think(const char *text, size_t len, const size_t *cuts,
                     size_t ncuts, struct rec *r) {
  struct think_splitter t;
  int bad = 0;
  size_t from = 0;
  think_init(&t);
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    if (think_feed(&t, text + from, to - from, rec_cb, r) != 0)
      bad++;
    if (t.held.len >= sizeof "</think>" - 1)
      bad++;
    from = to;
  }
  if (think_finish(&t, rec_cb, r) != 0)
    bad++;
  if (t.reasoning_bytes != r->rbytes || r->empty)
    bad++;
  think_free(&t);
  return bad;
}

/* The reference split, whole-string: see think.c. */
static void naive(const char *s, size_t len, struct buf *out) {
  size_t i = 0;
  buf_reset(out);
  while (i < len && strchr(" \t\n\r\f\v", s[i]) && s[i])
    i++;
  if (len - i >= 7 && !memcmp(s + i, "<think>", 7)) {
    i += 7;
    while (i < len && strchr(" \t\n\r\f\v", s[i]) && s[i])
      i++;
  }
  const char *e = memmem(s + i, len - i, "</think>", 8);
  size_t rend = e ? (size_t)(e - s) : len;
  if (rend > i) {
    buf_append_str(out, "\x01R");
    buf_append(out, s + i, rend - i);
  }
  if (e) {
    size_t c = rend + 8;
    while (c < len && strchr(" \t\n\r\f\v", s[c]) && s[c])
      c++;
    if (c < len) {
      buf_append_str(out, "\x01"
                          "C");
      buf_append(out, s + c, len - c);
    }
  }
}

/* Whole, every 2- and 3-piece split, and 1-byte pieces all give `want`. */
static void check_think(const char *text, const char *want) {
  size_t len = strlen(text), bad = 0, runs = 0;
  struct rec r;
  struct buf ref = BUF_INIT;
  naive(text, len, &ref);
  if (!(ref.len == strlen(want) && (!ref.len || !memcmp(ref.data, want, ref.len))))
    test_fail(__FILE__, __LINE__, "reference disagrees for \"%s\"", text);
  rec_init(&r);
  CHECK_INT(run_think(text, len, NULL, 0, &r), 0);
  CHECK_MEM(r.tr.data ? r.tr.data : "", r.tr.len, want);
  buf_free(&r.tr);
  for (size_t a = 0; a <= len; a++)
    for (size_t b = a; b <= len; b++) {
      size_t cuts[2] = {a, b};
      runs++;
      rec_init(&r);
      int v = run_think(text, len, cuts, 2, &r);
      if (v || r.tr.len != strlen(want) ||
          (r.tr.len && memcmp(r.tr.data, want, r.tr.len))) {
        if (!bad++)
          test_fail(__FILE__, __LINE__, "\"%s\" cut at %zu,%zu: got \"%.*s\"",
                    text, a, b, (int)r.tr.len, r.tr.data ? r.tr.data : "");
      }
      buf_free(&r.tr);
    }
  size_t *cuts = malloc(len * sizeof *cuts + 1);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i;
  rec_init(&r);
  CHECK_INT(run_think(text, len, cuts, len, &r), 0);
  CHECK_MEM(r.tr.data ? r.tr.data : "", r.tr.len, want);
  buf_free(&r.tr);
  free(cuts);
  if (!bad)
    test_passed++;
  (void)runs;
  buf_free(&ref);
}

#define R "\x01R"
#define C                                                                      \
  "\x01"                                                                       \
  "C"

static void cases(void) {
  TEST("think: reasoning then content, blank lines after </think> dropped");
  check_think("Hmm, 2+2.</think>\n\nThe answer is 4.",
              R "Hmm, 2+2." C "The answer is 4.");
  TEST("think: leading <think> stripped");
  check_think("<think>\nHmm</think>Answer", R "Hmm" C "Answer");
  TEST("think: whitespace before <think> stripped");
  check_think("  \n<think>Hmm</think>\n\nA", R "Hmm" C "A");
  TEST("think: empty reasoning");
  check_think("</think>Answer", C "Answer");
  check_think("<think></think>Answer", C "Answer");
  check_think("<think>\n\n</think>\n\nAnswer", C "Answer");
  TEST("think: no </think>: all reasoning");
  check_think("Reasoning only, never closed", R "Reasoning only, never closed");
  TEST("think: false start </thin + g>");
  check_think("abc</thing>def", R "abc</thing>def");
  check_think("abc</thin</think>x", R "abc</thin" C "x");
  check_think("a<</think>b", R "a<" C "b");
  TEST("think: unfinished marker at the end is reasoning");
  check_think("a</think", R "a</think");
  check_think("<thi", R "<thi");
  check_think("<think></th", R "</th");
  TEST("think: marker at the very end");
  check_think("x</think>", R "x");
  check_think("x</think>\n\n", R "x");
  TEST("think: nothing at all");
  check_think("", "");
  check_think("  \n ", "");
  check_think("<think>", "");
  check_think("<think></think>", "");
  TEST("think: only the first </think> splits");
  check_think("a</think>b</think>c", R "a" C "b</think>c");
  TEST("think: <think> not leading is reasoning text");
  check_think("<<think>x", R "<<think>x");
  check_think("<thinking>x</think>y", R "<thinking>x" C "y");
  check_think("a<think>b</think>c", R "a<think>b" C "c");
  check_think("<think><think>x</think>y", R "<think>x" C "y");
  TEST("think: content keeps inner whitespace and later markers");
  check_think("r</think>  a\n\nb <think>", R "r" C "a\n\nb <think>");
  TEST("think: UTF-8 passes through");
  check_think("\xE6\x80\x9D\xE8\x80\x83</think>\xE7\xAD\x94",
              R "\xE6\x80\x9D\xE8\x80\x83" C "\xE7\xAD\x94");
}

static void streaming(void) {
  struct think_splitter t;
  struct rec r;

  TEST("think: text released as soon as it cannot be the marker");
  rec_init(&r);
  think_init(&t);
  CHECK_INT(think_feed(&t, "Let me see </th", 15, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "Let me see ");
  CHECK_INT(t.held.len, 4);
  CHECK_INT(t.reasoning_bytes, 11);
  CHECK_INT(think_feed(&t, "ink>", 4, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "Let me see ");
  CHECK_INT(think_feed(&t, "\n\nOK", 4, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "Let me see " C "OK");
  CHECK_INT(think_finish(&t, rec_cb, &r), 0);
  CHECK_INT(t.reasoning_bytes, 11);
  think_free(&t);
  buf_free(&r.tr);

  TEST("think: a plain '<' in reasoning is held only while it may be </think>");
  rec_init(&r);
  think_init(&t);
  CHECK_INT(think_feed(&t, "a <", 3, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "a ");
  CHECK_INT(think_feed(&t, " b", 2, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "a < b");
  CHECK_INT(t.held.len, 0);
  think_free(&t);
  buf_free(&r.tr);

  TEST("think: callback stop is returned and sticks");
  rec_init(&r);
  r.stop_after = 1;
  think_init(&t);
  CHECK_INT(think_feed(&t, "abc</think>def", 14, rec_cb, &r), 7);
  CHECK_INT(think_feed(&t, "more", 4, rec_cb, &r), 0);
  CHECK_INT(think_finish(&t, rec_cb, &r), 0);
  CHECK_INT(r.ncb, 1);
  think_free(&t);
  buf_free(&r.tr);

  TEST("think: free without feeding; finish twice");
  think_init(&t);
  think_free(&t);
  rec_init(&r);
  think_init(&t);
  CHECK_INT(think_feed(&t, "x", 1, rec_cb, &r), 0);
  CHECK_INT(think_finish(&t, rec_cb, &r), 0);
  CHECK_INT(think_finish(&t, rec_cb, &r), 0);
  CHECK_MEM(r.tr.data, r.tr.len, R "x");
  think_free(&t);
  buf_free(&r.tr);
}

/* Random strings over marker-ish pieces against the reference, every 2-piece
 * split. */
static void random_against_reference(void) {
  static const char *const pieces[] = {"<",  "/",  "think", ">", "t", "k",
                                       " ",  "\n", "x",     "</think>",
                                       "<think>", "</thin", "<th"};
  const size_t np = sizeof pieces / sizeof pieces[0];
  unsigned long long seed = 12345;
  size_t bad = 0;
  struct buf text = BUF_INIT, ref = BUF_INIT;
  TEST("think: random inputs match the reference for every 2-piece split");
  for (int iter = 0; iter < 3000; iter++) {
    buf_reset(&text);
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int n = (int)((seed >> 33) % 8);
    for (int k = 0; k < n; k++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      buf_append_str(&text, pieces[(seed >> 33) % np]);
    }
    naive(text.data ? text.data : "", text.len, &ref);
    for (size_t a = 0; a <= text.len; a++) {
      struct rec r;
      rec_init(&r);
      size_t cuts[1] = {a};
      int v = run_think(text.data ? text.data : "", text.len, cuts, 1, &r);
      if (v || r.tr.len != ref.len ||
          (ref.len && memcmp(r.tr.data, ref.data, ref.len))) {
        if (!bad++)
          test_fail(__FILE__, __LINE__, "\"%.*s\" cut at %zu: \"%.*s\"",
                    (int)text.len, text.data, a, (int)r.tr.len,
                    r.tr.data ? r.tr.data : "");
      }
      buf_free(&r.tr);
    }
  }
  if (!bad)
    test_passed++;
  buf_free(&text);
  buf_free(&ref);
}

void suite_think(void) {
  cases();
  streaming();
  random_against_reference();
}
