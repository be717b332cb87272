#include "sse.h"

#include <string.h>

#define SSE_DEFAULT_MAX_LINE ((size_t)1 << 20)

void sse_parser_init(struct sse_parser *p) {
  buf_init(&p->line);
  buf_init(&p->event);
  buf_init(&p->data);
  buf_init(&p->id);
  p->has_data = 0;
  p->last_was_cr = 0;
  p->max_line = SSE_DEFAULT_MAX_LINE;
}

void sse_parser_free(struct sse_parser *p) {
  buf_free(&p->line);
  buf_free(&p->event);
  buf_free(&p->data);
  buf_free(&p->id);
}

/* Blank line. An event with an `event:` line but no data is still delivered
 * (Replicate's `done` may come without data); an `event:` line with an empty
 * value does not count, as it names no type. The buffers are reset whether or
 * not anything was dispatched, as the WHATWG rules say; the id persists. */
static int dispatch(struct sse_parser *p, sse_event_cb cb, void *ud) {
  int rc = 0;
  if (p->has_data || p->event.len) {
    struct sse_event ev;
    ev.event = p->event.len ? p->event.data : "message";
    ev.event_len = p->event.len ? p->event.len : strlen("message");
    ev.data = p->data.data ? p->data.data : "";
    ev.data_len = p->data.len;
    ev.id = p->id.data ? p->id.data : "";
    ev.id_len = p->id.len;
    rc = cb(ud, &ev);
  }
  buf_reset(&p->event);
  buf_reset(&p->data);
  p->has_data = 0;
  return rc;
}

static int field_is(const char *name, size_t len, const char *want) {
  return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* One complete line, without its terminator. */
static int process_line(struct sse_parser *p, const char *line, size_t len,
                        sse_event_cb cb, void *ud) {
  if (len == 0)
    return dispatch(p, cb, ud);
  const char *colon = memchr(line, ':', len);
  if (colon == line)
    return 0; /* comment, e.g. ": hi" keep-alives */
  size_t name_len = colon ? (size_t)(colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  size_t value_len = len - (size_t)(value - line);
  if (value_len && value[0] == ' ') {
    value++;
    value_len--;
  }
  if (field_is(line, name_len, "data")) {
    if (p->has_data && buf_append_char(&p->data, '\n') != 0)
      return -1;
    if (buf_append(&p->data, value, value_len) != 0)
      return -1;
    p->has_data = 1;
  } else if (field_is(line, name_len, "event")) {
    buf_reset(&p->event);
    if (buf_append(&p->event, value, value_len) != 0)
      return -1;
  } else if (field_is(line, name_len, "id")) {
    if (!memchr(value, '\0', value_len)) {
      buf_reset(&p->id);
      if (buf_append(&p->id, value, value_len) != 0)
        return -1;
    }
  }
  /* retry and unknown fields: ignored (we never reconnect on our own) */
  return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *data, size_t len,
                    sse_event_cb cb, void *ud) {
  size_t i = 0;
  if (len && p->last_was_cr) {
    /* the LF of a CRLF split across two feeds: the line already ended */
    if (data[0] == '\n')
      i = 1;
    p->last_was_cr = 0;
  }
  while (i < len) {
    /* The line's end: memchr (vectorised) rather than a byte loop; a CR
     * can only end it before the next LF. */
    const char *lf = memchr(data + i, '\n', len - i);
    size_t j = lf ? (size_t)(lf - data) : len;
    const char *cr = memchr(data + i, '\r', j - i);
    if (cr)
      j = (size_t)(cr - data);
    size_t piece = j - i;
    /* checked before buffering so a runaway line cannot grow memory */
    if (piece > p->max_line || p->line.len > p->max_line - piece)
      return -1;
    if (j == len) {
      if (buf_append(&p->line, data + i, piece) != 0)
        return -1;
      break;
    }
    int rc;
    if (p->line.len == 0) {
      /* the whole line is in this feed: parse it in place, no copy */
      rc = process_line(p, data + i, piece, cb, ud);
    } else {
      if (buf_append(&p->line, data + i, piece) != 0)
        return -1;
      rc = process_line(p, p->line.data, p->line.len, cb, ud);
      buf_reset(&p->line);
    }
    if (data[j] == '\r') {
      if (j + 1 < len) {
        if (data[j + 1] == '\n')
          j++;
      } else {
        p->last_was_cr = 1;
      }
    }
    i = j + 1;
    if (rc != 0)
      return rc;
  }
  return 0;
}
