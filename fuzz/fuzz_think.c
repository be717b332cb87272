/* libFuzzer target for shared/think.c. Input: byte 0 = options; bit 0 set:
 * every later byte picks a piece from a small table of marker fragments
 * ("<think>", "</thin", "<", "\n", ...) so markers and false starts are
 * common; clear: the bytes are the text. The text is fed whole, at
 * pseudo-random cuts and byte by byte. Checked: the (part, text) stream with
 * adjacent pieces of one part merged is the same every time and equals a
 * whole-string reference (skip whitespace, one optional "<think>" and the
 * whitespace after it; reasoning up to the first "</think>"; content after
 * it minus leading whitespace; no "</think>": all reasoning); no empty
 * callbacks; reasoning_bytes counts the reasoning released; held text stays
 * shorter than "</think>". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/think.h"

static const char *const pieces[] = {
    "<think>", "</think>", "</thin", "<th", "<", "/", "think", ">", "t",
    "k",       " ",        "\n",     "\r\n", "x", "yz", "\xE2\x96\x81", "",
};
#define NPIECES (sizeof pieces / sizeof pieces[0])

struct rec {
  struct buf tr;
  int last;
  size_t rbytes;
  int empty;
};

static int rec_cb(void *ud, enum think_part part, const char *text,
                  size_t len) {
  struct rec *r = ud;
  if (len == 0)
    r->empty = 1;
  if ((int)part != r->last) {
    buf_append_str(&r->tr, part == THINK_REASONING ? "\x01R" : "\x01"
                                                               "C");
    r->last = (int)part;
  }
  buf_append(&r->tr, text, len);
  if (part == THINK_REASONING)
    r->rbytes += len;
  return 0;
}

static int ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

static void reference(const char *s, size_t len, struct buf *out) {
  size_t i = 0;
  while (i < len && ws(s[i]))
    i++;
  if (len - i >= 7 && !memcmp(s + i, "<think>", 7)) {
    i += 7;
    while (i < len && ws(s[i]))
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
    while (c < len && ws(s[c]))
      c++;
    if (c < len) {
      buf_append_str(out, "\x01"
                          "C");
      buf_append(out, s + c, len - c);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  struct buf text = BUF_INIT, ref = BUF_INIT;
  if (data[0] & 1) {
    for (size_t i = 1; i < size; i++)
      buf_append_str(&text, pieces[data[i] % NPIECES]);
  } else {
    buf_append(&text, data + 1, size - 1);
  }
  const char *s = text.data ? text.data : "";
  size_t len = text.len;
  reference(s, len, &ref);

  uint64_t seed = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 1099511628211ULL;
  for (int mode = 0; mode < 3; mode++) {
    struct think_splitter t;
    struct rec r = {BUF_INIT, -1, 0, 0};
    think_init(&t);
    size_t from = 0;
    do {
      size_t c = len - from;
      if (mode == 1) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        c = (size_t)(seed >> 33) % (c + 1);
      } else if (mode == 2 && c) {
        c = 1;
      }
      if (think_feed(&t, s + from, c, rec_cb, &r) != 0)
        abort();
      from += c;
      if (t.held.len >= 8 || t.reasoning_bytes != r.rbytes)
        abort();
    } while (from < len);
    if (think_finish(&t, rec_cb, &r) != 0)
      abort();
    if (r.empty || t.reasoning_bytes != r.rbytes || r.tr.len != ref.len ||
        (ref.len && memcmp(r.tr.data, ref.data, ref.len)))
      abort();
    think_free(&t);
    buf_free(&r.tr);
  }
  buf_free(&text);
  buf_free(&ref);
  return 0;
}
