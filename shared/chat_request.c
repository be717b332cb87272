#include "chat_request.h"

#include <cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_scan.h"
#include "num_text.h"
#include "response.h"

/* Error texts follow OpenAI's wording so clients and people recognise them. */

#define PARSE_HINT                                                             \
  "We could not parse the JSON body of your request. (HINT: This likely "      \
  "means you aren't using your HTTP library correctly. The API expects a "     \
  "JSON payload, but what was sent was not valid JSON.)"

#define TEXT_ONLY "deepseek-v3.1 on Replicate accepts text only"

/* Largest max_tokens accepted: cJSON prints numbers up to INT_MAX as
 * integers, and no context is anywhere near this anyway. */
#define MAX_TOKENS_LIMIT INT32_MAX

static const char *const role_names[] = {
    [ROLE_SYSTEM] = "system",       [ROLE_DEVELOPER] = "developer",
    [ROLE_USER] = "user",           [ROLE_ASSISTANT] = "assistant",
    [ROLE_TOOL] = "tool",           [ROLE_FUNCTION] = "function",
};
#define N_ROLES (sizeof role_names / sizeof role_names[0])

/* Content part types. `field` holds the text; media parts are refused
 * because the model takes one text prompt. */
enum part_kind { PART_TEXT, PART_REFUSAL, PART_MEDIA };
static const struct {
  const char *type;
  enum part_kind kind;
  const char *field;
} part_types[] = {
    {"text", PART_TEXT, "text"},       {"refusal", PART_REFUSAL, "refusal"},
    {"image_url", PART_MEDIA, NULL},   {"input_audio", PART_MEDIA, NULL},
    {"file", PART_MEDIA, NULL},
};
#define N_PART_TYPES (sizeof part_types / sizeof part_types[0])

/* ---- error helpers ------------------------------------------------------ */

int req_fail_oom(struct oai_error *err) {
  oai_error_set(err, 500, "server_error", NULL, NULL, "Out of memory.");
  return -1;
}

/* "messages[i]" + suffix into out, cut to fit. Built by hand: each message
 * names a few paths (for errors it might report) and snprintf cost ~750
 * instructions each, 3k a message. */
static void message_path(char *out, size_t cap, size_t i, const char *suffix) {
  char digits[NUM_DEC_MAX];
  size_t nd = (size_t)(num_u64(digits, i) - digits);
  struct { const char *s; size_t n; } part[] = {
      {"messages[", 9}, {digits, nd}, {"]", 1}, {suffix, strlen(suffix)}};
  size_t used = 0;
  for (size_t k = 0; k < sizeof part / sizeof part[0]; k++) {
    size_t n = part[k].n < cap - 1 - used ? part[k].n : cap - 1 - used;
    memcpy(out + used, part[k].s, n);
    used += n;
  }
  out[used] = '\0';
}

static const char *type_name(const cJSON *v) {
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsBool(v))
    return "a boolean";
  if (cJSON_IsNull(v))
    return "null";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsArray(v))
    return "an array";
  if (cJSON_IsObject(v))
    return "an object";
  return "an unknown type";
}

int req_fail_type(struct oai_error *err, const char *param,
                  const char *expected, const cJSON *got) {
  oai_invalid(err, param,
              "Invalid type for '%s': expected %s, but got %s instead.", param,
              expected, type_name(got));
  return -1;
}

int req_fail_missing(struct oai_error *err, const char *param) {
  oai_invalid(err, param, "Missing required parameter: '%s'.", param);
  return -1;
}

/* ---- scalar fields ------------------------------------------------------ */

