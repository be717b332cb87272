/* Chat Completions chunks and legacy text completions: the byte-exact
 * wire format of response.c, behind the encoder interface. */
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

struct chat_state {
  int legacy;        /* deprecated `functions`: one function_call delta */
  int include_usage; /* stream_options.include_usage */
};

static int chat_open(void *st, struct buf *out, const struct response_meta *m, int index) {
  (void)st;
  return response_chunk_role(out, m, index);
}

static int chat_text(void *st, struct buf *out, const struct response_meta *m, int index,
                     const char *s, size_t n) {
  (void)st;
  return response_chunk_content(out, m, index, s, n);
}

static int chat_reasoning(void *st, struct buf *out, const struct response_meta *m,
                          int index, const char *s, size_t n) {
  (void)st;
  return response_chunk_reasoning(out, m, index, s, n);
}

static int chat_call_start(void *st, struct buf *out, const struct response_meta *m,
                           int index, const struct tool_call *call, int call_index) {
  const struct chat_state *cs = st;
  if (!cs->legacy)
    return response_chunk_tool_call(out, m, index, call, call_index);
  if (call_index != 0) /* the deprecated API has room for one call */
    return 0;
  return response_chunk_function_call(out, m, index, call->name, call->name_len,
                                      call->arguments, call->arguments_len);
}

static int chat_call_args(void *st, struct buf *out, const struct response_meta *m,
                          int index, int call_index, const char *frag, size_t n) {
  const struct chat_state *cs = st;
  return cs->legacy ? 0 : response_chunk_tool_args(out, m, index, call_index, frag, n);
}

static int no_call_end(void *st, struct buf *out, const struct response_meta *m, int index,
                       int call_index) {
  (void)st, (void)out, (void)m, (void)index, (void)call_index;
  return 0;
}

static int chat_finish(void *st, struct buf *out, const struct response_meta *m, int index,
                       const char *finish_reason, const char *stop_sequence) {
  (void)st, (void)stop_sequence;
  return response_chunk_finish(out, m, index, finish_reason);
}

static int chat_end(void *st, struct buf *out, const struct response_meta *m,
                    const struct usage *u) {
  const struct chat_state *cs = st;
  if (cs->include_usage && response_chunk_usage(out, m, u) != 0)
    return -1;
  return response_done(out);
}

/* An OpenAI error event, then [DONE]: the one in-band error shape. */
static int oai_fail(void *st, struct buf *out, const struct response_meta *m,
                    const struct oai_error *e) {
  (void)st, (void)m;
  char *event = oai_error_sse(e);
  int rc = event ? buf_append_str(out, event) : -1;
  free(event);
  return rc == 0 ? response_done(out) : -1;
}

static char *chat_whole(void *st, const struct response_meta *m,
                        const struct choice_result *c, size_t n, const struct usage *u) {
  (void)st;
  return response_chat_completion(m, c, n, u);
}

static const struct encoder_ops CHAT_OPS = {
    .id_prefix = "chatcmpl-",
    .open = chat_open,
    .text = chat_text,
    .reasoning = chat_reasoning,
    .call_start = chat_call_start,
    .call_args = chat_call_args,
    .call_end = no_call_end,
    .finish = chat_finish,
    .end = chat_end,
    .fail = oai_fail,
    .whole = chat_whole,
    .free = free,
};

/* ---- legacy text completions ---- */

static int text_open(void *st, struct buf *out, const struct response_meta *m, int index) {
  (void)st, (void)out, (void)m, (void)index;
  return 0; /* no role chunk; the exchange sends an echo as text */
}

static int text_text(void *st, struct buf *out, const struct response_meta *m, int index,
                     const char *s, size_t n) {
  (void)st;
  return response_text_chunk(out, m, index, s, n, NULL);
}

/* Text completions have no reasoning or calls: the pipeline never runs
 * those stages for them. */
static int text_none(void *st, struct buf *out, const struct response_meta *m, int index,
                     const char *s, size_t n) {
  (void)st, (void)out, (void)m, (void)index, (void)s, (void)n;
  return 0;
}

static int text_call_start(void *st, struct buf *out, const struct response_meta *m,
                           int index, const struct tool_call *call, int call_index) {
  (void)st, (void)out, (void)m, (void)index, (void)call, (void)call_index;
  return 0;
}

static int text_call_args(void *st, struct buf *out, const struct response_meta *m,
                          int index, int call_index, const char *frag, size_t n) {
  (void)st, (void)out, (void)m, (void)index, (void)call_index, (void)frag, (void)n;
  return 0;
}

static int text_finish(void *st, struct buf *out, const struct response_meta *m, int index,
                       const char *finish_reason, const char *stop_sequence) {
  (void)st, (void)stop_sequence;
  return response_text_chunk(out, m, index, "", 0, finish_reason);
}

static int text_end(void *st, struct buf *out, const struct response_meta *m,
                    const struct usage *u) {
  const struct chat_state *cs = st;
  if (cs->include_usage && response_text_usage(out, m, u) != 0)
    return -1;
  return response_done(out);
}

static char *text_whole(void *st, const struct response_meta *m,
                        const struct choice_result *c, size_t n, const struct usage *u) {
  (void)st;
  return response_text_completion(m, c, n, u);
}

static const struct encoder_ops TEXT_OPS = {
    .id_prefix = "cmpl-",
    .open = text_open,
    .text = text_text,
    .reasoning = text_none,
    .call_start = text_call_start,
    .call_args = text_call_args,
    .call_end = no_call_end,
    .finish = text_finish,
    .end = text_end,
    .fail = oai_fail,
    .whole = text_whole,
    .free = free,
};

static int make(struct encoder *e, const struct encoder_ops *ops, int legacy,
                int include_usage) {
  struct chat_state *cs = calloc(1, sizeof *cs);
  e->ops = ops;
  e->st = cs;
  if (!cs)
    return -1;
  cs->legacy = legacy;
  cs->include_usage = include_usage;
  return 0;
}

int encoder_chat(struct encoder *e, int legacy, int include_usage) {
  return make(e, &CHAT_OPS, legacy, include_usage);
}

int encoder_text(struct encoder *e, int include_usage) {
  return make(e, &TEXT_OPS, 0, include_usage);
}

void encoder_free(struct encoder *e) {
  if (e && e->ops && e->st)
    e->ops->free(e->st);
  if (e)
    e->st = NULL;
}
