#include "responses_request.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response_store.h"
#include "translate.h"

static const char *const TEXT_PARTS[] = {"input_text", "output_text", "text", "refusal", NULL};

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = get(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int oom(struct oai_error *err) { return req_fail_oom(err); }

/* A message with text content; role as given. */
static int add_message(cJSON *msgs, const char *role, char *text, struct oai_error *err) {
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", role) ||
      !cJSON_AddStringToObject(m, "content", text) || !cJSON_AddItemToArray(msgs, m)) {
    cJSON_Delete(m);
    free(text);
    return oom(err);
  }
  free(text);
  return 0;
}

/* The assistant message a function_call joins: the last message when it is
 * the assistant's, else a new one with content null. */
static cJSON *assistant_for_calls(cJSON *msgs) {
  int n = cJSON_GetArraySize(msgs);
  cJSON *last = n ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
  const char *role = last ? str(last, "role") : NULL;
  if (role && strcmp(role, "assistant") == 0)
    return last;
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", "assistant") || !cJSON_AddNullToObject(m, "content") ||
      !cJSON_AddItemToArray(msgs, m)) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

static int add_call(cJSON *msgs, const cJSON *item, const char *param, struct oai_error *err) {
  const char *call_id = str(item, "call_id"), *name = str(item, "name");
  const char *args = str(item, "arguments");
  if (!call_id || !name) {
    oai_invalid(err, param, "a function_call item needs call_id and name");
    return -1;
  }
  cJSON *m = assistant_for_calls(msgs);
  cJSON *calls = m ? cJSON_GetObjectItemCaseSensitive(m, "tool_calls") : NULL;
  if (m && !calls)
    calls = cJSON_AddArrayToObject(m, "tool_calls");
  cJSON *c = calls ? cJSON_CreateObject() : NULL;
  cJSON *fn = c ? cJSON_CreateObject() : NULL;
  if (!fn || !cJSON_AddStringToObject(c, "id", call_id) ||
      !cJSON_AddStringToObject(c, "type", "function") ||
      !cJSON_AddStringToObject(fn, "name", name) ||
      !cJSON_AddStringToObject(fn, "arguments", args ? args : "{}") ||
      !cJSON_AddItemToObject(c, "function", fn)) {
    cJSON_Delete(fn);
    cJSON_Delete(c);
    return oom(err);
  }
  if (!cJSON_AddItemToArray(calls, c)) {
    cJSON_Delete(c);
    return oom(err);
  }
  return 0;
}

static int add_call_output(cJSON *msgs, const cJSON *item, const char *param,
                           struct oai_error *err) {
  const char *call_id = str(item, "call_id");
  if (!call_id) {
    oai_invalid(err, param, "a function_call_output item needs call_id");
    return -1;
  }
  char p[96];
  snprintf(p, sizeof p, "%s.output", param);
  char *text = translate_text(get(item, "output"), TEXT_PARTS, p, err);
  if (!text)
    return -1;
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", "tool") ||
      !cJSON_AddStringToObject(m, "tool_call_id", call_id) ||
      !cJSON_AddStringToObject(m, "content", text) || !cJSON_AddItemToArray(msgs, m)) {
    cJSON_Delete(m);
    free(text);
    return oom(err);
  }
  free(text);
  return 0;
}

static int add_reference(cJSON *msgs, const cJSON *item, int i, const char *scope,
                         struct oai_error *err);

/* depth 1: a stored item a reference resolved to (never another reference). */
static int add_item_at(cJSON *msgs, const cJSON *item, int i, int depth, const char *scope,
                       struct oai_error *err) {
  char param[64];
  snprintf(param, sizeof param, "input[%d]", i);
  if (!cJSON_IsObject(item))
    return req_fail_type(err, param, "an object", item);
  const char *type = str(item, "type");
  if (!type || strcmp(type, "message") == 0) {
    static const char *const roles[] = {"user", "assistant", "system", "developer"};
    const char *role = str(item, "role");
    int ok = 0;
    for (size_t k = 0; role && k < sizeof roles / sizeof roles[0]; k++)
      ok |= strcmp(role, roles[k]) == 0;
    if (!ok) {
      oai_invalid(err, param, "Invalid role '%s': use user, assistant, system or developer",
                  role ? role : "(none)");
      return -1;
    }
    char p[96];
    snprintf(p, sizeof p, "%s.content", param);
    char *text = translate_text(get(item, "content"), TEXT_PARTS, p, err);
    return text ? add_message(msgs, role, text, err) : -1;
  }
  if (strcmp(type, "function_call") == 0)
    return add_call(msgs, item, param, err);
  if (strcmp(type, "function_call_output") == 0)
    return add_call_output(msgs, item, param, err);
  if (strcmp(type, "item_reference") == 0 && depth == 0)
    return add_reference(msgs, item, i, scope, err);
  return 0; /* reasoning (not replayed), hosted tool items */
}

