/* libFuzzer target for shared/sse.c. The first input byte picks options
 * (small max_line, callback stopping on `done`); the rest is the stream.
 * The stream is parsed in one feed, at pseudo-random cuts, and one byte at a
 * time; all must give the same events and result as a simple reference that
 * splits the whole input into lines first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/sse.h"

#define RS '\x1e'

struct log {
  struct buf b;
  int stop_on_done;
};

static void record(struct buf *b, const char *ev, size_t evl, const char *id,
                   size_t idl, const char *data, size_t datal) {
  buf_append(b, ev, evl);
  buf_append_char(b, '|');
  buf_append(b, id, idl);
  buf_append_char(b, '|');
  buf_append(b, data, datal);
  buf_append_char(b, RS);
}

static int log_cb(void *ud, const struct sse_event *ev) {
  struct log *l = ud;
  /* what the parser promises about its slices */
  if (!ev->event || !ev->data || !ev->id || !ev->event_len ||
      memchr(ev->event, '\n', ev->event_len) ||
      memchr(ev->event, '\r', ev->event_len) ||
      memchr(ev->data, '\r', ev->data_len) ||
      memchr(ev->id, '\0', ev->id_len) || memchr(ev->id, '\n', ev->id_len) ||
      memchr(ev->id, '\r', ev->id_len))
    abort();
  record(&l->b, ev->event, ev->event_len, ev->id, ev->id_len, ev->data,
         ev->data_len);
  if (l->stop_on_done && ev->event_len == 4 && !memcmp(ev->event, "done", 4))
    return 7;
  return 0;
}

/* Reference: whole input split into lines, WHATWG rules applied directly. */
static int reference(const char *s, size_t len, size_t max_line,
                     int stop_on_done, struct buf *out) {
  struct buf ev = BUF_INIT, data = BUF_INIT, id = BUF_INIT;
  int has_data = 0, rc = 0;
  size_t i = 0;
  while (i < len && rc == 0) {
    size_t e = i;
    while (e < len && s[e] != '\r' && s[e] != '\n')
      e++;
    if (e - i > max_line) {
      rc = -1;
      break;
    }
    if (e == len)
      break; /* unterminated line: never processed */
    const char *line = s + i;
    size_t ll = e - i;
    i = e + 1;
    if (s[e] == '\r' && i < len && s[i] == '\n')
      i++;
    if (ll == 0) {
      if (has_data || ev.len) {
        const char *t = ev.len ? ev.data : "message";
        record(out, t, ev.len ? ev.len : 7, id.data ? id.data : "", id.len,
               data.data ? data.data : "", data.len);
        if (stop_on_done && ev.len == 4 && !memcmp(ev.data, "done", 4))
          rc = 7;
      }
      buf_reset(&ev);
      buf_reset(&data);
      has_data = 0;
      continue;
    }
    if (line[0] == ':')
      continue;
    size_t c = 0;
    while (c < ll && line[c] != ':')
      c++;
    size_t v = c < ll ? c + 1 : ll;
    if (v < ll && line[v] == ' ')
      v++;
    if (c == 4 && !memcmp(line, "data", 4)) {
      if (has_data)
        buf_append_char(&data, '\n');
      buf_append(&data, line + v, ll - v);
      has_data = 1;
    } else if (c == 5 && !memcmp(line, "event", 5)) {
      buf_reset(&ev);
      buf_append(&ev, line + v, ll - v);
    } else if (c == 2 && !memcmp(line, "id", 2) &&
               !memchr(line + v, '\0', ll - v)) {
      buf_reset(&id);
      buf_append(&id, line + v, ll - v);
    }
  }
  buf_free(&ev);
  buf_free(&data);
  buf_free(&id);
  return rc;
}

/* Feed s cut wherever cut_here says; returns the last feed's rc. */
static int run(const char *s, size_t len, size_t max_line, int stop_on_done,
               uint64_t seed, int mode, struct buf *out) {
  struct sse_parser p;
  struct log l = {BUF_INIT, stop_on_done};
  sse_parser_init(&p);
  p.max_line = max_line;
  size_t from = 0;
  int rc = 0;
  while (rc == 0 && from < len) {
    size_t n = len - from;
    if (mode == 1) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      n = (size_t)(seed >> 33) % (n + 1); /* 0 included: empty feeds too */
    } else if (mode == 2) {
      n = 1;
    }
    rc = sse_parser_feed(&p, s + from, n, log_cb, &l);
    from += n;
  }
  buf_reset(out);
  buf_append(out, l.b.data, l.b.len);
  buf_free(&l.b);
  sse_parser_free(&p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t opt = data[0];
  const char *s = (const char *)data + 1;
  size_t len = size - 1;
  size_t max_line = (opt & 1) ? (size_t)1 + (opt >> 2) % 48 : (size_t)1 << 20;
  int stop_on_done = (opt >> 1) & 1;
  uint64_t seed = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 1099511628211ULL;

  struct buf want = BUF_INIT, got = BUF_INIT;
  int want_rc = reference(s, len, max_line, stop_on_done, &want);
  for (int mode = 0; mode < 3; mode++) {
    int rc = run(s, len, max_line, stop_on_done, seed, mode, &got);
    if (rc != want_rc || got.len != want.len ||
        (got.len && memcmp(got.data, want.data, got.len)))
      abort();
  }
  buf_free(&want);
  buf_free(&got);
  return 0;
}
