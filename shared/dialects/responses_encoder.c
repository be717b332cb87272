/* The Responses API's wire format: the whole `response` object and its
 * stream of typed events (every one with sequence_number). One choice
 * (Responses has no `n`). Output items are kept as they stream, so the
 * .done events and response.completed repeat them whole, and a completed
 * response is remembered for previous_response_id. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "response_store.h"
#include "responses_encoder.h"

enum item_kind { IT_MESSAGE, IT_REASONING, IT_CALL };

struct item {
  enum item_kind kind;
  struct buf text; /* message text, reasoning summary, or call arguments */
  struct buf name; /* calls */
  char call_id[RESPONSE_CALL_ID_CAP];
  int done;
};

struct resp_state {
  long seq;
  struct item *items;
  size_t n, cap;
  int open; /* the message or reasoning item receiving deltas, or -1 */
  char finish[24];
  cJSON *history; /* Chat Completions messages so far (owned) */
  int store;
  char scope[RESPONSE_SCOPE_MAX]; /* the caller's key: what it stores, only it reads */
};

/* ---- JSON building blocks (chain with ||, -1 when out of memory) ---- */

static int lit(struct buf *b, const char *s) { return buf_append_str(b, s); }
static int num(struct buf *b, long v) { return buf_printf(b, "%ld", v); }
static int qtext(struct buf *b, const struct buf *t) {
  return json_quote_append(b, t->data ? t->data : "", t->len);
}
static int qstr(struct buf *b, const char *s) { return json_quote_append(b, s, strlen(s)); }

/* The part of the response id after "resp_": item ids reuse it. */
static const char *id_tail(const struct response_meta *m) {
  return strncmp(m->id, "resp_", 5) == 0 ? m->id + 5 : m->id;
}

static int item_id(struct buf *b, const struct response_meta *m, const struct item *it,
                   size_t index) {
  static const char *const prefix[] = {"msg_", "rs_", "fc_"};
  return buf_printf(b, "\"%s%s_%zu\"", prefix[it->kind], id_tail(m), index);
}

/* One output item as the API shows it; `done` items carry their content. */
static int put_item(struct buf *b, const struct response_meta *m, const struct item *it,
                    size_t index) {
  const char *status = it->done ? "\"completed\"" : "\"in_progress\"";
  if (lit(b, "{\"id\":") || item_id(b, m, it, index))
    return -1;
  switch (it->kind) {
  case IT_MESSAGE:
    return lit(b, ",\"type\":\"message\",\"status\":") || lit(b, status) ||
           lit(b, ",\"role\":\"assistant\",\"content\":[") ||
           (it->done && (lit(b, "{\"type\":\"output_text\",\"text\":") || qtext(b, &it->text) ||
                         lit(b, ",\"annotations\":[]}"))) ||
           lit(b, "]}");
  case IT_REASONING:
    return lit(b, ",\"type\":\"reasoning\",\"summary\":[") ||
           (it->done && (lit(b, "{\"type\":\"summary_text\",\"text\":") || qtext(b, &it->text) ||
                         lit(b, "}"))) ||
           lit(b, "]}");
  case IT_CALL:
    return lit(b, ",\"type\":\"function_call\",\"status\":") || lit(b, status) ||
           lit(b, ",\"arguments\":") ||
           (it->done ? qtext(b, &it->text) : lit(b, "\"\"")) || lit(b, ",\"call_id\":") ||
           qstr(b, it->call_id) || lit(b, ",\"name\":") || qtext(b, &it->name) || lit(b, "}");
  }
  return -1;
}