static const cJSON *field(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Absent and null both mean "not given" for every optional field. */
int req_given(const cJSON *v) { return v && !cJSON_IsNull(v); }

/* The body's members the parsers read, found in one pass over its members:
 * a cJSON lookup per field walked every member with strcmp (~2k
 * instructions a request for two dozen fields, nearly all absent). The
 * first of duplicate keys wins, as with cJSON_GetObjectItemCaseSensitive. */
enum root_key {
  K_MESSAGES, K_MAX_COMPLETION_TOKENS, K_MAX_TOKENS, K_N, K_SEED,
  K_TEMPERATURE, K_TOP_P, K_PRESENCE_PENALTY, K_FREQUENCY_PENALTY, K_STREAM,
  K_STREAM_OPTIONS, K_STOP, K_LOGIT_BIAS, K_LOGPROBS, K_TOP_LOGPROBS, K_TOOLS,
  K_FUNCTIONS, K_TOOL_CHOICE, K_FUNCTION_CALL, K_PARALLEL_TOOL_CALLS,
  K_RESPONSE_FORMAT, K_REASONING_EFFORT, N_ROOT_KEYS
};
static const struct {
  const char *name;
  size_t len;
} root_keys[N_ROOT_KEYS] = {
#define RK(k, name) [k] = {name, sizeof name - 1}
    RK(K_MESSAGES, "messages"),
    RK(K_MAX_COMPLETION_TOKENS, "max_completion_tokens"),
    RK(K_MAX_TOKENS, "max_tokens"),
    RK(K_N, "n"),
    RK(K_SEED, "seed"),
    RK(K_TEMPERATURE, "temperature"),
    RK(K_TOP_P, "top_p"),
    RK(K_PRESENCE_PENALTY, "presence_penalty"),
    RK(K_FREQUENCY_PENALTY, "frequency_penalty"),
    RK(K_STREAM, "stream"),
    RK(K_STREAM_OPTIONS, "stream_options"),
    RK(K_STOP, "stop"),
    RK(K_LOGIT_BIAS, "logit_bias"),
    RK(K_LOGPROBS, "logprobs"),
    RK(K_TOP_LOGPROBS, "top_logprobs"),
    RK(K_TOOLS, "tools"),
    RK(K_FUNCTIONS, "functions"),
    RK(K_TOOL_CHOICE, "tool_choice"),
    RK(K_FUNCTION_CALL, "function_call"),
    RK(K_PARALLEL_TOOL_CALLS, "parallel_tool_calls"),
    RK(K_RESPONSE_FORMAT, "response_format"),
    RK(K_REASONING_EFFORT, "reasoning_effort"),
#undef RK
};

struct root_index {
  const cJSON *v[N_ROOT_KEYS];
};

static void root_index(const cJSON *root, struct root_index *ix) {
  memset(ix, 0, sizeof *ix);
  for (const cJSON *m = root->child; m; m = m->next) {
    if (!m->string)
      continue;
    size_t n = strlen(m->string);
    for (size_t k = 0; k < N_ROOT_KEYS; k++) {
      if (root_keys[k].len == n && memcmp(root_keys[k].name, m->string, n) == 0) {
        if (!ix->v[k])
          ix->v[k] = m;
        break;
      }
    }
  }
}

static int is_integer(double d) {
  if (d != d || d > 1e308 || d < -1e308) /* NaN, infinities */
    return 0;
  /* Beyond 2^53 every double is a whole number (and casting could
   * overflow), so only smaller values need the round trip. */
  if (d >= 9007199254740992.0 || d <= -9007199254740992.0)
    return 1;
  return (double)(long long)d == d;
}

static int check_range(struct oai_error *err, const char *key, double d,
                       double min, double max, const char *what) {
  if (d < min) {
    oai_invalid(err, key,
                "Invalid '%s': %s below minimum value. Expected a value >= %g, "
                "but got %g instead.", key, what, min, d);
    return -1;
  }
  if (d > max) {
    oai_invalid(err, key,
                "Invalid '%s': %s above maximum value. Expected a value <= %g, "
                "but got %g instead.", key, what, max, d);
    return -1;
  }
  return 0;
}

/* Optional integer v (the member `key`) in [min, max]; *present says
 * whether one was given. */
static int int_value(const cJSON *v, const char *key, long min, long max,
                     long *out, int *present, struct oai_error *err) {
  *present = 0;
  if (!req_given(v))
    return 0;
  if (!cJSON_IsNumber(v))
    return req_fail_type(err, key, "an integer", v);
  double d = v->valuedouble;
  if (!is_integer(d)) {
    oai_invalid(err, key, "Invalid type for '%s': expected an integer, but got "
                "a decimal number instead.", key);
    return -1;
  }
  if (check_range(err, key, d, (double)min, (double)max, "integer") != 0)
    return -1;
  /* (double)LONG_MAX rounds up to 2^63, which a cast would overflow. */
  *out = d >= 9.2e18 ? LONG_MAX : d <= -9.2e18 ? LONG_MIN : (long)d;
  *present = 1;
  return 0;
}

int req_get_int(const cJSON *obj, const char *key, long min, long max,
                long *out, int *present, struct oai_error *err) {
  return int_value(field(obj, key), key, min, max, out, present, err);
}

/* Optional number v (the member `key`) in [min, max]; sets `bit` in *has
 * when given. */
static int get_number(const cJSON *v, const char *key, double min,
                      double max, double *out, unsigned bit, unsigned *has,
                      struct oai_error *err) {
  if (!req_given(v))
    return 0;
  if (!cJSON_IsNumber(v))
    return req_fail_type(err, key, "a number", v);
  if (check_range(err, key, v->valuedouble, min, max, "decimal") != 0)
    return -1;
  *out = v->valuedouble;
  *has |= bit;
  return 0;
}

/* Optional boolean v; *out untouched when absent or null. */
static int bool_value(const cJSON *v, const char *param, int *out,
                      struct oai_error *err) {
  if (!req_given(v))
    return 0;
  if (!cJSON_IsBool(v))
    return req_fail_type(err, param, "a boolean", v);
  *out = cJSON_IsTrue(v) ? 1 : 0;
  return 0;
}

int req_get_bool(const cJSON *obj, const char *key, const char *param,
                 int *out, struct oai_error *err) {
  return bool_value(field(obj, key), param, out, err);
}

/* ---- messages ----------------------------------------------------------- */

/* Text of one content part appended to `text`; media and unknown types
 * are refused. */
static int parse_part(const cJSON *part, size_t i, size_t j,
                      enum chat_role role, struct buf *text,
                      struct oai_error *err) {
  char path[128];
  snprintf(path, sizeof path, "messages[%zu].content[%zu]", i, j);
  if (!cJSON_IsObject(part))
    return req_fail_type(err, path, "an object", part);
  char tpath[160];
  snprintf(tpath, sizeof tpath, "%s.type", path);
  const cJSON *type = field(part, "type");
  if (!req_given(type))
    return req_fail_missing(err, tpath);
  if (!cJSON_IsString(type))
    return req_fail_type(err, tpath, "a string", type);
  size_t k = 0;
  while (k < N_PART_TYPES && strcmp(part_types[k].type, type->valuestring) != 0)
    k++;
  /* A refusal is something an assistant said; nobody else has one. */
  if (k == N_PART_TYPES ||
      (part_types[k].kind == PART_REFUSAL && role != ROLE_ASSISTANT)) {
    oai_invalid(err, tpath, "Invalid value: '%s'. Supported values are: "
                "'text'%s.", type->valuestring,
                role == ROLE_ASSISTANT ? " and 'refusal'" : "");
    return -1;
  }
  if (part_types[k].kind == PART_MEDIA) {
    oai_invalid(err, path, TEXT_ONLY ": content parts of type '%s' are not "
                "supported. Send the content as text.", part_types[k].type);
    return -1;
  }
  char fpath[192];
  snprintf(fpath, sizeof fpath, "%s.%s", path, part_types[k].field);
  const cJSON *t = field(part, part_types[k].field);
  if (!req_given(t))
    return req_fail_missing(err, fpath);
  if (!cJSON_IsString(t))
    return req_fail_type(err, fpath, "a string", t);
  if ((j > 0 && buf_append_char(text, '\n') != 0) ||
      buf_append_str(text, t->valuestring) != 0)
    return req_fail_oom(err);
  return 0;
}

static int parse_content(const cJSON *m, size_t i, struct chat_message *msg,
                         struct oai_error *err) {
  const cJSON *c = field(m, "content");
  if (cJSON_IsString(c)) { /* the usual case, which names no path */
    msg->content = strdup(c->valuestring);
    return msg->content ? 0 : req_fail_oom(err);
  }
  char path[128];
  message_path(path, sizeof path, i, ".content");
  if (!req_given(c)) {
    /* Only an assistant (e.g. one that only called tools) or a deprecated
     * function result may say nothing. */
    if (msg->role == ROLE_ASSISTANT || msg->role == ROLE_FUNCTION)
      return 0;
    if (!c)
      return req_fail_missing(err, path);
    return req_fail_type(err, path, "a string or an array of content parts", c);
  }
  if (!cJSON_IsArray(c))
    return req_fail_type(err, path, "a string or an array of content parts", c);
  if (cJSON_GetArraySize(c) == 0) {
    oai_invalid(err, path, "Invalid '%s': empty array. Expected an array with "
                "minimum length 1, but got an empty array instead.", path);
    return -1;
  }
  struct buf text = BUF_INIT;
  size_t j = 0;
  const cJSON *part;
  cJSON_ArrayForEach(part, c) {
    if (parse_part(part, i, j++, msg->role, &text, err) != 0) {
      buf_free(&text);
      return -1;
    }
  }
  msg->content = buf_take(&text);
  return msg->content ? 0 : req_fail_oom(err);
}

/* Optional string member of message i (suffix ".key") copied into *out; the
 * path is written only for an error. */
static int get_string(const cJSON *m, size_t i, const char *suffix,
                      int required, char **out, struct oai_error *err) {
  const cJSON *v = field(m, suffix + 1);
  if (req_given(v) && cJSON_IsString(v)) {
    *out = strdup(v->valuestring);
    return *out ? 0 : req_fail_oom(err);
  }
  if (!req_given(v) && !required)
    return 0;
  char param[128];
  message_path(param, sizeof param, i, suffix);
  if (!req_given(v))
    return req_fail_missing(err, param);
  return req_fail_type(err, param, "a string", v);
}

/* Assistant tool_calls: checked for the fields the prompt renders, then
 * kept as a detached copy. An empty array is the same as none. */
static int parse_tool_calls(const cJSON *m, size_t i, struct chat_message *msg,
                            struct oai_error *err) {
  char path[192];
  message_path(path, sizeof path, i, ".tool_calls");
  const cJSON *tc = field(m, "tool_calls");
  if (!req_given(tc))
    return 0;
  if (!cJSON_IsArray(tc))
    return req_fail_type(err, path, "an array", tc);
  if (cJSON_GetArraySize(tc) == 0)
    return 0;
  size_t k = 0;
  const cJSON *call;
  cJSON_ArrayForEach(call, tc) {
    snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu]", i, k);
    if (!cJSON_IsObject(call))
      return req_fail_type(err, path, "an object", call);
    snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu].function", i, k);
    const cJSON *fn = field(call, "function");
    if (!req_given(fn))
      return req_fail_missing(err, path);
    if (!cJSON_IsObject(fn))
      return req_fail_type(err, path, "an object", fn);
    static const char *const keys[] = {"name", "arguments"};
    for (size_t q = 0; q < sizeof keys / sizeof keys[0]; q++) {
      snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu].function.%s",
               i, k, keys[q]);
      const cJSON *v = field(fn, keys[q]);
      if (!req_given(v))
        return req_fail_missing(err, path);
      if (!cJSON_IsString(v))
        return req_fail_type(err, path, "a string", v);
    }
    k++;
  }
  msg->tool_calls = cJSON_Duplicate(tc, 1);
  return msg->tool_calls ? 0 : req_fail_oom(err);
}

