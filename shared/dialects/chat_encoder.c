/* Chat Completions chunks and legacy text completions: the byte-exact
 * wire format of response.c, behind the encoder interface. */
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

/* The bytes of a text chunk before its text (id, created, model, index: the
 * same for every token of a stream), built once instead of per token, where
 * escaping and formatting them was half the chunk's cost. Valid while the
 * meta and index it was built for are the ones asked for. */
struct text_prefix {
  struct buf bytes; /* "data: {...,"delta":{"content":"" */
  struct buf key;   /* id NUL model: what it was built from */
  long created;
  int index;
  int valid;
};

struct chat_state {
  int legacy;        /* deprecated `functions`: one function_call delta */
  int include_usage; /* stream_options.include_usage */
  struct text_prefix prefix[2]; /* [0] content, [1] reasoning_content */
};

static int chat_open(void *st, struct buf *out, const struct response_meta *m, int index) {
  (void)st;
  return response_chunk_role(out, m, index);
}

static int same_key(const struct text_prefix *tp, const struct response_meta *m, int index) {
  if (!tp->valid || tp->created != m->created || tp->index != index)
    return 0;
  const char *id = m->id ? m->id : "", *model = m->model ? m->model : "";
  size_t il = strlen(id), ml = strlen(model);
  return tp->key.len == il + 1 + ml && memcmp(tp->key.data, id, il) == 0 &&
         tp->key.data[il] == '\0' && memcmp(tp->key.data + il + 1, model, ml) == 0;
}

static const struct buf *prefix_for(struct text_prefix *tp, const struct response_meta *m,
                                    int index, int reasoning) {
  if (same_key(tp, m, index))
    return &tp->bytes;
  tp->valid = 0;
  buf_reset(&tp->bytes);
  buf_reset(&tp->key);
  if (response_chunk_text_prefix(&tp->bytes, m, index, reasoning) != 0 ||
      buf_append_str(&tp->key, m->id ? m->id : "") != 0 || buf_append_char(&tp->key, '\0') ||
      buf_append_str(&tp->key, m->model ? m->model : "") != 0)
    return NULL;
  tp->created = m->created;
  tp->index = index;
  tp->valid = 1;
  return &tp->bytes;
}

/* response_chunk_content's (or _reasoning's) bytes, from the kept prefix. */
static int text_chunk(struct chat_state *cs, struct buf *out, const struct response_meta *m,
                      int index, int reasoning, const char *s, size_t n) {
  const struct buf *pre = prefix_for(&cs->prefix[reasoning], m, index, reasoning);
  if (!pre)
    return -1;
  size_t mark = out->len, suffix = strlen(RESPONSE_CHUNK_TEXT_SUFFIX);
  if (buf_reserve(out, pre->len + n + suffix) != 0 || buf_append(out, pre->data, pre->len) ||
      json_escape_append(out, s, n) || buf_append(out, RESPONSE_CHUNK_TEXT_SUFFIX, suffix)) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    return -1;
  }
  return 0;
}

static int chat_text(void *st, struct buf *out, const struct response_meta *m, int index,
                     const char *s, size_t n) {
  return text_chunk(st, out, m, index, 0, s, n);
}

static int chat_reasoning(void *st, struct buf *out, const struct response_meta *m,
                          int index, const char *s, size_t n) {
  return text_chunk(st, out, m, index, 1, s, n);
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

static void chat_free(void *st) {
  struct chat_state *cs = st;
  for (size_t i = 0; i < sizeof cs->prefix / sizeof cs->prefix[0]; i++) {
    buf_free(&cs->prefix[i].bytes);
    buf_free(&cs->prefix[i].key);
  }
  free(cs);
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
    .free = chat_free,
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
    .free = chat_free,
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
