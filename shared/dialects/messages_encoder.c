#include "messages_encoder.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "messages_request.h"

enum block { B_NONE, B_TEXT, B_THINKING, B_TOOL };

struct msg_state {
  enum block open; /* the content block receiving deltas */
  int index;       /* of the open block, or of the next one */
  const char *stop_reason;
  char stop_sequence[256]; /* "" = null */
};

static int lit(struct buf *b, const char *s) { return buf_append_str(b, s); }
static int num(struct buf *b, long v) { return buf_printf(b, "%ld", v); }
static int qtext(struct buf *b, const char *s, size_t n) {
  return json_quote_append(b, s ? s : "", s ? n : 0);
}
static int qstr(struct buf *b, const char *s) { return qtext(b, s, s ? strlen(s) : 0); }

/* event: NAME / data: {"type":NAME<fields>} */
static int event(struct buf *out, const char *name, const char *fields) {
  return lit(out, "event: ") || lit(out, name) || lit(out, "\ndata: {\"type\":\"") || lit(out, name) ||
         lit(out, "\"") || lit(out, fields) || lit(out, "}\n\n");
}

static int event_buf(struct buf *out, const char *name, struct buf *fields) {
  int rc = event(out, name, fields->data ? fields->data : "");
  buf_free(fields);
  return rc;
}

static const char *stop_reason(const char *finish, const char *stop_sequence) {
  if (finish && strcmp(finish, "tool_calls") == 0)
    return "tool_use";
  if (finish && strcmp(finish, "length") == 0)
    return "max_tokens";
  return stop_sequence ? "stop_sequence" : "end_turn";
}

static int put_stop(struct buf *b, const char *reason, const char *seq) {
  return lit(b, "\"stop_reason\":") || qstr(b, reason) || lit(b, ",\"stop_sequence\":") ||
         (seq && seq[0] ? qstr(b, seq) : lit(b, "null"));
}

static int close_block(struct msg_state *s, struct buf *out) {
  if (s->open == B_NONE)
    return 0;
  struct buf f = BUF_INIT;
  s->open = B_NONE;
  int rc = lit(&f, ",\"index\":") || num(&f, s->index++) ||
           event_buf(out, "content_block_stop", &f);
  return rc ? -1 : 0;
}

static int m_open(void *st, struct buf *out, const struct response_meta *m, int index) {
  (void)st, (void)index;
  struct buf f = BUF_INIT;
  int rc = lit(&f, ",\"message\":{\"id\":") || qstr(&f, m->id) ||
           lit(&f, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":") || qstr(&f, m->model) ||
           lit(&f, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}") ||
           event_buf(out, "message_start", &f) || event(out, "ping", "");
  return rc ? -1 : 0;
}

/* A text or thinking delta, opening the block when needed. */
static int delta(struct msg_state *s, struct buf *out, enum block kind, const char *t, size_t n) {
  if (!n)
    return 0;
  int text = kind == B_TEXT;
  if (s->open != kind) {
    struct buf f = BUF_INIT;
    if (close_block(s, out) || lit(&f, ",\"index\":") || num(&f, s->index) ||
        lit(&f, text ? ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}"
                     : ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}") ||
        event_buf(out, "content_block_start", &f))
      return -1;
    s->open = kind;
  }
  struct buf f = BUF_INIT;
  int rc = lit(&f, ",\"index\":") || num(&f, s->index) ||
           lit(&f, text ? ",\"delta\":{\"type\":\"text_delta\",\"text\":"
                        : ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":") ||
           qtext(&f, t, n) || lit(&f, "}") || event_buf(out, "content_block_delta", &f);
  return rc ? -1 : 0;
}

static int m_text(void *st, struct buf *out, const struct response_meta *m, int index,
                  const char *t, size_t n) {
  (void)m, (void)index;
  return delta(st, out, B_TEXT, t, n);
}

static int m_reasoning(void *st, struct buf *out, const struct response_meta *m, int index,
                       const char *t, size_t n) {
  (void)m, (void)index;
  return delta(st, out, B_THINKING, t, n);
}

static int m_call_start(void *st, struct buf *out, const struct response_meta *m, int index,
                        const struct tool_call *call, int call_index) {
  struct msg_state *s = st;
  (void)m, (void)index, (void)call_index;
  struct buf f = BUF_INIT;
  if (close_block(s, out) || lit(&f, ",\"index\":") || num(&f, s->index) ||
      lit(&f, ",\"content_block\":{\"type\":\"tool_use\",\"id\":") || qstr(&f, call->id) ||
      lit(&f, ",\"name\":") || qtext(&f, call->name, call->name_len) || lit(&f, ",\"input\":{}}") ||
      event_buf(out, "content_block_start", &f))
    return -1;
  s->open = B_TOOL;
  return 0;
}

static int m_call_args(void *st, struct buf *out, const struct response_meta *m, int index,
                       int call_index, const char *frag, size_t n) {
  struct msg_state *s = st;
  (void)m, (void)index, (void)call_index;
  struct buf f = BUF_INIT;
  int rc = lit(&f, ",\"index\":") || num(&f, s->index) ||
           lit(&f, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":") ||
           qtext(&f, frag, n) || lit(&f, "}") || event_buf(out, "content_block_delta", &f);
  return rc ? -1 : 0;
}