/* The deprecated assistant `function_call` {"name","arguments"} becomes a
 * one-call tool_calls array, so the prompt replays both the same way.
 * tool_calls win when an assistant message has both. */
static int parse_function_call(const cJSON *m, size_t i,
                               struct chat_message *msg,
                               struct oai_error *err) {
  char path[192];
  const cJSON *fc = field(m, "function_call");
  if (!req_given(fc) || msg->tool_calls)
    return 0;
  message_path(path, sizeof path, i, ".function_call");
  if (!cJSON_IsObject(fc))
    return req_fail_type(err, path, "an object", fc);
  static const char *const keys[] = {"name", "arguments"};
  for (size_t q = 0; q < sizeof keys / sizeof keys[0]; q++) {
    snprintf(path, sizeof path, "messages[%zu].function_call.%s", i, keys[q]);
    const cJSON *v = field(fc, keys[q]);
    if (!req_given(v))
      return req_fail_missing(err, path);
    if (!cJSON_IsString(v))
      return req_fail_type(err, path, "a string", v);
  }
  cJSON *calls = cJSON_CreateArray();
  cJSON *call = cJSON_CreateObject();
  cJSON *fn = cJSON_CreateObject();
  if (!calls || !call || !fn ||
      !cJSON_AddStringToObject(call, "type", "function") ||
      !cJSON_AddStringToObject(fn, "name", field(fc, "name")->valuestring) ||
      !cJSON_AddStringToObject(fn, "arguments",
                               field(fc, "arguments")->valuestring)) {
    cJSON_Delete(calls);
    cJSON_Delete(call);
    cJSON_Delete(fn);
    return req_fail_oom(err);
  }
  cJSON_AddItemToObject(call, "function", fn);
  cJSON_AddItemToArray(calls, call);
  msg->tool_calls = calls;
  return 0;
}

static int parse_message(const cJSON *m, size_t i, struct chat_message *msg,
                         struct oai_error *err) {
  /* Paths are written only for an error: each cost ~190 instructions. */
  char path[128];
  if (!cJSON_IsObject(m)) {
    message_path(path, sizeof path, i, "");
    return req_fail_type(err, path, "an object", m);
  }

  const cJSON *role = field(m, "role");
  size_t r = 0;
  if (req_given(role) && cJSON_IsString(role))
    while (r < N_ROLES && strcmp(role_names[r], role->valuestring) != 0)
      r++;
  if (!req_given(role) || !cJSON_IsString(role) || r == N_ROLES)
    message_path(path, sizeof path, i, ".role");
  if (!req_given(role))
    return req_fail_missing(err, path);
  if (!cJSON_IsString(role))
    return req_fail_type(err, path, "a string", role);
  if (r == N_ROLES) {
    oai_invalid(err, path, "Invalid value: '%s'. Supported values are: "
                "'system', 'developer', 'user', 'assistant', 'tool', and "
                "'function'.", role->valuestring);
    return -1;
  }
  msg->role = (enum chat_role)r;

  if (parse_content(m, i, msg, err) != 0)
    return -1;
  if (get_string(m, i, ".name", msg->role == ROLE_FUNCTION, &msg->name,
                 err) != 0)
    return -1;
  if (msg->role == ROLE_TOOL &&
      get_string(m, i, ".tool_call_id", 1, &msg->tool_call_id, err) != 0)
    return -1;
  /* reasoning_content on assistants is accepted and dropped: V3.1 never
   * replays old reasoning. */
  if (msg->role == ROLE_ASSISTANT &&
      (parse_tool_calls(m, i, msg, err) != 0 ||
       parse_function_call(m, i, msg, err) != 0))
    return -1;
  return 0;
}