static int put_usage(struct buf *b, const struct usage *u) {
  long p = u->prompt_tokens > 0 ? u->prompt_tokens : 0;
  long c = u->completion_tokens > 0 ? u->completion_tokens : 0;
  long r = u->reasoning_tokens > 0 ? u->reasoning_tokens : 0;
  return lit(b, "{\"input_tokens\":") || num(b, p) ||
         lit(b, ",\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":") ||
         num(b, c) || lit(b, ",\"output_tokens_details\":{\"reasoning_tokens\":") || num(b, r) ||
         lit(b, "},\"total_tokens\":") || num(b, p + c) || lit(b, "}");
}

/* The response object. status: in_progress, completed, incomplete, failed. */
static int put_response(struct buf *b, const struct resp_state *s, const struct response_meta *m,
                        const char *status, const struct usage *u, const struct oai_error *e) {
  int incomplete = strcmp(status, "incomplete") == 0;
  if (lit(b, "{\"id\":") || qstr(b, m->id) || lit(b, ",\"object\":\"response\",\"created_at\":") ||
      num(b, m->created) || lit(b, ",\"status\":") || qstr(b, status) || lit(b, ",\"error\":"))
    return -1;
  if (e ? lit(b, "{\"code\":") || qstr(b, e->code[0] ? e->code : e->type) ||
              lit(b, ",\"message\":") || qstr(b, e->message) || lit(b, "}")
        : lit(b, "null"))
    return -1;
  if (lit(b, ",\"incomplete_details\":") ||
      lit(b, incomplete ? "{\"reason\":\"max_output_tokens\"}" : "null") ||
      lit(b, ",\"model\":") || qstr(b, m->model) || lit(b, ",\"output\":["))
    return -1;
  for (size_t i = 0; i < s->n; i++)
    if ((i && lit(b, ",")) || put_item(b, m, &s->items[i], i))
      return -1;
  if (lit(b, "],\"parallel_tool_calls\":true,\"store\":") || lit(b, s->store ? "true" : "false") ||
      lit(b, ",\"tool_choice\":\"auto\",\"tools\":[],\"usage\":"))
    return -1;
  return (u ? put_usage(b, u) : lit(b, "null")) || lit(b, "}");
}

/* event: TYPE / data: {"type":TYPE,"sequence_number":N<fields>}; fields
 * starts with a comma. */
static int event(struct resp_state *s, struct buf *out, const char *type, const struct buf *fields) {
  return lit(out, "event: ") || lit(out, type) || lit(out, "\ndata: {\"type\":\"") ||
         lit(out, type) || lit(out, "\",\"sequence_number\":") || num(out, s->seq++) ||
         buf_append(out, fields->data ? fields->data : "", fields->len) || lit(out, "}\n\n");
}

/* Fields naming an item: ,"item_id":..,"output_index":N */
static int item_ref(struct buf *f, const struct response_meta *m, const struct resp_state *s,
                    size_t index) {
  return lit(f, ",\"item_id\":") || item_id(f, m, &s->items[index], index) ||
         lit(f, ",\"output_index\":") || num(f, (long)index);
}

static int item_event(struct resp_state *s, struct buf *out, const struct response_meta *m,
                      const char *type, size_t index) {
  struct buf f = BUF_INIT;
  int rc = lit(&f, ",\"output_index\":") || num(&f, (long)index) || lit(&f, ",\"item\":") ||
           put_item(&f, m, &s->items[index], index) || event(s, out, type, &f);
  buf_free(&f);
  return rc ? -1 : 0;
}

static int response_event(struct resp_state *s, struct buf *out, const struct response_meta *m,
                          const char *type, const char *status, const struct usage *u,
                          const struct oai_error *e) {
  struct buf f = BUF_INIT;
  int rc = lit(&f, ",\"response\":") || put_response(&f, s, m, status, u, e) ||
           event(s, out, type, &f);
  buf_free(&f);
  return rc ? -1 : 0;
}

static struct item *new_item(struct resp_state *s, enum item_kind kind) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    struct item *it = realloc(s->items, cap * sizeof *it);
    if (!it)
      return NULL;
    s->items = it;
    s->cap = cap;
  }
  struct item *it = &s->items[s->n++];
  memset(it, 0, sizeof *it);
  it->kind = kind;
  return it;
}

/* ---- streaming ---- */