static int m_call_end(void *st, struct buf *out, const struct response_meta *m, int index,
                      int call_index) {
  (void)m, (void)index, (void)call_index;
  return close_block(st, out);
}

static void keep_stop(struct msg_state *s, const char *finish, const char *seq) {
  s->stop_reason = stop_reason(finish, seq);
  size_t n = seq ? strlen(seq) : 0;
  if (n >= sizeof s->stop_sequence)
    n = sizeof s->stop_sequence - 1;
  memcpy(s->stop_sequence, seq ? seq : "", n);
  s->stop_sequence[n] = '\0';
}

static int m_finish(void *st, struct buf *out, const struct response_meta *m, int index,
                    const char *finish_reason, const char *stop_sequence) {
  (void)m, (void)index;
  keep_stop(st, finish_reason, stop_sequence);
  return close_block(st, out);
}

static int m_end(void *st, struct buf *out, const struct response_meta *m, const struct usage *u) {
  struct msg_state *s = st;
  (void)m;
  struct buf f = BUF_INIT;
  int rc = close_block(s, out) || lit(&f, ",\"delta\":{") ||
           put_stop(&f, s->stop_reason ? s->stop_reason : "end_turn", s->stop_sequence) ||
           lit(&f, "},\"usage\":{\"input_tokens\":") || num(&f, u->prompt_tokens > 0 ? u->prompt_tokens : 0) ||
           lit(&f, ",\"output_tokens\":") || num(&f, u->completion_tokens > 0 ? u->completion_tokens : 0) ||
           lit(&f, "}") || event_buf(out, "message_delta", &f) || event(out, "message_stop", "");
  return rc ? -1 : 0;
}

/* An error after the first byte: Anthropic's `error` event. */
static int m_fail(void *st, struct buf *out, const struct response_meta *m,
                  const struct oai_error *e) {
  (void)st, (void)m;
  int status;
  char *body = messages_error_json(e, &status);
  int rc = !body || lit(out, "event: error\ndata: ") || lit(out, body) || lit(out, "\n\n");
  free(body);
  return rc ? -1 : 0;
}

/* The call's arguments as a JSON object (the model's text when it is one). */
static int put_input(struct buf *b, const struct tool_call *t) {
  cJSON *v = cJSON_ParseWithLength(t->arguments ? t->arguments : "", t->arguments_len);
  char *text = cJSON_IsObject(v) ? cJSON_PrintUnformatted(v) : NULL;
  cJSON_Delete(v);
  int rc = lit(b, text ? text : "{}");
  free(text);
  return rc;
}

static char *m_whole(void *st, const struct response_meta *m, const struct choice_result *c,
                     size_t n, const struct usage *u) {
  (void)st, (void)n;
  struct buf b = BUF_INIT;
  int first = 1, rc = lit(&b, "{\"id\":") || qstr(&b, m->id) ||
                      lit(&b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":") ||
                      qstr(&b, m->model) || lit(&b, ",\"content\":[");
  if (!rc && c->has_reasoning && c->reasoning_len) {
    rc = lit(&b, "{\"type\":\"thinking\",\"thinking\":") || qtext(&b, c->reasoning, c->reasoning_len) ||
         lit(&b, ",\"signature\":\"\"}");
    first = 0;
  }
  if (!rc && c->content_len) {
    rc = (!first && lit(&b, ",")) || lit(&b, "{\"type\":\"text\",\"text\":") ||
         qtext(&b, c->content, c->content_len) || lit(&b, "}");
    first = 0;
  }
  for (size_t k = 0; !rc && c->tool_calls && k < c->n_tool_calls; k++) {
    const struct tool_call *t = &c->tool_calls[k];
    rc = (!first && lit(&b, ",")) || lit(&b, "{\"type\":\"tool_use\",\"id\":") || qstr(&b, t->id) ||
         lit(&b, ",\"name\":") || qtext(&b, t->name, t->name_len) || lit(&b, ",\"input\":") ||
         put_input(&b, t) || lit(&b, "}");
    first = 0;
  }
  rc = rc || lit(&b, "],") ||
       put_stop(&b, stop_reason(c->finish_reason, c->stop_sequence), c->stop_sequence) ||
       lit(&b, ",\"usage\":{\"input_tokens\":") || num(&b, u->prompt_tokens > 0 ? u->prompt_tokens : 0) ||
       lit(&b, ",\"output_tokens\":") || num(&b, u->completion_tokens > 0 ? u->completion_tokens : 0) ||
       lit(&b, "}}");
  if (rc) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}

static const struct encoder_ops MESSAGES_OPS = {
    .id_prefix = "msg_",
    .call_id_prefix = "toolu_",
    .open = m_open,
    .text = m_text,
    .reasoning = m_reasoning,
    .call_start = m_call_start,
    .call_args = m_call_args,
    .call_end = m_call_end,
    .finish = m_finish,
    .end = m_end,
    .fail = m_fail,
    .whole = m_whole,
    .error_body = messages_error_json,
    .free = free,
};

int encoder_messages(struct encoder *e) {
  struct msg_state *s = calloc(1, sizeof *s);
  e->ops = &MESSAGES_OPS;
  e->st = s;
  return s ? 0 : -1;
}