static int parse_messages(const cJSON *msgs, struct chat_request *out,
                          struct oai_error *err) {
  if (!req_given(msgs))
    return req_fail_missing(err, "messages");
  if (!cJSON_IsArray(msgs))
    return req_fail_type(err, "messages", "an array", msgs);
  int n = cJSON_GetArraySize(msgs);
  if (n <= 0) {
    oai_invalid(err, "messages", "Invalid 'messages': empty array. Expected an "
                "array with minimum length 1, but got an empty array instead.");
    return -1;
  }
  out->messages = calloc((size_t)n, sizeof *out->messages);
  if (!out->messages)
    return req_fail_oom(err);
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    /* Count first so chat_request_free sees the partly filled message. */
    size_t i = out->n_messages++;
    if (parse_message(m, i, &out->messages[i], err) != 0)
      return -1;
  }
  return 0;
}

/* ---- tools -------------------------------------------------------------- */

/* OpenAI's rule for function and json_schema names:
 * ^[a-zA-Z0-9_-]{1,64}$, with its error wording. */
static int check_name(const char *param, const char *s,
                      struct oai_error *err) {
  size_t n = strlen(s);
  if (n == 0) {
    oai_invalid(err, param, "Invalid '%s': empty string. Expected a string "
                "with minimum length 1, but got an empty string instead.",
                param);
    return -1;
  }
  if (n > 64) {
    oai_invalid(err, param, "Invalid '%s': string too long. Expected a "
                "string with maximum length 64, but got a string with length "
                "%zu instead.", param, n);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      oai_invalid(err, param, "Invalid '%s': string does not match pattern. "
                  "Expected a string that matches the pattern "
                  "'^[a-zA-Z0-9_-]+$'.", param);
      return -1;
    }
  }
  return 0;
}

/* Optional obj[key] of one JSON kind, checked; NULL when not given. */
static int optional_kind(const cJSON *obj, const char *key, const char *base,
                         int (*is_kind)(const cJSON *), const char *expected,
                         const cJSON **out, struct oai_error *err) {
  char p[192];
  const cJSON *v = field(obj, key);
  *out = NULL;
  if (!req_given(v))
    return 0;
  if (!is_kind(v)) {
    snprintf(p, sizeof p, "%s.%s", base, key);
    return req_fail_type(err, p, expected, v);
  }
  *out = v;
  return 0;
}

static int is_string(const cJSON *v) { return cJSON_IsString(v); }
static int is_object(const cJSON *v) { return cJSON_IsObject(v); }
static int is_bool(const cJSON *v) { return cJSON_IsBool(v); }

/* Required string obj[key] (param base.key). */
static const char *required_string(const cJSON *obj, const char *key,
                                   const char *base, struct oai_error *err) {
  char p[192];
  snprintf(p, sizeof p, "%s.%s", base, key);
  const cJSON *v = field(obj, key);
  if (!req_given(v)) {
    req_fail_missing(err, p);
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    req_fail_type(err, p, "a string", v);
    return NULL;
  }
  return v->valuestring;
}

/* Add a copy of src (may be NULL: nothing added) as obj[key]. */
static int add_copy(cJSON *obj, const char *key, const cJSON *src) {
  if (!src)
    return 0;
  cJSON *dup = cJSON_Duplicate(src, 1);
  if (!dup || !cJSON_AddItemToObject(obj, key, dup)) {
    cJSON_Delete(dup);
    return -1;
  }
  return 0;
}

/* One function definition at `path` ({"name","description"?,
 * "parameters"?,"strict"?}) appended to out->tools, normalised to
 * {"type":"function","function":{...}} (unknown keys dropped). */
static int add_function(const cJSON *fn, const char *path,
                        struct chat_request *out, struct oai_error *err) {
  if (!cJSON_IsObject(fn))
    return req_fail_type(err, path, "an object", fn);
  char p[192];
  snprintf(p, sizeof p, "%s.name", path);
  const char *name = required_string(fn, "name", path, err);
  if (!name || check_name(p, name, err) != 0)
    return -1;
  const cJSON *desc, *params, *strict;
  if (optional_kind(fn, "description", path, is_string, "a string", &desc,
                    err) != 0 ||
      optional_kind(fn, "parameters", path, is_object, "an object", &params,
                    err) != 0 ||
      optional_kind(fn, "strict", path, is_bool, "a boolean", &strict,
                    err) != 0)
    return -1;
  cJSON *tool = cJSON_CreateObject();
  cJSON *f = tool && cJSON_AddStringToObject(tool, "type", "function")
                 ? cJSON_AddObjectToObject(tool, "function")
                 : NULL;
  char *copy = strdup(name);
  if (!f || !copy || !cJSON_AddStringToObject(f, "name", name) ||
      add_copy(f, "description", desc) != 0 ||
      add_copy(f, "parameters", params) != 0 ||
      add_copy(f, "strict", strict) != 0 ||
      !cJSON_AddItemToArray(out->tools, tool)) {
    cJSON_Delete(tool);
    free(copy);
    return req_fail_oom(err);
  }
  out->tool_names[out->n_tools++] = copy;
  return 0;
}

