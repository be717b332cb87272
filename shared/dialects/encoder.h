/* One wire format's output: typed events from the per-choice pipeline and
 * the exchange in, that format's bytes out. A dialect is a request parser
 * plus one of these; the pipeline and the exchange never write wire bytes
 * themselves.
 *
 * Stream events, in order for each choice: open, then any of text /
 * reasoning / call_start+call_args+call_end, then finish; after every
 * choice finished, end (with the usage) — or fail at any point after open.
 * Each appends whole events to out and returns 0, or -1 when out of memory
 * (out may then hold part of an event: the exchange fails the stream).
 * finish reasons use Chat Completions' words ("stop", "length",
 * "tool_calls", "function_call"); each encoder maps them to its own. */
#ifndef RP_ENCODER_H
#define RP_ENCODER_H

#include <stddef.h>

#include "../buf.h"
#include "../oai_error.h"
#include "../response.h"

struct encoder_ops {
  const char *id_prefix; /* the answer's id is this + the prediction id */
  const char *call_id_prefix; /* tool call ids; NULL: "call_" */
  int (*open)(void *st, struct buf *out, const struct response_meta *m, int index);
  int (*text)(void *st, struct buf *out, const struct response_meta *m, int index,
              const char *s, size_t n);
  int (*reasoning)(void *st, struct buf *out, const struct response_meta *m, int index,
                   const char *s, size_t n);
  /* A call as the model made it: call->arguments is complete here (the
   * arguments are sent again, as fragments, by call_args). */
  int (*call_start)(void *st, struct buf *out, const struct response_meta *m, int index,
                    const struct tool_call *call, int call_index);
  int (*call_args)(void *st, struct buf *out, const struct response_meta *m, int index,
                   int call_index, const char *frag, size_t n);
  int (*call_end)(void *st, struct buf *out, const struct response_meta *m, int index,
                  int call_index);
  /* stop_sequence: the client's stop sequence that matched, or NULL. */
  int (*finish)(void *st, struct buf *out, const struct response_meta *m, int index,
                const char *finish_reason, const char *stop_sequence);
  int (*end)(void *st, struct buf *out, const struct response_meta *m, const struct usage *u);
  int (*fail)(void *st, struct buf *out, const struct response_meta *m,
              const struct oai_error *e);
  /* The whole non-streaming answer; malloc'd, or NULL when out of memory. */
  char *(*whole)(void *st, const struct response_meta *m, const struct choice_result *c,
                 size_t n, const struct usage *u);
  /* An error answered before the stream opened: the body (malloc'd) and
   * *status. NULL here: OpenAI's error object. */
  char *(*error_body)(const struct oai_error *e, int *status);
  void (*free)(void *st);
};

struct encoder {
  const struct encoder_ops *ops;
  void *st; /* owned: ops->free */
};

/* Chat Completions chunks (legacy: the deprecated `functions` API) and
 * legacy text completions. include_usage: the usage chunk before [DONE].
 * 0, or -1 when out of memory. */
int encoder_chat(struct encoder *e, int legacy, int include_usage);
int encoder_text(struct encoder *e, int include_usage);
void encoder_free(struct encoder *e);

#endif
