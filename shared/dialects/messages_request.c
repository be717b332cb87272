#include "messages_request.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"
#include "../response.h"
#include "translate.h"

static const char *const TEXT_BLOCKS[] = {"text", NULL};

/* Chat parameter names in the chat parser's errors -> Anthropic's. */
static const struct param_name NAMES[] = {{"stop", "stop_sequences"}, {NULL, NULL}};

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = get(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int oom(struct oai_error *err) { return req_fail_oom(err); }

static int push(cJSON *msgs, cJSON *m, struct oai_error *err) {
  if (!m || !cJSON_AddItemToArray(msgs, m)) {
    cJSON_Delete(m);
    return oom(err);
  }
  return 0;
}

static cJSON *text_message(const char *role, const char *text) {
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", role) || !cJSON_AddStringToObject(m, "content", text)) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

static int unsupported(struct oai_error *err, const char *param, const char *type) {
  oai_error_set(err, 400, "invalid_request_error", "unsupported_content", param,
                "%s: content of type '%s' is not supported: this model reads text only", param,
                type);
  return -1;
}

/* A tool_result block -> a tool message. */
static int tool_result(cJSON *msgs, const cJSON *b, const char *param, struct oai_error *err) {
  const char *id = str(b, "tool_use_id");
  if (!id) {
    oai_invalid(err, param, "%s.tool_use_id: Field required", param);
    return -1;
  }
  char p[160];
  snprintf(p, sizeof p, "%s.content", param);
  char *text = translate_text(get(b, "content"), TEXT_BLOCKS, p, err);
  if (!text)
    return -1;
  struct buf c = BUF_INIT;
  int bad = (cJSON_IsTrue(get(b, "is_error")) && buf_append_str(&c, "Error: ") != 0) ||
            buf_append_str(&c, text) != 0;
  free(text);
  cJSON *m = bad ? NULL : cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", "tool") ||
      !cJSON_AddStringToObject(m, "tool_call_id", id) ||
      !cJSON_AddStringToObject(m, "content", c.data ? c.data : "")) {
    buf_free(&c);
    cJSON_Delete(m);
    return oom(err);
  }
  buf_free(&c);
  return push(msgs, m, err);
}

/* A tool_use block -> one entry of tool_calls. */
static int tool_use(cJSON *calls, const cJSON *b, const char *param, struct oai_error *err) {
  const char *id = str(b, "id"), *name = str(b, "name");
  if (!id || !name) {
    oai_invalid(err, param, "%s: tool_use needs id and name", param);
    return -1;
  }
  const cJSON *input = get(b, "input");
  char *args = input ? cJSON_PrintUnformatted(input) : strdup("{}");
  cJSON *c = args ? cJSON_CreateObject() : NULL, *fn = c ? cJSON_CreateObject() : NULL;
  int bad = !fn || !cJSON_AddStringToObject(c, "id", id) ||
            !cJSON_AddStringToObject(c, "type", "function") ||
            !cJSON_AddStringToObject(fn, "name", name) ||
            !cJSON_AddStringToObject(fn, "arguments", args) ||
            !cJSON_AddItemToObject(c, "function", fn);
  free(args);
  if (bad) {
    cJSON_Delete(fn);
    cJSON_Delete(c);
    return oom(err);
  }
  return push(calls, c, err);
}

/* One message: text blocks joined; a user's tool results become tool
 * messages first (they answer the previous turn's calls), an assistant's
 * tool_use blocks its tool_calls. */
static int add_message(cJSON *msgs, const cJSON *m, int i, struct oai_error *err) {
  char param[64];
  snprintf(param, sizeof param, "messages.%d", i);
  const char *role = str(m, "role");
  if (!role || (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system"))) {
    oai_invalid(err, param, "%s.role: Input should be 'user' or 'assistant'", param);
    return -1;
  }
  const cJSON *content = get(m, "content");
  if (cJSON_IsString(content))
    return push(msgs, text_message(role, content->valuestring), err);
  if (!cJSON_IsArray(content))
    return req_fail_type(err, param, "a string or an array of content blocks", content);
  struct buf text = BUF_INIT;
  cJSON *calls = cJSON_CreateArray();
  int rc = calls ? 0 : oom(err), j = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, content) {
    if (rc)
      break;
    char bp[128];
    snprintf(bp, sizeof bp, "%s.content.%d", param, j++);
    const char *type = str(b, "type");
    if (!type)
      rc = req_fail_missing(err, bp);
    else if (strcmp(type, "text") == 0)
      rc = buf_append_str(&text, str(b, "text") ? str(b, "text") : "") ? oom(err) : 0;
    else if (strcmp(type, "tool_result") == 0)
      rc = tool_result(msgs, b, bp, err);
    else if (strcmp(type, "tool_use") == 0)
      rc = tool_use(calls, b, bp, err);
    else if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)
      rc = unsupported(err, bp, type);
    /* thinking, redacted_thinking and others: not replayed */
  }
  if (!rc && (text.len || (!cJSON_GetArraySize(calls) && strcmp(role, "user") != 0))) {
    cJSON *tm = text_message(role, text.data ? text.data : "");
    rc = push(msgs, tm, err);
  }
  if (!rc && cJSON_GetArraySize(calls)) {
    int n = cJSON_GetArraySize(msgs);
    cJSON *last = n ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
    const char *lr = last ? str(last, "role") : NULL;
    if (!(text.len && lr && strcmp(lr, "assistant") == 0)) {
      last = cJSON_CreateObject();
      if (!last || !cJSON_AddStringToObject(last, "role", "assistant") ||
          !cJSON_AddNullToObject(last, "content")) {
        cJSON_Delete(last);
        last = NULL;
      }
      rc = push(msgs, last, err);
    }
    if (!rc) {
      cJSON_AddItemToObject(last, "tool_calls", calls);
      calls = NULL;
    }
  }
  cJSON_Delete(calls);
  buf_free(&text);
  return rc;
}

