#include "../../shared/sse.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Events are logged as "type|id|data" records ended by RS, then "rc=N", so
 * one string comparison checks the whole event list. */
#define RS "\x1e"

struct log {
  struct buf b;
  int stop_on_done; /* callback returns 7 on a `done` event */
};

static int log_cb(void *ud, const struct sse_event *ev) {
  struct log *l = ud;
  buf_append(&l->b, ev->event, ev->event_len);
  buf_append_char(&l->b, '|');
  buf_append(&l->b, ev->id, ev->id_len);
  buf_append_char(&l->b, '|');
  buf_append(&l->b, ev->data, ev->data_len);
  buf_append_str(&l->b, RS);
  if (l->stop_on_done && ev->event_len == 4 && !memcmp(ev->event, "done", 4))
    return 7;
  return 0;
}

/* Feed `in` cut at the given positions (ascending, may repeat); the log ends
 * with the rc of the last feed made (feeding stops at a non-zero rc). */
static void run_cuts(const char *in, size_t len, const size_t *cuts,
                     size_t ncuts, int stop_on_done, struct buf *out) {
  struct sse_parser p;
  struct log l = {BUF_INIT, stop_on_done};
  sse_parser_init(&p);
  size_t from = 0;
  int rc = 0;
  for (size_t i = 0; i <= ncuts && rc == 0; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    rc = sse_parser_feed(&p, in + from, to - from, log_cb, &l);
    from = to;
  }
  buf_printf(&l.b, "rc=%d", rc);
  buf_reset(out);
  buf_append(out, l.b.data, l.b.len);
  buf_free(&l.b);
  sse_parser_free(&p);
}

/* The single-feed result must be `want`, and so must every 2- and 3-piece
 * split and the byte-at-a-time feed. */
static void check_sse(const char *in, const char *want, int stop_on_done) {
  size_t len = strlen(in);
  struct buf got = BUF_INIT;
  run_cuts(in, len, NULL, 0, stop_on_done, &got);
  CHECK_MEM(got.data, got.len, want);

  size_t bad = 0, first_bad = 0;
  for (size_t a = 0; a <= len; a++) {
    for (size_t b = a; b <= len; b++) {
      size_t cuts[2] = {a, b};
      run_cuts(in, len, cuts, 2, stop_on_done, &got);
      if (got.len != strlen(want) || memcmp(got.data, want, got.len)) {
        if (!bad++)
          first_bad = a * 100000 + b;
      }
    }
  }
  if (bad)
    test_fail(__FILE__, __LINE__, "%zu split(s) differ, first at %zu,%zu", bad,
              first_bad / 100000, first_bad % 100000);
  else
    test_passed++;

  size_t *cuts = malloc(len * sizeof *cuts + 1);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i + 1;
  run_cuts(in, len, cuts, len, stop_on_done, &got);
  CHECK_MEM(got.data, got.len, want);
  free(cuts);
  buf_free(&got);
}

static const char transcript[] = ": hi\n"
                                 "\n"
                                 "event: output\n"
                                 "id: 1690212292:0\n"
                                 "data: Hello\n"
                                 "\n"
                                 "event: output\n"
                                 "id: 1690212292:1\n"
                                 "data: ! Line one\n"
                                 "data: line two\n"
                                 "\n"
                                 "event: output\n"
                                 "id: 1690212292:2\n"
                                 "data: \n"
                                 "\n"
                                 "event: done\n"
                                 "id: 1690212292:3\n"
                                 "data: {}\n"
                                 "\n";

static const char transcript_events[] =
    "output|1690212292:0|Hello" RS "output|1690212292:1|! Line one\nline two" RS
    "output|1690212292:2|" RS "done|1690212292:3|{}" RS "rc=0";

static void limits(void) {
  struct sse_parser p;
  struct log l = {BUF_INIT, 0};

  TEST("sse: line over max_line fails, also when built up byte by byte");
  sse_parser_init(&p);
  CHECK(p.max_line == (size_t)1 << 20);
  p.max_line = 8;
  CHECK_INT(sse_parser_feed(&p, "data: ab\n\n", 10, log_cb, &l), 0);
  CHECK_MEM(l.b.data, l.b.len, "message||ab" RS);
  CHECK_INT(sse_parser_feed(&p, "data: abc\n", 10, log_cb, &l), -1);
  sse_parser_free(&p);
  sse_parser_init(&p);
  p.max_line = 8;
  int rc = 0;
  size_t i;
  for (i = 0; i < 20 && rc == 0; i++)
    rc = sse_parser_feed(&p, "x", 1, log_cb, &l);
  CHECK_INT(rc, -1);
  CHECK_INT(i, 9); /* the 9th byte is the first one over */
  sse_parser_free(&p);

  TEST("sse: default limit is 1 MiB");
  size_t big = ((size_t)1 << 20) + 1;
  char *s = malloc(big + 1);
  memset(s, 'a', big);
  s[big] = '\n';
  sse_parser_init(&p);
  CHECK_INT(sse_parser_feed(&p, s, big - 1, log_cb, &l), 0); /* exactly 1 MiB */
  CHECK_INT(sse_parser_feed(&p, "\n", 1, log_cb, &l), 0);
  CHECK_INT(sse_parser_feed(&p, s, big + 1, log_cb, &l), -1);
  sse_parser_free(&p);
  free(s);
  buf_free(&l.b);
}

