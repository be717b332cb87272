#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "jsonmode.h"
#include "stop.h"
#include "think.h"
#include "toolcall.h"

struct recorded_call {
  char id[RESPONSE_CALL_ID_CAP];
  struct buf name;
  struct buf args;
};

struct pipeline {
  struct pipeline_opts o;
  struct think_splitter think;
  struct stop_matcher stop;
  struct tc_parser *tc; /* NULL when no tools are in play */
  int json_mode;
  int stop_hit;
  int truncated_ok; /* pipeline_allow_truncated_json */
  int failed; /* out of memory somewhere: the result is unusable */
  struct buf scratch;   /* text the stop matcher released */
  struct buf unreleased; /* content the stop matcher holds: after a match it
                            starts with the stop that matched */
  const char *matched_stop;
  struct buf reasoning; /* non-streaming */
  struct buf content;   /* non-streaming text, or the JSON-mode buffer */
  size_t output_bytes;  /* everything fed */
  struct recorded_call *calls;
  size_t n_calls, cap_calls;
  struct tool_call *views; /* pipeline_result's view of calls */
  uint64_t rng;
  /* The destination of the feed in progress. */
  struct buf *out;
  const struct response_meta *m;
  struct encoder own; /* the default encoder when opts.enc is NULL */
  const struct encoder *enc;
};

/* splitmix64: tool call ids need to be unique, not secret. */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct pipeline *pipeline_new(const struct pipeline_opts *o) {
  struct pipeline *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->o = *o;
  p->rng = o->id_seed;
  think_init(&p->think);
  buf_init(&p->scratch);
  buf_init(&p->unreleased);
  buf_init(&p->reasoning);
  buf_init(&p->content);
  int ok = stop_matcher_init(&p->stop, o->stops, o->n_stops) == 0;
  const struct chat_request *r = o->req;
  if (ok && o->kind == PIPE_CHAT) {
    /* Without tools in play a tool-call block is still removed. */
    p->tc = r && chat_request_tools_active(r)
                ? tc_parser_new((const char *const *)r->tool_names, r->n_tools)
                : tc_parser_new_stripper();
    ok = p->tc != NULL;
  }
  p->json_mode = r && r->response_kind != RESPONSE_TEXT;
  p->enc = o->enc;
  if (ok && !o->enc) {
    ok = (o->kind == PIPE_TEXT ? encoder_text(&p->own, 0)
                               : encoder_chat(&p->own, r && r->legacy_functions, 0)) == 0;
    p->enc = &p->own;
  }
  if (!ok) {
    pipeline_free(p);
    return NULL;
  }
  return p;
}

void pipeline_free(struct pipeline *p) {
  if (!p)
    return;
  think_free(&p->think);
  stop_matcher_free(&p->stop);
  tc_parser_free(p->tc);
  buf_free(&p->scratch);
  buf_free(&p->unreleased);
  buf_free(&p->reasoning);
  buf_free(&p->content);
  for (size_t i = 0; i < p->n_calls; i++) {
    buf_free(&p->calls[i].name);
    buf_free(&p->calls[i].args);
  }
  free(p->calls);
  free(p->views);
  encoder_free(&p->own);
  free(p);
}

static void check(struct pipeline *p, int rc) {
  if (rc != 0)
    p->failed = 1;
}

/* ---- the last stage: to the client or into the result ---- */

static void emit_text(struct pipeline *p, const char *text, size_t len) {
  if (!len)
    return;
  if (p->json_mode || !p->o.stream)
    check(p, buf_append(&p->content, text, len));
  else
    check(p, p->enc->ops->text(p->enc->st, p->out, p->m, p->o.index, text, len));
}

static void emit_reasoning(struct pipeline *p, const char *text, size_t len) {
  if (!len)
    return;
  if (p->o.stream)
    check(p, p->enc->ops->reasoning(p->enc->st, p->out, p->m, p->o.index, text, len));
  else
    check(p, buf_append(&p->reasoning, text, len));
}