/* A custom (client) tool as a Chat Completions function; server tools
 * (web_search_..., bash_..., ...) are not this model's. */
static int add_tool(cJSON *out, const cJSON *t) {
  const char *type = str(t, "type");
  if (type && strcmp(type, "custom") != 0)
    return 0;
  cJSON *ct = cJSON_CreateObject(), *fn = cJSON_CreateObject();
  int bad = !ct || !fn || !cJSON_AddStringToObject(ct, "type", "function") ||
            translate_copy(fn, t, "name", NULL) || translate_copy(fn, t, "description", NULL) ||
            translate_copy(fn, t, "input_schema", "parameters");
  if (bad || !cJSON_AddItemToObject(ct, "function", fn)) {
    cJSON_Delete(fn);
    cJSON_Delete(ct);
    return -1;
  }
  if (!cJSON_AddItemToArray(out, ct)) {
    cJSON_Delete(ct);
    return -1;
  }
  return 0;
}

static int add_tool_choice(cJSON *chat, const cJSON *root, struct oai_error *err) {
  const cJSON *tc = get(root, "tool_choice");
  if (!req_given(tc))
    return 0;
  const char *type = str(tc, "type");
  static const struct {
    const char *anthropic, *openai;
  } map[] = {{"auto", "auto"}, {"any", "required"}, {"none", "none"}};
  if (cJSON_IsTrue(get(tc, "disable_parallel_tool_use")) &&
      !cJSON_AddFalseToObject(chat, "parallel_tool_calls"))
    return oom(err);
  for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
    if (strcmp(type, map[i].anthropic) == 0)
      return cJSON_AddStringToObject(chat, "tool_choice", map[i].openai) ? 0 : oom(err);
  const char *name = str(tc, "name");
  if (!type || strcmp(type, "tool") != 0 || !name) {
    oai_invalid(err, "tool_choice", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    return -1;
  }
  cJSON *c = cJSON_AddObjectToObject(chat, "tool_choice");
  cJSON *fn = c && cJSON_AddStringToObject(c, "type", "function") ? cJSON_AddObjectToObject(c, "function")
                                                                  : NULL;
  return fn && cJSON_AddStringToObject(fn, "name", name) ? 0 : oom(err);
}

/* thinking {type: enabled | adaptive | disabled} -> an effort, or NULL. */
static const char *thinking_effort(const cJSON *root) {
  const char *type = str(get(root, "thinking"), "type");
  if (!type)
    return NULL;
  return strcmp(type, "disabled") == 0 ? "none" : "medium";
}

static int build_chat(const cJSON *root, cJSON *chat, int count_only, struct oai_error *err) {
  cJSON *msgs = cJSON_AddArrayToObject(chat, "messages");
  if (!msgs)
    return oom(err);
  const cJSON *system = get(root, "system");
  if (req_given(system)) {
    char *text = translate_text(system, TEXT_BLOCKS, "system", err);
    if (!text)
      return -1;
    cJSON *m = text_message("system", text);
    free(text);
    if (push(msgs, m, err))
      return -1;
  }
  const cJSON *messages = get(root, "messages");
  if (!req_given(messages))
    return oai_invalid(err, "messages", "messages: Field required"), -1;
  if (!cJSON_IsArray(messages))
    return req_fail_type(err, "messages", "an array", messages);
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, messages) {
    if (add_message(msgs, m, i++, err))
      return -1;
  }
  const cJSON *max = get(root, "max_tokens");
  if (!count_only && !req_given(max))
    return oai_invalid(err, "max_tokens", "max_tokens: Field required"), -1;
  const cJSON *stops = get(root, "stop_sequences");
  if (cJSON_GetArraySize(stops) > CHAT_STOP_MAX) {
    oai_invalid(err, "stop_sequences", "stop_sequences: at most %d are supported", CHAT_STOP_MAX);
    return -1;
  }
  if (translate_copy(chat, root, "model", NULL) ||
      (!count_only && (translate_copy(chat, root, "stream", NULL) ||
                       translate_copy(chat, root, "max_tokens", NULL))) ||
      translate_copy(chat, root, "temperature", NULL) || translate_copy(chat, root, "top_p", NULL) ||
      (cJSON_GetArraySize(stops) > 0 && translate_copy(chat, root, "stop_sequences", "stop")))
    return oom(err);
  if (translate_tools(chat, root, add_tool, err) || add_tool_choice(chat, root, err))
    return -1;
  return translate_thinking(chat, thinking_effort(root)) ? oom(err) : 0;
}