/* The open message or reasoning item is complete: its .done events. */
static int close_open(struct resp_state *s, struct buf *out, const struct response_meta *m) {
  if (s->open < 0)
    return 0;
  size_t i = (size_t)s->open;
  struct item *it = &s->items[i];
  s->open = -1;
  it->done = 1;
  struct buf f = BUF_INIT, g = BUF_INIT;
  int rc;
  if (it->kind == IT_MESSAGE)
    rc = item_ref(&f, m, s, i) || lit(&f, ",\"content_index\":0") || buf_append(&g, f.data, f.len) ||
         lit(&f, ",\"text\":") || qtext(&f, &it->text) ||
         event(s, out, "response.output_text.done", &f) ||
         lit(&g, ",\"part\":{\"type\":\"output_text\",\"text\":") || qtext(&g, &it->text) ||
         lit(&g, ",\"annotations\":[]}") || event(s, out, "response.content_part.done", &g);
  else
    rc = item_ref(&f, m, s, i) || lit(&f, ",\"summary_index\":0") || buf_append(&g, f.data, f.len) ||
         lit(&f, ",\"text\":") || qtext(&f, &it->text) ||
         event(s, out, "response.reasoning_summary_text.done", &f) ||
         lit(&g, ",\"part\":{\"type\":\"summary_text\",\"text\":") || qtext(&g, &it->text) ||
         lit(&g, "}") || event(s, out, "response.reasoning_summary_part.done", &g);
  buf_free(&f);
  buf_free(&g);
  return rc || item_event(s, out, m, "response.output_item.done", i) ? -1 : 0;
}

/* A delta for a message or reasoning item, opening one when needed. */
static int delta(struct resp_state *s, struct buf *out, const struct response_meta *m,
                 enum item_kind kind, const char *text, size_t n) {
  if (!n)
    return 0;
  int is_msg = kind == IT_MESSAGE;
  if (s->open < 0 || s->items[s->open].kind != kind) {
    if (close_open(s, out, m) || !new_item(s, kind))
      return -1;
    s->open = (int)(s->n - 1);
    struct buf f = BUF_INIT;
    int rc = item_event(s, out, m, "response.output_item.added", s->n - 1) ||
             item_ref(&f, m, s, s->n - 1) ||
             lit(&f, is_msg ? ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
                              "\"annotations\":[]}"
                            : ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}") ||
             event(s, out,
                   is_msg ? "response.content_part.added" : "response.reasoning_summary_part.added",
                   &f);
    buf_free(&f);
    if (rc)
      return -1;
  }
  size_t i = (size_t)s->open;
  struct buf f = BUF_INIT;
  int rc = buf_append(&s->items[i].text, text, n) || item_ref(&f, m, s, i) ||
           lit(&f, is_msg ? ",\"content_index\":0,\"delta\":" : ",\"summary_index\":0,\"delta\":") ||
           json_quote_append(&f, text, n) ||
           event(s, out, is_msg ? "response.output_text.delta" : "response.reasoning_summary_text.delta",
                 &f);
  buf_free(&f);
  return rc ? -1 : 0;
}

static int r_open(void *st, struct buf *out, const struct response_meta *m, int index) {
  struct resp_state *s = st;
  (void)index;
  return response_event(s, out, m, "response.created", "in_progress", NULL, NULL) ||
                 response_event(s, out, m, "response.in_progress", "in_progress", NULL, NULL)
             ? -1
             : 0;
}

static int r_text(void *st, struct buf *out, const struct response_meta *m, int index,
                  const char *t, size_t n) {
  (void)index;
  return delta(st, out, m, IT_MESSAGE, t, n);
}

static int r_reasoning(void *st, struct buf *out, const struct response_meta *m, int index,
                       const char *t, size_t n) {
  (void)index;
  return delta(st, out, m, IT_REASONING, t, n);
}

static struct item *add_call(struct resp_state *s, const struct tool_call *call) {
  struct item *it = new_item(s, IT_CALL);
  if (!it)
    return NULL;
  size_t idn = strlen(call->id);
  if (idn >= sizeof it->call_id)
    idn = sizeof it->call_id - 1;
  memcpy(it->call_id, call->id, idn);
  it->call_id[idn] = '\0';
  if (buf_append(&it->name, call->name ? call->name : "", call->name ? call->name_len : 0) != 0)
    return NULL;
  return it;
}