/* An output item this proxy stored is replayed as it was; others are
 * skipped (the client may hold ids of another server's items). */
static int add_reference(cJSON *msgs, const cJSON *item, int i, const char *scope,
                         struct oai_error *err) {
  const char *id = str(item, "id");
  int no_memory = 0;
  char *json = id ? response_store_get(scope, id, &no_memory) : NULL;
  if (!json)
    return no_memory ? oom(err) : 0;
  cJSON *stored = cJSON_Parse(json);
  free(json);
  int rc = stored ? add_item_at(msgs, stored, i, 1, scope, err) : 0;
  cJSON_Delete(stored);
  return rc;
}

/* The previous response's messages, then this input. */
static int build_history(const cJSON *root, cJSON *msgs, const char *scope,
                         struct oai_error *err) {
  const cJSON *prev = get(root, "previous_response_id");
  if (req_given(prev)) {
    if (!cJSON_IsString(prev))
      return req_fail_type(err, "previous_response_id", "a string", prev);
    int no_memory;
    char *json = response_store_get(scope, prev->valuestring, &no_memory);
    if (!json) {
      if (no_memory)
        return oom(err);
      oai_error_set(err, 404, "invalid_request_error", "previous_response_not_found",
                    "previous_response_id", "Previous response with id '%s' not found.",
                    prev->valuestring);
      return -1;
    }
    cJSON *old = cJSON_Parse(json);
    free(json);
    cJSON *m;
    while (old && (m = cJSON_DetachItemFromArray(old, 0)))
      cJSON_AddItemToArray(msgs, m);
    cJSON_Delete(old);
  }
  const cJSON *input = get(root, "input");
  if (!req_given(input))
    return req_fail_missing(err, "input");
  if (cJSON_IsString(input)) {
    char *text = strdup(input->valuestring);
    return text ? add_message(msgs, "user", text, err) : oom(err);
  }
  if (!cJSON_IsArray(input))
    return req_fail_type(err, "input", "a string or an array of items", input);
  int i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, input) {
    if (add_item_at(msgs, item, i++, 0, scope, err) != 0)
      return -1;
  }
  return 0;
}

/* A flat function tool {type, name, description, parameters, strict} as a
 * Chat Completions tool. */
static int add_function_tool(cJSON *tools, const cJSON *t) {
  cJSON *ct = cJSON_CreateObject(), *fn = cJSON_CreateObject();
  int bad = !ct || !fn || !cJSON_AddStringToObject(ct, "type", "function") ||
            translate_copy(fn, t, "name", NULL) || translate_copy(fn, t, "description", NULL) ||
            translate_copy(fn, t, "parameters", NULL) || translate_copy(fn, t, "strict", NULL);
  if (bad || !cJSON_AddItemToObject(ct, "function", fn)) {
    cJSON_Delete(fn);
    cJSON_Delete(ct);
    return -1;
  }
  if (!cJSON_AddItemToArray(tools, ct)) {
    cJSON_Delete(ct);
    return -1;
  }
  return 0;
}

/* Function tools, and the functions inside a namespace; hosted tools are
 * not this model's to run. */
static int add_tool(cJSON *out, const cJSON *t) {
  const char *type = str(t, "type");
  if (type && strcmp(type, "function") == 0)
    return add_function_tool(out, t);
  if (type && strcmp(type, "namespace") == 0) {
    const cJSON *inner;
    cJSON_ArrayForEach(inner, get(t, "tools")) {
      const char *it = str(inner, "type");
      if ((!it || strcmp(it, "function") == 0) && add_function_tool(out, inner) != 0)
        return -1;
    }
  }
  return 0;
}