/* tools, or the deprecated functions (not both). [] is the same as none. */
static int parse_tools(const struct root_index *ix, struct chat_request *out,
                       struct oai_error *err) {
  const cJSON *tools = ix->v[K_TOOLS], *fns = ix->v[K_FUNCTIONS];
  if (req_given(tools) && !cJSON_IsArray(tools))
    return req_fail_type(err, "tools", "an array", tools);
  if (req_given(fns) && !cJSON_IsArray(fns))
    return req_fail_type(err, "functions", "an array", fns);
  int nt = req_given(tools) ? cJSON_GetArraySize(tools) : 0;
  int nf = req_given(fns) ? cJSON_GetArraySize(fns) : 0;
  if (nt > 0 && nf > 0) {
    oai_invalid(err, "functions", "'functions' and 'tools' cannot both be "
                "given: 'functions' is the deprecated form of 'tools'.");
    return -1;
  }
  if (nt <= 0 && nf <= 0)
    return 0;
  out->tools = cJSON_CreateArray();
  out->tool_names = calloc((size_t)(nt > 0 ? nt : nf), sizeof(char *));
  if (!out->tools || !out->tool_names)
    return req_fail_oom(err);
  char path[64];
  size_t i = 0;
  const cJSON *t;
  if (nf > 0) {
    out->legacy_functions = 1;
    cJSON_ArrayForEach(t, fns) {
      snprintf(path, sizeof path, "functions[%zu]", i++);
      if (add_function(t, path, out, err) != 0)
        return -1;
    }
    return 0;
  }
  cJSON_ArrayForEach(t, tools) {
    snprintf(path, sizeof path, "tools[%zu]", i++);
    if (!cJSON_IsObject(t))
      return req_fail_type(err, path, "an object", t);
    const char *type = required_string(t, "type", path, err);
    if (!type)
      return -1;
    if (strcmp(type, "function") != 0) {
      char p[96];
      snprintf(p, sizeof p, "%s.type", path);
      oai_invalid(err, p, "Invalid value: '%s'. Supported values are: "
                  "'function' (deepseek-v3.1 on Replicate supports function "
                  "tools only).", type);
      return -1;
    }
    char p[96];
    snprintf(p, sizeof p, "%s.function", path);
    const cJSON *fn = field(t, "function");
    if (!req_given(fn))
      return req_fail_missing(err, p);
    if (add_function(fn, p, out, err) != 0)
      return -1;
  }
  return 0;
}

static int find_tool(const struct chat_request *r, const char *name) {
  for (size_t i = 0; i < r->n_tools; i++)
    if (strcmp(r->tool_names[i], name) == 0)
      return (int)i;
  return -1;
}

/* tool_choice allowed_tools: keep only the listed functions. */
static int restrict_tools(const cJSON *list, struct chat_request *out,
                          struct oai_error *err) {
  const char *base = "tool_choice.allowed_tools.tools";
  if (!req_given(list))
    return req_fail_missing(err, base);
  if (!cJSON_IsArray(list))
    return req_fail_type(err, base, "an array", list);
  if (cJSON_GetArraySize(list) == 0) {
    oai_invalid(err, base, "Invalid '%s': empty array. Expected an array with "
                "minimum length 1, but got an empty array instead.", base);
    return -1;
  }
  if (out->n_tools == 0)
    return 0; /* reported by the caller */
  unsigned char *keep = calloc(out->n_tools, 1);
  if (!keep)
    return req_fail_oom(err);
  char path[96];
  size_t i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, list) {
    snprintf(path, sizeof path, "%s[%zu]", base, i++);
    if (!cJSON_IsObject(t)) {
      free(keep);
      return req_fail_type(err, path, "an object", t);
    }
    const cJSON *type = field(t, "type");
    if (req_given(type) &&
        (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0)) {
      char p[112];
      snprintf(p, sizeof p, "%s.type", path);
      free(keep);
      oai_invalid(err, p, "Invalid value: only tools of type 'function' can "
                  "be allowed.");
      return -1;
    }
    /* {"type":"function","function":{"name"}}, or the flat {"name"}. */
    const cJSON *fn = field(t, "function");
    const cJSON *holder = cJSON_IsObject(fn) ? fn : t;
    char p[112];
    snprintf(p, sizeof p, "%s%s", path, holder == fn ? ".function" : "");
    const char *name = required_string(holder, "name", p, err);
    if (!name) {
      free(keep);
      return -1;
    }
    int found = 0;
    for (size_t k = 0; k < out->n_tools; k++)
      if (strcmp(out->tool_names[k], name) == 0)
        keep[k] = 1, found = 1;
    if (!found) {
      free(keep);
      oai_invalid(err, path, "Invalid value for '%s': function '%s' is not "
                  "among the tools offered.", path, name);
      return -1;
    }
  }
  size_t j = 0;
  for (size_t k = 0; k < out->n_tools; k++) {
    if (keep[k])
      out->tool_names[j++] = out->tool_names[k];
    else
      free(out->tool_names[k]);
  }
  for (size_t k = out->n_tools; k-- > 0;)
    if (!keep[k])
      cJSON_DeleteItemFromArray(out->tools, (int)k);
  out->n_tools = j;
  free(keep);
  return 0;
}