int messages_request_parse(const char *body, size_t len, const char *configured_model,
                           const struct str_list *routes, int count_only,
                           struct chat_request *out, struct oai_error *err) {
  req_init(out);
  cJSON *root = req_parse_object(body, len, err);
  if (!root)
    return -1;
  cJSON *chat = cJSON_CreateObject();
  int rc = -1;
  if (!chat)
    oom(err);
  else if (build_chat(root, chat, count_only, err) == 0)
    rc = translate_to_chat_routed(root, chat, configured_model, routes, NAMES, out, err);
  cJSON_Delete(chat);
  cJSON_Delete(root);
  return rc;
}

/* Anthropic's error types by status; the rest are api_error. */
static const struct {
  int status, as;
  const char *type;
} ERROR_TYPES[] = {
    {400, 400, "invalid_request_error"}, {401, 401, "authentication_error"},
    {403, 403, "permission_error"},      {404, 404, "not_found_error"},
    {413, 413, "request_too_large"},     {429, 429, "rate_limit_error"},
    {503, 529, "overloaded_error"},      {529, 529, "overloaded_error"},
};

char *messages_error_json(const struct oai_error *e, int *status) {
  const char *type = e->status >= 500 ? "api_error" : "invalid_request_error";
  *status = e->status;
  for (size_t i = 0; i < sizeof ERROR_TYPES / sizeof ERROR_TYPES[0]; i++)
    if (ERROR_TYPES[i].status == e->status) {
      type = ERROR_TYPES[i].type;
      *status = ERROR_TYPES[i].as;
    }
  struct buf b = BUF_INIT;
  if (buf_append_str(&b, "{\"type\":\"error\",\"error\":{\"type\":\"") ||
      buf_append_str(&b, type) || buf_append_str(&b, "\",\"message\":") ||
      json_quote_append(&b, e->message, strlen(e->message)) || buf_append_str(&b, "}}")) {
    buf_free(&b);
    return NULL;
  }
  return buf_take(&b);
}
