/* Incremental Server-Sent Events parser (Replicate's stream). Push bytes in
 * any chunking, get whole events out. Comments (": hi") and `retry:` are
 * skipped; consecutive `data:` lines are joined with "\n"; one optional
 * space after the colon is stripped; CR, LF and CRLF all end a line. */
#ifndef RP_SSE_H
#define RP_SSE_H

#include <stddef.h>

#include "buf.h"

struct sse_event {
  const char *event; /* "message" when the event had no `event:` line */
  size_t event_len;
  const char *data; /* joined data lines (may be empty, may contain \n) */
  size_t data_len;
  const char *id; /* last `id:` seen (persists across events), may be "" */
  size_t id_len;
};

/* Return 0 to continue, non-zero to stop: sse_parser_feed then returns that
 * value at once and the parser must not be fed again. */
typedef int (*sse_event_cb)(void *ud, const struct sse_event *ev);

struct sse_parser {
  struct buf line;  /* the current, incomplete line */
  struct buf event; /* event type of the event being built */
  struct buf data;  /* data lines of the event being built */
  struct buf id;    /* last event id */
  int has_data;     /* at least one data: line seen in this event */
  int last_was_cr;  /* previous byte was CR (a following LF is skipped) */
  size_t max_line;  /* lines longer than this fail the feed (-1) */
};

void sse_parser_init(struct sse_parser *p);
void sse_parser_free(struct sse_parser *p);
/* Returns 0, the callback's non-zero value, or -1 (out of memory or a line
 * over the limit, 1 MiB by default). An event is dispatched at the blank
 * line that ends it; an event with no data line is dispatched too when it
 * had an `event:` line (Replicate's `done` may carry `data: {}` or none). */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len,
                    sse_event_cb cb, void *ud);

#endif