/* tool_choice, or the deprecated function_call when it is absent. */
static int parse_tool_choice(const struct root_index *ix, struct chat_request *out,
                             struct oai_error *err) {
  const char *key = "tool_choice";
  const cJSON *tc = ix->v[K_TOOL_CHOICE];
  int legacy = 0;
  if (!req_given(tc)) {
    key = "function_call";
    tc = ix->v[K_FUNCTION_CALL];
    legacy = 1;
  }
  out->tool_choice = out->n_tools ? TOOL_CHOICE_AUTO : TOOL_CHOICE_NONE;
  if (!req_given(tc))
    return 0;
  enum tool_choice choice = TOOL_CHOICE_AUTO;
  const char *named = NULL;
  const cJSON *allowed = NULL;
  if (cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    if (strcmp(s, "none") == 0) {
      choice = TOOL_CHOICE_NONE;
    } else if (strcmp(s, "auto") == 0) {
      choice = TOOL_CHOICE_AUTO;
    } else if (!legacy && strcmp(s, "required") == 0) {
      choice = TOOL_CHOICE_REQUIRED;
    } else {
      oai_invalid(err, key, "Invalid value: '%s'. Supported values are: %s.",
                  s, legacy ? "'none' and 'auto'"
                            : "'none', 'auto', and 'required'");
      return -1;
    }
  } else if (cJSON_IsObject(tc) && legacy) {
    if (!(named = required_string(tc, "name", key, err)))
      return -1;
    choice = TOOL_CHOICE_NAMED;
  } else if (cJSON_IsObject(tc)) {
    const char *type = required_string(tc, "type", key, err);
    if (!type)
      return -1;
    if (strcmp(type, "function") == 0) {
      const cJSON *fn = field(tc, "function");
      if (!req_given(fn))
        return req_fail_missing(err, "tool_choice.function");
      if (!cJSON_IsObject(fn))
        return req_fail_type(err, "tool_choice.function", "an object", fn);
      if (!(named = required_string(fn, "name", "tool_choice.function", err)))
        return -1;
      choice = TOOL_CHOICE_NAMED;
    } else if (strcmp(type, "allowed_tools") == 0) {
      const char *base = "tool_choice.allowed_tools";
      const cJSON *at = field(tc, "allowed_tools");
      if (!req_given(at))
        return req_fail_missing(err, base);
      if (!cJSON_IsObject(at))
        return req_fail_type(err, base, "an object", at);
      const char *mode = required_string(at, "mode", base, err);
      if (!mode)
        return -1;
      if (strcmp(mode, "auto") == 0) {
        choice = TOOL_CHOICE_AUTO;
      } else if (strcmp(mode, "required") == 0) {
        choice = TOOL_CHOICE_REQUIRED;
      } else {
        oai_invalid(err, "tool_choice.allowed_tools.mode", "Invalid value: "
                    "'%s'. Supported values are: 'auto' and 'required'.",
                    mode);
        return -1;
      }
      allowed = field(at, "tools");
      if (restrict_tools(allowed, out, err) != 0)
        return -1;
    } else {
      oai_invalid(err, "tool_choice.type", "Invalid value: '%s'. Supported "
                  "values are: 'function' and 'allowed_tools'.", type);
      return -1;
    }
  } else {
    return req_fail_type(err, key, "a string or an object", tc);
  }
  if (choice != TOOL_CHOICE_NONE && out->n_tools == 0) {
    if (legacy)
      oai_invalid(err, key, "Invalid value for 'function_call': "
                  "'function_call' is only allowed when 'functions' are "
                  "specified.");
    else
      oai_invalid(err, key, "Invalid value for 'tool_choice': 'tool_choice' "
                  "is only allowed when 'tools' are specified.");
    return -1;
  }
  if (named) {
    if (find_tool(out, named) < 0) {
      oai_invalid(err, key, "Invalid value for '%s': function '%s' is not "
                  "among the %s offered.", key, named,
                  out->legacy_functions ? "functions" : "tools");
      return -1;
    }
    if (!(out->tool_choice_name = strdup(named)))
      return req_fail_oom(err);
  }
  out->tool_choice = choice;
  return 0;
}

/* ---- response_format, reasoning_effort ---------------------------------- */

static int parse_json_schema(const cJSON *rf, struct chat_request *out,
                             struct oai_error *err) {
  const char *base = "response_format.json_schema";
  const cJSON *js = field(rf, "json_schema");
  if (!req_given(js))
    return req_fail_missing(err, base);
  if (!cJSON_IsObject(js))
    return req_fail_type(err, base, "an object", js);
  const char *name = required_string(js, "name", base, err);
  if (!name || check_name("response_format.json_schema.name", name, err) != 0)
    return -1;
  const cJSON *desc, *schema, *strict;
  if (optional_kind(js, "description", base, is_string, "a string", &desc,
                    err) != 0 ||
      optional_kind(js, "schema", base, is_object, "an object", &schema,
                    err) != 0 ||
      optional_kind(js, "strict", base, is_bool, "a boolean", &strict,
                    err) != 0)
    return -1;
  out->response_kind = RESPONSE_JSON_SCHEMA;
  out->json_strict = cJSON_IsTrue(strict) ? 1 : 0;
  if (!(out->json_schema_name = strdup(name)) ||
      (desc && !(out->json_schema_description = strdup(desc->valuestring))) ||
      (schema && !(out->json_schema = cJSON_Duplicate(schema, 1))))
    return req_fail_oom(err);
  return 0;
}

static int parse_response_format(const cJSON *rf, struct chat_request *out,
                                 struct oai_error *err) {
  if (!req_given(rf))
    return 0;
  if (!cJSON_IsObject(rf))
    return req_fail_type(err, "response_format", "an object", rf);
  const char *type = required_string(rf, "type", "response_format", err);
  if (!type)
    return -1;
  if (strcmp(type, "text") == 0) {
    out->response_kind = RESPONSE_TEXT;
    return 0;
  }
  if (strcmp(type, "json_object") == 0) {
    out->response_kind = RESPONSE_JSON_OBJECT;
    return 0;
  }
  if (strcmp(type, "json_schema") == 0)
    return parse_json_schema(rf, out, err);
  oai_invalid(err, "response_format.type", "Invalid value: '%s'. Supported "
              "values are: 'text', 'json_object', and 'json_schema'.", type);
  return -1;
}

/* reasoning_effort overrides the alias: none/minimal turn thinking off
 * (even for deepseek-reasoner, the client asked explicitly), every other
 * level turns it on ("medium" is the model's only thinking level). */
static int parse_reasoning_effort(const cJSON *v, struct chat_request *out,
                                  struct oai_error *err) {
  static const struct {
    const char *name;
    int thinking;
  } efforts[] = {{"none", 0},   {"minimal", 0}, {"low", 1}, {"medium", 1},
                 {"high", 1},   {"xhigh", 1},   {"max", 1}};
  if (!req_given(v))
    return 0;
  if (!cJSON_IsString(v))
    return req_fail_type(err, "reasoning_effort", "a string", v);
  for (size_t i = 0; i < sizeof efforts / sizeof efforts[0]; i++) {
    if (strcmp(efforts[i].name, v->valuestring) == 0) {
      out->thinking = efforts[i].thinking;
      return 0;
    }
  }
  oai_invalid(err, "reasoning_effort", "Invalid value: '%s'. Supported values "
              "are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and "
              "'max'.", v->valuestring);
  return -1;
}

/* ---- fields shared with /v1/completions --------------------------------- */

int req_parse_model(const cJSON *root, const char *configured_model,
                    struct chat_request *out, struct oai_error *err) {
  const cJSON *model = field(root, "model");
  if (!req_given(model)) {
    oai_invalid(err, "model", "you must provide a model parameter");
    return -1;
  }
  if (!cJSON_IsString(model))
    return req_fail_type(err, "model", "a string", model);
  out->alias = models_resolve(model->valuestring, configured_model);
  if (!out->alias) {
    oai_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                  "The model `%s` does not exist or you do not have access to "
                  "it.", model->valuestring);
    return -1;
  }
  out->thinking = out->alias->thinking;
  out->model = strdup(model->valuestring);
  return out->model ? 0 : req_fail_oom(err);
}