static int add_tool_choice(cJSON *chat, const cJSON *root) {
  const cJSON *tc = get(root, "tool_choice");
  if (!req_given(tc))
    return 0;
  if (cJSON_IsString(tc))
    return translate_copy(chat, root, "tool_choice", NULL);
  const char *type = str(tc, "type"), *name = str(tc, "name");
  if (!type || strcmp(type, "function") != 0 || !name)
    return 0; /* a hosted tool or allowed_tools: auto */
  cJSON *c = cJSON_AddObjectToObject(chat, "tool_choice");
  cJSON *fn = c && cJSON_AddStringToObject(c, "type", "function")
                  ? cJSON_AddObjectToObject(c, "function")
                  : NULL;
  return fn && cJSON_AddStringToObject(fn, "name", name) ? 0 : -1;
}

/* text.format -> response_format. */
static int add_format(cJSON *chat, const cJSON *root, struct oai_error *err) {
  const cJSON *fmt = get(get(root, "text"), "format");
  if (!req_given(fmt))
    return 0;
  const char *type = str(fmt, "type");
  if (!type) {
    oai_invalid(err, "text.format.type", "text.format needs a type");
    return -1;
  }
  if (strcmp(type, "text") == 0)
    return 0;
  cJSON *rf = cJSON_AddObjectToObject(chat, "response_format");
  if (!rf || !cJSON_AddStringToObject(rf, "type", type))
    return oom(err);
  if (strcmp(type, "json_schema") != 0)
    return 0; /* json_object, or an unknown type the chat parser names */
  cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
  if (!js || translate_copy(js, fmt, "name", NULL) || translate_copy(js, fmt, "schema", NULL) ||
      translate_copy(js, fmt, "strict", NULL) || translate_copy(js, fmt, "description", NULL))
    return oom(err);
  return 0;
}

static int build_chat(const cJSON *root, cJSON *chat, const cJSON *history,
                      struct oai_error *err) {
  const cJSON *instr = get(root, "instructions");
  cJSON *msgs = cJSON_AddArrayToObject(chat, "messages");
  if (!msgs)
    return oom(err);
  if (req_given(instr)) {
    if (!cJSON_IsString(instr))
      return req_fail_type(err, "instructions", "a string", instr);
    char *text = strdup(instr->valuestring);
    if (!text || add_message(msgs, "system", text, err) != 0)
      return oom(err);
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, history) {
    cJSON *copy = cJSON_Duplicate(m, 1);
    if (!copy || !cJSON_AddItemToArray(msgs, copy)) {
      cJSON_Delete(copy);
      return oom(err);
    }
  }
  const cJSON *reasoning = get(root, "reasoning");
  const char *effort = str(reasoning, "effort");
  if (translate_copy(chat, root, "model", NULL) || translate_copy(chat, root, "stream", NULL) ||
      translate_copy(chat, root, "max_output_tokens", "max_tokens") ||
      translate_copy(chat, root, "temperature", NULL) ||
      translate_copy(chat, root, "top_p", NULL) ||
      translate_copy(chat, root, "parallel_tool_calls", NULL))
    return oom(err);
  if (translate_tools(chat, root, add_tool, err) != 0)
    return -1;
  if (add_tool_choice(chat, root) != 0 || translate_thinking(chat, effort) != 0)
    return oom(err);
  return add_format(chat, root, err);
}

int responses_request_parse(const char *body, size_t len, const char *configured_model,
                            const struct str_list *routes, const char *scope,
                            struct responses_request *out, struct oai_error *err) {
  memset(out, 0, sizeof *out);
  req_init(&out->chat);
  out->store = 1;
  cJSON *root = req_parse_object(body, len, err);
  if (!root)
    return -1;
  cJSON *chat = cJSON_CreateObject();
  out->history = cJSON_CreateArray();
  int rc = -1;
  if (!chat || !out->history) {
    oom(err);
    goto done;
  }
  if (req_get_bool(root, "store", "store", &out->store, err) != 0 ||
      build_history(root, out->history, scope, err) != 0 ||
      build_chat(root, chat, out->history, err) != 0)
    goto done;
  static const struct param_name names[] = {
      {"max_tokens", "max_output_tokens"}, {"response_format", "text.format"},
      {"reasoning_effort", "reasoning.effort"}, {"messages", "input"}, {NULL, NULL}};
  chat_request_free(&out->chat);
  rc = translate_to_chat_routed(root, chat, configured_model, routes, names, &out->chat, err);
done:
  cJSON_Delete(chat);
  cJSON_Delete(root);
  if (rc != 0)
    responses_request_free(out);
  return rc;
}

void responses_request_free(struct responses_request *r) {
  chat_request_free(&r->chat);
  cJSON_Delete(r->history);
  r->history = NULL;
}
