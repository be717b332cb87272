#include "translate.h"

#include <cJSON.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"

static void rename_param(struct oai_error *err, const struct param_name *names) {
  for (; names && names->chat; names++) {
    size_t n = strlen(names->chat);
    char next = err->param[n];
    if (strncmp(err->param, names->chat, n) == 0 && (next == '\0' || next == '[' || next == '.')) {
      snprintf(err->param, sizeof err->param, "%s", names->dialect);
      return;
    }
  }
}

int translate_to_chat(const cJSON *chat, const char *configured_model,
                      const struct param_name *names, struct chat_request *out,
                      struct oai_error *err) {
  char *text = cJSON_PrintUnformatted(chat);
  if (!text) {
    req_init(out);
    return req_fail_oom(err);
  }
  /* Dialects have no `n`: one choice, whatever max_n allows. */
  int rc = chat_request_parse(text, strlen(text), configured_model, 1, out, err);
  free(text);
  if (rc != 0)
    rename_param(err, names);
  return rc;
}

/* A routed name (claude-*) is asked of the configured model: 1 routed, 0
 * not, -1 out of memory. */
static int route_model(cJSON *chat, const char *configured_model, const struct str_list *routes) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(chat, "model");
  const char *model = cJSON_IsString(m) ? m->valuestring : NULL;
  for (size_t i = 0; model && routes && i < routes->n; i++) {
    if (fnmatch(routes->items[i], model, 0) == 0) {
      cJSON *v = cJSON_CreateString(configured_model);
      return v && cJSON_ReplaceItemInObjectCaseSensitive(chat, "model", v) ? 1 : -1;
    }
  }
  return 0;
}

int translate_to_chat_routed(const cJSON *root, cJSON *chat, const char *configured_model,
                             const struct str_list *routes, const struct param_name *names,
                             struct chat_request *out, struct oai_error *err) {
  int routed = route_model(chat, configured_model, routes);
  if (routed < 0) {
    req_init(out);
    return req_fail_oom(err);
  }
  if (translate_to_chat(chat, configured_model, names, out, err) != 0)
    return -1;
  const cJSON *asked = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (routed && cJSON_IsString(asked)) { /* answer with the name the client used */
    char *name = strdup(asked->valuestring);
    if (!name) {
      chat_request_free(out);
      return req_fail_oom(err);
    }
    free(out->model);
    out->model = name;
  }
  return 0;
}

static int tools_in_play(const cJSON *chat) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(chat, "tools");
  const cJSON *choice = cJSON_GetObjectItemCaseSensitive(chat, "tool_choice");
  if (cJSON_GetArraySize(tools) == 0)
    return 0;
  return !(cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0);
}

int translate_thinking(cJSON *chat, const char *effort) {
  if (tools_in_play(chat))
    effort = "none";
  if (!effort)
    return 0;
  return cJSON_AddStringToObject(chat, "reasoning_effort", effort) ? 0 : -1;
}

int translate_tools(cJSON *chat, const cJSON *root, translate_tool_fn add, struct oai_error *err) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (!req_given(tools))
    return 0;
  if (!cJSON_IsArray(tools))
    return req_fail_type(err, "tools", "an array", tools);
  cJSON *out = cJSON_AddArrayToObject(chat, "tools");
  if (!out)
    return req_fail_oom(err);
  const cJSON *t;
  cJSON_ArrayForEach(t, tools) {
    if (add(out, t) != 0)
      return req_fail_oom(err);
  }
  return 0;
}

int translate_copy(cJSON *dst, const cJSON *src, const char *key, const char *as) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
  if (!req_given(v))
    return 0;
  cJSON *copy = cJSON_Duplicate(v, 1);
  if (!copy || !cJSON_AddItemToObject(dst, as ? as : key, copy)) {
    cJSON_Delete(copy);
    return -1;
  }
  return 0;
}

static int is_text_type(const char *type, const char *const *types) {
  for (; *types; types++)
    if (strcmp(type, *types) == 0)
      return 1;
  return 0;
}

static char *dup_or_fail(const char *s, struct oai_error *err) {
  char *d = strdup(s);
  if (!d)
    req_fail_oom(err);
  return d;
}

char *translate_text(const cJSON *v, const char *const *text_types, const char *param,
                     struct oai_error *err) {
  if (!req_given(v))
    return dup_or_fail("", err);
  if (cJSON_IsString(v))
    return dup_or_fail(v->valuestring, err);
  if (!cJSON_IsArray(v)) {
    req_fail_type(err, param, "a string or an array of content parts", v);
    return NULL;
  }
  struct buf b = BUF_INIT;
  int i = 0;
  const cJSON *part;
  cJSON_ArrayForEach(part, v) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (!is_text_type(t, text_types) || !cJSON_IsString(text)) {
      oai_error_set(err, 400, "invalid_request_error", "unsupported_content", param,
                    "%s[%d]: content of type '%s' is not supported: this model reads "
                    "text only",
                    param, i, t[0] ? t : "(none)");
      buf_free(&b);
      return NULL;
    }
    if (buf_append_str(&b, text->valuestring) != 0) {
      buf_free(&b);
      req_fail_oom(err);
      return NULL;
    }
    i++;
  }
  return b.data ? buf_take(&b) : dup_or_fail("", err);
}