static int parse_stop(const cJSON *stop, struct chat_request *out,
                      struct oai_error *err) {
  if (!req_given(stop))
    return 0;
  if (cJSON_IsString(stop)) {
    if (!stop->valuestring[0])
      return 0;
    out->stop[0] = strdup(stop->valuestring);
    if (!out->stop[0])
      return req_fail_oom(err);
    out->n_stop = 1;
    return 0;
  }
  if (!cJSON_IsArray(stop))
    return req_fail_type(err, "stop", "a string or an array of strings", stop);
  int n = cJSON_GetArraySize(stop);
  if (n > CHAT_STOP_MAX) {
    oai_invalid(err, "stop", "Invalid 'stop': array too long. Expected an "
                "array with maximum length %d, but got an array with length "
                "%d instead.", CHAT_STOP_MAX, n);
    return -1;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, stop) {
    if (!cJSON_IsString(s))
      return req_fail_type(err, "stop", "a string or an array of strings", s);
    if (!s->valuestring[0])
      continue; /* an empty stop would match everywhere */
    out->stop[out->n_stop] = strdup(s->valuestring);
    if (!out->stop[out->n_stop])
      return req_fail_oom(err);
    out->n_stop++;
  }
  return 0;
}

static int parse_stream(const struct root_index *ix, struct chat_request *out,
                        struct oai_error *err) {
  if (bool_value(ix->v[K_STREAM], "stream", &out->stream, err) != 0)
    return -1;
  const cJSON *so = ix->v[K_STREAM_OPTIONS];
  if (!req_given(so))
    return 0;
  if (!cJSON_IsObject(so))
    return req_fail_type(err, "stream_options", "an object", so);
  if (!out->stream) {
    oai_invalid(err, "stream_options", "The 'stream_options' parameter is only "
                "allowed when 'stream' is enabled.");
    return -1;
  }
  return req_get_bool(so, "include_usage", "stream_options.include_usage",
                      &out->include_usage, err);
}

static int parse_logit_bias(const cJSON *lb, struct oai_error *err) {
  if (!req_given(lb))
    return 0;
  if (!cJSON_IsObject(lb))
    return req_fail_type(err, "logit_bias", "an object", lb);
  if (lb->child) {
    oai_invalid(err, "logit_bias", "'logit_bias' is not supported: "
                "deepseek-v3.1 on Replicate has no logit bias input.");
    return -1;
  }
  return 0;
}

/* Each choice is one prediction: the operator's max_n bounds the cost of
 * one request. */
static int check_n(long n, long max_n, struct oai_error *err) {
  if (max_n > 0 && n > max_n) {
    oai_invalid(err, "n", "Invalid 'n': %ld is greater than this proxy's "
                "maximum of %ld (max_n). Each choice is one prediction; ask "
                "for at most %ld.", n, max_n, max_n);
    return -1;
  }
  return 0;
}

static int parse_numbers(const struct root_index *ix, unsigned flags, long max_n,
                         struct chat_request *out, struct oai_error *err) {
  long mct = 0, mt = 0, n = 1, seed = 0;
  int has_mct = 0, has_mt, has_n, has_seed;
  if (((flags & REQ_CHAT) &&
       int_value(ix->v[K_MAX_COMPLETION_TOKENS], "max_completion_tokens", 1,
                 MAX_TOKENS_LIMIT, &mct, &has_mct, err) != 0) ||
      int_value(ix->v[K_MAX_TOKENS], "max_tokens", 1, MAX_TOKENS_LIMIT, &mt,
                &has_mt, err) != 0 ||
      int_value(ix->v[K_N], "n", 1, 128, &n, &has_n, err) != 0 ||
      int_value(ix->v[K_SEED], "seed", LONG_MIN, LONG_MAX, &seed, &has_seed,
                err) != 0 ||
      check_n(n, max_n, err) != 0)
    return -1;
  if (has_mct || has_mt) {
    /* max_completion_tokens supersedes the deprecated max_tokens. */
    out->max_tokens = has_mct ? mct : mt;
    out->has |= HAS_MAX_TOKENS;
  }
  out->n = (int)n;
  if (get_number(ix->v[K_TEMPERATURE], "temperature", 0, 2, &out->temperature,
                 HAS_TEMPERATURE, &out->has, err) != 0 ||
      get_number(ix->v[K_TOP_P], "top_p", 0, 1, &out->top_p, HAS_TOP_P,
                 &out->has, err) != 0 ||
      get_number(ix->v[K_PRESENCE_PENALTY], "presence_penalty", -2, 2,
                 &out->presence_penalty, HAS_PRESENCE_PENALTY, &out->has,
                 err) != 0 ||
      get_number(ix->v[K_FREQUENCY_PENALTY], "frequency_penalty", -2, 2,
                 &out->frequency_penalty, HAS_FREQUENCY_PENALTY, &out->has,
                 err) != 0)
    return -1;
  return 0;
}

static int parse_sampling(const struct root_index *ix, unsigned flags,
                          long max_n, struct chat_request *out,
                          struct oai_error *err) {
  if (parse_numbers(ix, flags, max_n, out, err) != 0 ||
      parse_stream(ix, out, err) != 0 || parse_stop(ix->v[K_STOP], out, err) != 0 ||
      parse_logit_bias(ix->v[K_LOGIT_BIAS], err) != 0)
    return -1;
  return 0;
}

int req_parse_sampling(const cJSON *root, unsigned flags, long max_n,
                       struct chat_request *out, struct oai_error *err) {
  struct root_index ix;
  root_index(root, &ix);
  return parse_sampling(&ix, flags, max_n, out, err);
}

/* Chat's logprobs is a boolean: refusing is honest, silently ignoring it
 * would not be (the model on Replicate returns no log probabilities). */