static void emit_call(struct pipeline *p, const struct tc_event *ev) {
  if (p->n_calls == p->cap_calls) {
    size_t cap = p->cap_calls ? p->cap_calls * 2 : 4;
    struct recorded_call *c = realloc(p->calls, cap * sizeof *c);
    if (!c) {
      p->failed = 1;
      return;
    }
    p->calls = c;
    p->cap_calls = cap;
  }
  struct recorded_call *c = &p->calls[p->n_calls++];
  unsigned char rnd[RESPONSE_CALL_ID_RANDOM];
  for (size_t i = 0; i < sizeof rnd; i += 8) {
    uint64_t v = next_random(&p->rng);
    for (size_t j = 0; j < 8 && i + j < sizeof rnd; j++)
      rnd[i + j] = (unsigned char)(v >> (8 * j));
  }
  response_make_id(c->id, sizeof c->id, p->o.call_id_prefix ? p->o.call_id_prefix : "call_",
                   rnd, sizeof rnd);
  buf_init(&c->name);
  buf_init(&c->args);
  check(p, buf_append(&c->name, ev->name, ev->name_len));
  check(p, buf_append(&c->args, ev->arguments, ev->arguments_len));
  if (!p->o.stream || p->failed)
    return;
  const struct encoder *e = p->enc;
  struct tool_call view = {c->id, c->name.data, c->name.len, c->args.data, c->args.len};
  int index = (int)(p->n_calls - 1);
  check(p, e->ops->call_start(e->st, p->out, p->m, p->o.index, &view, index));
  check(p, e->ops->call_args(e->st, p->out, p->m, p->o.index, index, ev->arguments,
                             ev->arguments_len));
  check(p, e->ops->call_end(e->st, p->out, p->m, p->o.index, index));
}

/* ---- the stages ---- */

static int on_tool_event(void *ud, const struct tc_event *ev) {
  struct pipeline *p = ud;
  if (ev->kind == TC_CALL)
    emit_call(p, ev);
  else
    emit_text(p, ev->text, ev->len);
  return 0;
}

static void text_in(struct pipeline *p, const char *text, size_t len) {
  if (p->tc)
    check(p, tc_parser_feed(p->tc, text, len, on_tool_event, p) < 0);
  else
    emit_text(p, text, len);
}

/* Which stop matched (Anthropic's answer names it): the released text ends
 * right before the match, so what is still unreleased starts with it. */
static void note_unreleased(struct pipeline *p, const char *text, size_t len, int matched) {
  if (!p->o.n_stops)
    return;
  check(p, buf_append(&p->unreleased, text, len));
  buf_consume(&p->unreleased, p->scratch.len < p->unreleased.len ? p->scratch.len
                                                                 : p->unreleased.len);
  for (size_t i = 0; matched && i < p->o.n_stops && !p->matched_stop; i++) {
    const char *s = p->o.stops[i];
    size_t n = s ? strlen(s) : 0;
    if (n && n <= p->unreleased.len && memcmp(p->unreleased.data, s, n) == 0)
      p->matched_stop = s;
  }
}

static void content_in(struct pipeline *p, const char *text, size_t len) {
  if (p->stop_hit)
    return;
  buf_reset(&p->scratch);
  int rc = stop_matcher_push(&p->stop, text, len, &p->scratch);
  if (rc < 0) {
    p->failed = 1;
    return;
  }
  text_in(p, p->scratch.data, p->scratch.len);
  if (rc == 1)
    p->stop_hit = 1;
  note_unreleased(p, text, len, rc == 1);
}

static int on_think(void *ud, enum think_part part, const char *text, size_t len) {
  struct pipeline *p = ud;
  if (part == THINK_REASONING)
    emit_reasoning(p, text, len);
  else
    content_in(p, text, len);
  return 0;
}