static void pointers(void) {
  /* data must be a valid (ptr,len) even when empty, event defaults to
   * "message", id to "" */
  struct sse_parser p;
  struct log l = {BUF_INIT, 0};
  TEST("sse: empty fields are valid slices");
  sse_parser_init(&p);
  CHECK_INT(sse_parser_feed(&p, "event: done\n\n", 13, log_cb, &l), 0);
  CHECK_MEM(l.b.data, l.b.len, "done||" RS);
  buf_reset(&l.b);
  CHECK_INT(sse_parser_feed(&p, "data\n\n", 6, log_cb, &l), 0);
  CHECK_MEM(l.b.data, l.b.len, "message||" RS);
  buf_reset(&l.b);
  TEST("sse: id with NUL is ignored");
  static const char nul[] = "id: 5\ndata: a\n\nid: 6\0x\ndata: b\n\n";
  CHECK_INT(sse_parser_feed(&p, nul, sizeof nul - 1, log_cb, &l), 0);
  CHECK_MEM(l.b.data, l.b.len, "message|5|a" RS "message|5|b" RS);
  TEST("sse: zero-length feed is a no-op, also between CR and LF");
  buf_reset(&l.b);
  CHECK_INT(sse_parser_feed(&p, NULL, 0, log_cb, &l), 0);
  CHECK_INT(sse_parser_feed(&p, "data: c\r", 8, log_cb, &l), 0);
  CHECK_INT(sse_parser_feed(&p, NULL, 0, log_cb, &l), 0);
  CHECK_INT(sse_parser_feed(&p, "\n\r\n", 3, log_cb, &l), 0);
  CHECK_MEM(l.b.data, l.b.len, "message|5|c" RS);
  sse_parser_free(&p);
  buf_free(&l.b);
}

void suite_sse(void) {
  TEST("sse: Replicate transcript, every chunking");
  check_sse(transcript, transcript_events, 0);

  TEST("sse: canceled");
  check_sse("event: done\ndata: {\"reason\": \"canceled\"}\n\n",
            "done||{\"reason\": \"canceled\"}" RS "rc=0", 0);

  TEST("sse: error then done");
  check_sse("event: error\ndata: {\"detail\": \"Something went wrong\"}\n\n"
            "event: done\ndata: {\"reason\": \"error\"}\n\n",
            "error||{\"detail\": \"Something went wrong\"}" RS
            "done||{\"reason\": \"error\"}" RS "rc=0",
            0);

  TEST("sse: CR-only line endings");
  check_sse("event: output\rid: 1\rdata: a\rdata: b\r\rdata: c\r\r",
            "output|1|a\nb" RS "message|1|c" RS "rc=0", 0);

  TEST("sse: CRLF line endings, and CR LF mixed");
  check_sse(
      "event: output\r\nid: 1\r\ndata: a\r\n\r\nevent: x\ndata: b\r\r\n\n",
      "output|1|a" RS "x|1|b" RS "rc=0", 0);

  TEST("sse: colon spacing");
  check_sse("data:x\n\ndata:  two spaces\n\ndata:\n\ndata: \n\n",
            "message||x" RS "message|| two spaces" RS "message||" RS
            "message||" RS "rc=0",
            0);

  TEST("sse: retry, unknown fields, comments and id-only events ignored");
  check_sse("retry: 1000\nfoo: bar\n: comment\n:408: 408 Request Timeout\n\n"
            "id: 7\n\n: hi\n\nbogus\ndata: x\nretry\n\n",
            "message|7|x" RS "rc=0", 0);

  TEST("sse: a line with no colon is a field with empty value");
  check_sse("data\ndata: x\n\nevent\ndata: y\n\nid\ndata: z\n\n",
            "message||\nx" RS "message||y" RS "message||z" RS "rc=0", 0);

  TEST("sse: id persists; event type resets after dispatch");
  check_sse("event: output\nid: a\ndata: 1\n\ndata: 2\n\nid: b\n\ndata: 3\n\n"
            "id: \ndata: 4\n\n",
            "output|a|1" RS "message|a|2" RS "message|b|3" RS "message||4" RS
            "rc=0",
            0);

  TEST("sse: unicode");
  check_sse(
      "event: output\ndata: h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x99\x82\n\n",
      "output||h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x99\x82" RS "rc=0", 0);

  TEST("sse: newline tokens");
  check_sse("event: output\ndata: \ndata: \n\n"
            "event: output\ndata: \ndata: \ndata: \n\n"
            "event: output\ndata: a\ndata: \n\n",
            "output||\n" RS "output||\n\n" RS "output||a\n" RS "rc=0", 0);

  TEST("sse: done without data, and an unterminated event is dropped");
  check_sse("event: done\n\nevent: output\ndata: late", "done||" RS "rc=0", 0);

  TEST("sse: callback stops the feed");
  check_sse("event: output\ndata: a\n\nevent: done\ndata: {}\n\n"
            "event: output\ndata: after\n\n",
            "output||a" RS "done||{}" RS "rc=7", 1);

  limits();
  pointers();
}