static int parse_logprobs(const struct root_index *ix, struct oai_error *err) {
  int logprobs = 0;
  if (bool_value(ix->v[K_LOGPROBS], "logprobs", &logprobs, err) != 0)
    return -1;
  if (logprobs) {
    oai_invalid(err, "logprobs", "'logprobs' is not supported: the model on "
                "Replicate returns no log probabilities.");
    return -1;
  }
  if (req_given(ix->v[K_TOP_LOGPROBS])) {
    oai_invalid(err, "top_logprobs", "'top_logprobs' is not supported: the "
                "model on Replicate returns no log probabilities.");
    return -1;
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------- */

void req_init(struct chat_request *r) {
  memset(r, 0, sizeof *r);
  r->n = 1;
  r->parallel_tool_calls = 1;
  r->tool_choice = TOOL_CHOICE_NONE;
}

/* cJSON stops at the end of the first value; OpenAI rejects trailing
 * garbage, so anything but whitespace after it is a parse error. */
cJSON *req_parse_object(const char *body, size_t len, struct oai_error *err) {
  /* cJSON passes invalid UTF-8 through and cuts strings at \u0000. */
  if (json_scan(body, len, err) != 0)
    return NULL;
  const char *end = NULL;
  cJSON *root = body && len ? cJSON_ParseWithLengthOpts(body, len, &end, 0)
                            : NULL;
  for (; root && end && end < body + len; end++) {
    if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
      cJSON_Delete(root);
      root = NULL;
    }
  }
  if (!root) {
    oai_invalid(err, NULL, PARSE_HINT);
    return NULL;
  }
  if (!cJSON_IsObject(root)) {
    oai_invalid(err, NULL, "Invalid type for the request body: expected an "
                "object, but got %s instead.", type_name(root));
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

int chat_request_tools_active(const struct chat_request *r) {
  return r && r->n_tools > 0 && r->tool_choice != TOOL_CHOICE_NONE;
}

int chat_request_parse(const char *body, size_t len,
                       const char *configured_model, long max_n,
                       struct chat_request *out, struct oai_error *err) {
  req_init(out);
  cJSON *root = req_parse_object(body, len, err);
  if (!root)
    return -1;
  int rc = -1;
  struct root_index ix;
  root_index(root, &ix);
  if (req_parse_model(root, configured_model, out, err) != 0 ||
      parse_messages(ix.v[K_MESSAGES], out, err) != 0 ||
      parse_sampling(&ix, REQ_CHAT, max_n, out, err) != 0 ||
      parse_logprobs(&ix, err) != 0 || parse_tools(&ix, out, err) != 0 ||
      parse_tool_choice(&ix, out, err) != 0 ||
      bool_value(ix.v[K_PARALLEL_TOOL_CALLS], "parallel_tool_calls",
                 &out->parallel_tool_calls, err) != 0 ||
      parse_response_format(ix.v[K_RESPONSE_FORMAT], out, err) != 0 ||
      parse_reasoning_effort(ix.v[K_REASONING_EFFORT], out, err) != 0)
    goto done;
  /* Everything else (user, metadata, store, unknown keys...) is accepted
   * and ignored. */
  rc = 0;
done:
  cJSON_Delete(root);
  if (rc != 0)
    chat_request_free(out);
  return rc;
}

void chat_request_free(struct chat_request *r) {
  if (!r)
    return;
  free(r->model);
  for (size_t i = 0; i < r->n_messages; i++) {
    struct chat_message *m = &r->messages[i];
    free(m->content);
    free(m->name);
    free(m->tool_call_id);
    cJSON_Delete(m->tool_calls);
  }
  free(r->messages);
  for (size_t i = 0; i < r->n_stop; i++)
    free(r->stop[i]);
  cJSON_Delete(r->tools);
  for (size_t i = 0; i < r->n_tools; i++)
    free(r->tool_names[i]);
  free(r->tool_names);
  free(r->tool_choice_name);
  cJSON_Delete(r->json_schema);
  free(r->json_schema_name);
  free(r->json_schema_description);
  memset(r, 0, sizeof *r);
}

/* A number as cJSON_PrintUnformatted writes it (cJSON 1.7.15's
 * print_number), so the body is the same text it was when built as a tree:
 * %.15g when that reads back within an epsilon of the value, else %.17g.
 * A whole number below 1e15 is its digits either way (-0 is not: "-0"). */
static int put_cjson_number(struct buf *b, double d) {
  char t[NUM_G_MAX];
  if (isnan(d) || isinf(d))
    return buf_append(b, "null", 4);
  if (fabs(d) < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d)))
    return buf_append(b, t, (size_t)(num_i64(t, (int64_t)d) - t));
  size_t n = num_g(t, d, 15);
  double back = strtod(t, NULL);
  double most = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
  if (!(fabs(back - d) <= most * DBL_EPSILON))
    n = num_g(t, d, 17);
  return buf_append(b, t, n);
}

char *chat_request_prediction_body(const struct chat_request *r,
                                   const char *prompt) {
  /* Only inputs the model's schema declares (replicate-api.md §7):
   * Replicate rejects unknown keys. Each optional one only when given, so
   * the model's own defaults apply otherwise. Written as text: a cJSON tree
   * and its print were ~3k instructions a request. The prompt's strings
   * came through cJSON from a body json_scan found valid UTF-8, so
   * json_quote_append (which would repair invalid UTF-8) writes what cJSON
   * wrote: the same escapes, other bytes as they are. */
  const struct {
    unsigned bit;
    const char *key; /* with its quotes, comma and colon */
    double value;
  } numbers[] = {
      {HAS_TEMPERATURE, ",\"temperature\":", r->temperature},
      {HAS_TOP_P, ",\"top_p\":", r->top_p},
      {HAS_PRESENCE_PENALTY, ",\"presence_penalty\":", r->presence_penalty},
      {HAS_FREQUENCY_PENALTY, ",\"frequency_penalty\":", r->frequency_penalty},
  };
  const char *p = prompt ? prompt : "";
  size_t n = strlen(p);
  struct buf b = BUF_INIT;
  if (buf_reserve(&b, n + n / 8 + 200) != 0 ||
      buf_append_str(&b, "{\"input\":{\"prompt\":") != 0 ||
      json_quote_append(&b, p, n) != 0)
    goto fail;
  if ((r->has & HAS_MAX_TOKENS) &&
      (buf_append_str(&b, ",\"max_tokens\":") != 0 ||
       put_cjson_number(&b, (double)r->max_tokens) != 0))
    goto fail;
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
    if ((r->has & numbers[i].bit) &&
        (buf_append_str(&b, numbers[i].key) != 0 ||
         put_cjson_number(&b, numbers[i].value) != 0))
      goto fail;
  }
  /* The model's enum is "medium" or the string "None" (its default). */
  if ((r->thinking && buf_append_str(&b, ",\"thinking\":\"medium\"") != 0) ||
      buf_append_str(&b, "}}") != 0)
    goto fail;
  return buf_take(&b);
fail:
  buf_free(&b);
  return NULL;
}