static void set_dest(struct pipeline *p, struct buf *out, const struct response_meta *m) {
  p->out = out;
  p->m = m;
}

int pipeline_feed(struct pipeline *p, const char *text, size_t len,
                  struct buf *out, const struct response_meta *m) {
  if (p->stop_hit)
    return 1;
  set_dest(p, out, m);
  p->output_bytes += len;
  if (p->o.thinking)
    check(p, think_feed(&p->think, text, len, on_think, p) < 0);
  else
    content_in(p, text, len);
  if (p->failed)
    return -1;
  return p->stop_hit ? 1 : 0;
}

int pipeline_finish(struct pipeline *p, struct buf *out,
                    const struct response_meta *m, struct oai_error *err) {
  set_dest(p, out, m);
  if (p->o.thinking)
    check(p, think_finish(&p->think, on_think, p) < 0);
  if (!p->stop_hit) {
    buf_reset(&p->scratch);
    check(p, stop_matcher_finish(&p->stop, &p->scratch));
    text_in(p, p->scratch.data, p->scratch.len);
  }
  if (p->tc)
    check(p, tc_parser_finish(p->tc, on_tool_event, p) < 0);
  if (p->failed)
    return -1;
  if (!p->json_mode || p->n_calls > 0)
    return 0;
  /* JSON mode: the whole answer is checked before any of it is sent. */
  struct buf clean = BUF_INIT;
  char why[256];
  if (jsonmode_clean(p->content.data ? p->content.data : "", p->content.len, p->o.req,
                     &clean, why, sizeof why) != 0) {
    buf_free(&clean);
    if (p->truncated_ok) { /* cut by max_tokens: the client sees "length" */
      if (p->o.stream && p->content.len &&
          p->enc->ops->text(p->enc->st, out, m, p->o.index, p->content.data,
                            p->content.len) != 0)
        return -1;
      return 0;
    }
    oai_error_set(err, 502, "server_error", "invalid_json_output", "response_format",
                  "The model did not produce valid JSON for response_format: %s", why);
    return -2;
  }
  buf_free(&p->content);
  p->content = clean;
  if (p->o.stream && p->content.len &&
      p->enc->ops->text(p->enc->st, out, m, p->o.index, p->content.data, p->content.len) != 0)
    return -1;
  return 0;
}

void pipeline_allow_truncated_json(struct pipeline *p) { p->truncated_ok = 1; }

int pipeline_stop_matched(const struct pipeline *p) { return p->stop_hit; }

const char *pipeline_matched_stop(const struct pipeline *p) { return p->matched_stop; }

const char *pipeline_call_finish_reason(const struct pipeline *p) {
  if (!p->n_calls)
    return NULL;
  return p->o.req && p->o.req->legacy_functions ? "function_call" : "tool_calls";
}

size_t pipeline_reasoning_bytes(const struct pipeline *p) { return p->think.reasoning_bytes; }

void pipeline_result(struct pipeline *p, struct choice_result *r) {
  r->content = p->content.data ? p->content.data : "";
  r->content_len = p->content.len;
  r->has_reasoning = p->o.thinking;
  r->reasoning = p->reasoning.data ? p->reasoning.data : "";
  r->reasoning_len = p->reasoning.len;
  r->content_null = p->n_calls > 0 && p->content.len == 0;
  r->legacy_function_call = p->o.req && p->o.req->legacy_functions;
  r->tool_calls = NULL;
  r->n_tool_calls = 0;
  if (!p->n_calls)
    return;
  free(p->views);
  p->views = calloc(p->n_calls, sizeof *p->views);
  if (!p->views)
    return;
  for (size_t i = 0; i < p->n_calls; i++) {
    const struct recorded_call *c = &p->calls[i];
    p->views[i] = (struct tool_call){c->id, c->name.data, c->name.len, c->args.data,
                                     c->args.len};
  }
  r->tool_calls = p->views;
  r->n_tool_calls = p->n_calls;
}