static int r_call_start(void *st, struct buf *out, const struct response_meta *m, int index,
                        const struct tool_call *call, int call_index) {
  struct resp_state *s = st;
  (void)index, (void)call_index;
  if (close_open(s, out, m) || !add_call(s, call))
    return -1;
  return item_event(s, out, m, "response.output_item.added", s->n - 1);
}

static int r_call_args(void *st, struct buf *out, const struct response_meta *m, int index,
                       int call_index, const char *frag, size_t n) {
  struct resp_state *s = st;
  (void)index, (void)call_index;
  size_t i = s->n - 1; /* the call just started */
  struct buf f = BUF_INIT;
  int rc = buf_append(&s->items[i].text, frag, n) || item_ref(&f, m, s, i) ||
           lit(&f, ",\"delta\":") || json_quote_append(&f, frag, n) ||
           event(s, out, "response.function_call_arguments.delta", &f);
  buf_free(&f);
  return rc ? -1 : 0;
}

static int r_call_end(void *st, struct buf *out, const struct response_meta *m, int index,
                      int call_index) {
  struct resp_state *s = st;
  (void)index, (void)call_index;
  size_t i = s->n - 1;
  s->items[i].done = 1;
  struct buf f = BUF_INIT;
  int rc = item_ref(&f, m, s, i) || lit(&f, ",\"arguments\":") || qtext(&f, &s->items[i].text) ||
           event(s, out, "response.function_call_arguments.done", &f) ||
           item_event(s, out, m, "response.output_item.done", i);
  buf_free(&f);
  return rc ? -1 : 0;
}

static void set_finish(struct resp_state *s, const char *reason) {
  const char *r = reason ? reason : "stop";
  size_t n = strlen(r) < sizeof s->finish - 1 ? strlen(r) : sizeof s->finish - 1;
  memcpy(s->finish, r, n);
  s->finish[n] = '\0';
}

static int r_finish(void *st, struct buf *out, const struct response_meta *m, int index,
                    const char *finish_reason, const char *stop_sequence) {
  struct resp_state *s = st;
  (void)index, (void)stop_sequence;
  set_finish(s, finish_reason);
  return close_open(s, out, m);
}

static const char *final_status(const struct resp_state *s) {
  return strcmp(s->finish, "length") == 0 ? "incomplete" : "completed";
}

/* Each output item under its id, for a later item_reference. */
static void remember_items(const struct resp_state *s, const struct response_meta *m) {
  for (size_t i = 0; i < s->n; i++) {
    struct buf id = BUF_INIT, item = BUF_INIT;
    if (item_id(&id, m, &s->items[i], i) == 0 && put_item(&item, m, &s->items[i], i) == 0 &&
        id.len >= 2) {
      id.data[id.len - 1] = '\0'; /* drop the quotes */
      response_store_put(s->scope, id.data + 1, item.data, item.len);
    }
    buf_free(&id);
    buf_free(&item);
  }
}

/* The conversation with this answer appended, kept for continuations. */
static void remember(struct resp_state *s, const struct response_meta *m) {
  if (!s->store || !s->history)
    return;
  remember_items(s, m);
  struct buf text = BUF_INIT;
  cJSON *msg = cJSON_CreateObject(), *calls = NULL;
  int bad = !msg || !cJSON_AddStringToObject(msg, "role", "assistant");
  for (size_t i = 0; !bad && i < s->n; i++) {
    const struct item *it = &s->items[i];
    if (it->kind == IT_MESSAGE) {
      bad = buf_append(&text, it->text.data ? it->text.data : "", it->text.len) != 0;
    } else if (it->kind == IT_CALL) {
      if (!calls && !(calls = cJSON_AddArrayToObject(msg, "tool_calls"))) {
        bad = 1;
        break;
      }
      cJSON *c = cJSON_CreateObject(), *fn = cJSON_CreateObject();
      bad = !c || !fn || !cJSON_AddStringToObject(c, "id", it->call_id) ||
            !cJSON_AddStringToObject(c, "type", "function") ||
            !cJSON_AddStringToObject(fn, "name", it->name.data ? it->name.data : "") ||
            !cJSON_AddStringToObject(fn, "arguments", it->text.data ? it->text.data : "") ||
            !cJSON_AddItemToObject(c, "function", fn);
      if (bad) {
        cJSON_Delete(fn);
        cJSON_Delete(c);
      } else if (!cJSON_AddItemToArray(calls, c)) {
        cJSON_Delete(c);
        bad = 1;
      }
    }
  }
  if (!bad)
    bad = !(calls && !text.len ? cJSON_AddNullToObject(msg, "content")
                               : cJSON_AddStringToObject(msg, "content", text.data ? text.data : ""));
  buf_free(&text);
  if (bad || !cJSON_AddItemToArray(s->history, msg)) {
    cJSON_Delete(msg);
    return; /* out of memory: the response is just not continuable */
  }
  char *json = cJSON_PrintUnformatted(s->history);
  if (json)
    response_store_put(s->scope, m->id, json, strlen(json));
  free(json);
}

