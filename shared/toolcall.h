/* Parser for DeepSeek V3.1 tool-call output, fed in pieces (streams) or
 * whole. Grammar (openai-api.md §9):
 *   content<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS
 *   <｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
 * plus the malformed marker variants real output contains. Content before
 * the block is released as soon as it cannot be part of a marker; marker
 * text never reaches the caller. A call is reported once it is complete and
 * valid (NAME among the offered tools, ARGS valid JSON); an invalid one is
 * reported as content text instead, never invented. */
#ifndef RP_TOOLCALL_H
#define RP_TOOLCALL_H

#include <stddef.h>

#include "buf.h"

enum tc_event_kind {
  TC_CONTENT, /* text for message.content */
  TC_CALL,    /* one complete, valid tool call */
};

struct tc_event {
  enum tc_event_kind kind;
  const char *text; /* TC_CONTENT */
  size_t len;
  int index;        /* TC_CALL: 0, 1, ... in order of appearance */
  const char *name; /* TC_CALL */
  size_t name_len;
  const char *arguments; /* TC_CALL: the JSON text, trimmed */
  size_t arguments_len;
};

/* Return 0 to go on; non-zero stops the feed and is returned by it. */
typedef int (*tc_event_cb)(void *ud, const struct tc_event *ev);

struct tc_parser; /* opaque; see toolcall.c */

/* tool_names: the offered function names (copied). NULL on OOM. */
struct tc_parser *tc_parser_new(const char *const *tool_names, size_t n);
/* For output with no tools in play: tool-call blocks the model writes
 * anyway are removed (never shown as marker soup, never reported). */
struct tc_parser *tc_parser_new_stripper(void);
void tc_parser_free(struct tc_parser *p);
/* Returns 0, the callback's non-zero value, or -1 (out of memory). */
int tc_parser_feed(struct tc_parser *p, const char *data, size_t len,
                   tc_event_cb cb, void *ud);
/* End of output: releases held text; an unfinished block becomes content,
 * except that the fenced-JSON fallback is tried first (see toolcall.c). */
int tc_parser_finish(struct tc_parser *p, tc_event_cb cb, void *ud);
/* How many calls were reported (finish_reason "tool_calls" when > 0). */
int tc_parser_calls(const struct tc_parser *p);

#endif
