#include "think.h"

#include <string.h>

#include "deepseek_tokens.h"

/* Thinking-mode output, split as llama.cpp does (openai-api.md §9):
 *
 *   [ws] [<think> [ws]] REASONING </think> [ws] CONTENT
 *
 * - Leading whitespace is dropped, then one optional "<think>" and the
 *   whitespace after it (the prompt already ends in "<think>", but models
 *   sometimes repeat it). So reasoning never starts with whitespace.
 * - Everything up to the first "</think>" is reasoning; the marker itself is
 *   dropped. "</think>" at the very start means empty reasoning.
 * - Whitespace right after "</think>" (DeepSeek writes "</think>\n\n") is
 *   dropped; the rest is content, passed through untouched (a later
 *   "</think>" or "<think>" is content text).
 * - No "</think>" at all: everything was reasoning (llama.cpp with thinking
 *   forced open).
 *
 * Streaming: a byte is released as soon as it cannot be part of a marker.
 * In reasoning the held text is always a proper prefix of "</think>" (so
 * held.data == "</think>"[0..held.len)); before the first reasoning byte it
 * is a proper prefix of "<think>" or "</think>". Held text is at most 7
 * bytes and is never rescanned beyond that. Output pieces are cut only at
 * piece boundaries of the input or before a '<', so the splitter never cuts a
 * UTF-8 sequence the input did not cut.
 *
 * After a callback stops a feed (non-zero), the rest of that piece is lost:
 * the splitter ignores further feeds and finish; only free it. */

enum {
  TS_LEAD,    /* whitespace, optional <think>, or </think> may follow */
  TS_LEAD2,   /* after <think>: whitespace, or </think> may follow */
  TS_REASON,  /* reasoning; held = a prefix of </think> */
  TS_CLEAD,   /* after </think>: dropping whitespace */
  TS_CONTENT, /* content, passed through */
  TS_DONE,    /* finished or stopped by the callback */
};

#define BEG DS_THINK_B
#define END DS_THINK_E
#define BEG_LEN (sizeof BEG - 1)
#define END_LEN (sizeof END - 1)

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

static int emit(struct think_splitter *t, enum think_part part,
                const char *s, size_t len, think_cb cb, void *ud) {
  if (len == 0)
    return 0;
  if (part == THINK_REASONING)
    t->reasoning_bytes += len;
  int rc = cb(ud, part, s, len);
  if (rc != 0)
    t->state = TS_DONE;
  return rc;
}

static int content_feed(struct think_splitter *t, const char *data,
                        size_t len, think_cb cb, void *ud) {
  if (t->state == TS_CLEAD) {
    while (len && is_ws(*data)) {
      data++;
      len--;
    }
    if (len == 0)
      return 0;
    t->state = TS_CONTENT;
  }
  return emit(t, THINK_CONTENT, data, len, cb, ud);
}

/* Reasoning until "</think>". Streaming KMP over the marker: '<' occurs in
 * "</think>" only at index 0, so every failure link is 0 and a mismatch
 * restarts at 1 if the byte is '<', else at 0. */
static int reason_feed(struct think_splitter *t, const char *data, size_t len,
                       think_cb cb, void *ud) {
  size_t h = t->held.len, q = h;
  int rc;
  for (size_t j = 0; j < len; j++) {
    char c = data[j];
    if (END[q] == c)
      q++;
    else
      q = c == '<';
    if (q == END_LEN) {
      /* the match starts at offset h + j + 1 - END_LEN of held + data */
      size_t start = h + j + 1 - END_LEN;
      size_t from_held = start < h ? start : h;
      if ((rc = emit(t, THINK_REASONING, t->held.data, from_held, cb, ud)) ||
          (rc = emit(t, THINK_REASONING, data, start - from_held, cb, ud)))
        return rc;
      buf_reset(&t->held);
      t->state = TS_CLEAD;
      return content_feed(t, data + j + 1, len - j - 1, cb, ud);
    }
  }
  /* No marker: release all but the last q bytes of held + data. */
  size_t total = h + len, cut = total - q;
  char tail[END_LEN];
  if (q <= len) {
    memcpy(tail, data + len - q, q);
  } else {
    memcpy(tail, t->held.data + h - (q - len), q - len);
    memcpy(tail + (q - len), data, len);
  }
  size_t from_held = cut < h ? cut : h;
  if ((rc = emit(t, THINK_REASONING, t->held.data, from_held, cb, ud)) ||
      (rc = emit(t, THINK_REASONING, data, cut - from_held, cb, ud)))
    return rc;
  buf_reset(&t->held);
  buf_append(&t->held, tail, q); /* cannot fail: capacity reserved */
  return 0;
}

static int lead_feed(struct think_splitter *t, const char *data, size_t len,
                     think_cb cb, void *ud) {
  for (size_t j = 0; j < len; j++) {
    char c = data[j];
    size_t h = t->held.len;
    if (h == 0 && is_ws(c))
      continue; /* leading whitespace is dropped */
    int pb = t->state == TS_LEAD && BEG[h] == c &&
             memcmp(t->held.data, BEG, h) == 0;
    int pe = END[h] == c && memcmp(t->held.data, END, h) == 0;
    if (pb || pe) {
      buf_append_char(&t->held, c); /* cannot fail: capacity reserved */
      if (pb && h + 1 == BEG_LEN) {
        buf_reset(&t->held);
        t->state = TS_LEAD2;
      } else if (pe && h + 1 == END_LEN) {
        buf_reset(&t->held);
        t->state = TS_CLEAD;
        return content_feed(t, data + j + 1, len - j - 1, cb, ud);
      }
      continue;
    }
    /* Not a marker after all: the held bytes and c start the reasoning. */
    char tmp[END_LEN + 1];
    memcpy(tmp, t->held.data, h);
    tmp[h] = c;
    buf_reset(&t->held);
    t->state = TS_REASON;
    int rc = reason_feed(t, tmp, h + 1, cb, ud);
    if (rc)
      return rc;
    return reason_feed(t, data + j + 1, len - j - 1, cb, ud);
  }
  return 0;
}

void think_init(struct think_splitter *t) {
  t->state = TS_LEAD;
  buf_init(&t->held);
  t->reasoning_bytes = 0;
}

void think_free(struct think_splitter *t) { buf_free(&t->held); }

int think_feed(struct think_splitter *t, const char *data, size_t len,
               think_cb cb, void *ud) {
  if (t->state == TS_DONE || len == 0)
    return 0;
  /* Held text never exceeds END_LEN bytes: reserve once, then the feed
   * paths below cannot fail. */
  if (buf_reserve(&t->held, END_LEN + 1) != 0)
    return -1;
  switch (t->state) {
  case TS_LEAD:
  case TS_LEAD2:
    return lead_feed(t, data, len, cb, ud);
  case TS_REASON:
    return reason_feed(t, data, len, cb, ud);
  default:
    return content_feed(t, data, len, cb, ud);
  }
}

int think_finish(struct think_splitter *t, think_cb cb, void *ud) {
  if (t->state == TS_DONE)
    return 0;
  int rc = 0;
  if (t->state == TS_LEAD || t->state == TS_LEAD2 || t->state == TS_REASON)
    rc = emit(t, THINK_REASONING, t->held.data, t->held.len, cb, ud);
  buf_reset(&t->held);
  t->state = TS_DONE;
  return rc;
}