static int r_end(void *st, struct buf *out, const struct response_meta *m, const struct usage *u) {
  struct resp_state *s = st;
  if (close_open(s, out, m))
    return -1;
  const char *status = final_status(s);
  remember(s, m);
  return response_event(s, out, m,
                        strcmp(status, "completed") == 0 ? "response.completed" : "response.incomplete",
                        status, u, NULL);
}

/* A failure after the first byte: response.failed, never a silent close
 * (Codex reports "stream closed before response.completed"). */
static int r_fail(void *st, struct buf *out, const struct response_meta *m,
                  const struct oai_error *e) {
  struct resp_state *s = st;
  s->open = -1;
  return response_event(s, out, m, "response.failed", "failed", NULL, e);
}

static char *r_whole(void *st, const struct response_meta *m, const struct choice_result *c,
                     size_t n, const struct usage *u) {
  struct resp_state *s = st;
  (void)n; /* always one choice */
  struct item *it;
  if (c->has_reasoning && c->reasoning_len) {
    if (!(it = new_item(s, IT_REASONING)) || buf_append(&it->text, c->reasoning, c->reasoning_len))
      return NULL;
    it->done = 1;
  }
  if (c->content_len || !c->n_tool_calls) {
    if (!(it = new_item(s, IT_MESSAGE)) ||
        buf_append(&it->text, c->content ? c->content : "", c->content_len))
      return NULL;
    it->done = 1;
  }
  for (size_t k = 0; c->tool_calls && k < c->n_tool_calls; k++) {
    const struct tool_call *t = &c->tool_calls[k];
    if (!(it = add_call(s, t)) || buf_append(&it->text, t->arguments ? t->arguments : "",
                                             t->arguments ? t->arguments_len : 0))
      return NULL;
    it->done = 1;
  }
  set_finish(s, c->finish_reason);
  remember(s, m);
  struct buf b = BUF_INIT;
  if (put_response(&b, s, m, final_status(s), u, NULL)) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}

static void r_free(void *st) {
  struct resp_state *s = st;
  for (size_t i = 0; i < s->n; i++) {
    buf_free(&s->items[i].text);
    buf_free(&s->items[i].name);
  }
  free(s->items);
  cJSON_Delete(s->history);
  free(s);
}

static const struct encoder_ops RESPONSES_OPS = {
    .id_prefix = "resp_",
    .call_id_prefix = "call_",
    .open = r_open,
    .text = r_text,
    .reasoning = r_reasoning,
    .call_start = r_call_start,
    .call_args = r_call_args,
    .call_end = r_call_end,
    .finish = r_finish,
    .end = r_end,
    .fail = r_fail,
    .whole = r_whole,
    .free = r_free,
};

int encoder_responses(struct encoder *e, struct cJSON *history, int store, const char *scope) {
  struct resp_state *s = calloc(1, sizeof *s);
  e->ops = &RESPONSES_OPS;
  e->st = s;
  if (!s) {
    cJSON_Delete(history);
    return -1;
  }
  s->open = -1;
  s->history = history;
  s->store = store;
  snprintf(s->scope, sizeof s->scope, "%s", scope);
  return 0;
}
