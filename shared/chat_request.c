#include "chat_request.h"

#include <cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

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

static int fail_oom(struct oai_error *err) {
  oai_error_set(err, 500, "server_error", NULL, NULL, "Out of memory.");
  return -1;
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

static int fail_type(struct oai_error *err, const char *param,
                     const char *expected, const cJSON *got) {
  oai_invalid(err, param,
              "Invalid type for '%s': expected %s, but got %s instead.", param,
              expected, type_name(got));
  return -1;
}

static int fail_missing(struct oai_error *err, const char *param) {
  oai_invalid(err, param, "Missing required parameter: '%s'.", param);
  return -1;
}

/* ---- scalar fields ------------------------------------------------------ */

static const cJSON *field(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Absent and null both mean "not given" for every optional field. */
static int given(const cJSON *v) { return v && !cJSON_IsNull(v); }

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

/* Optional integer in [min, max]; *present says whether one was given. */
static int get_int(const cJSON *root, const char *key, long min, long max,
                   long *out, int *present, struct oai_error *err) {
  const cJSON *v = field(root, key);
  *present = 0;
  if (!given(v))
    return 0;
  if (!cJSON_IsNumber(v))
    return fail_type(err, key, "an integer", v);
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

/* Optional number in [min, max]; sets `bit` in *has when given. */
static int get_number(const cJSON *root, const char *key, double min,
                      double max, double *out, unsigned bit, unsigned *has,
                      struct oai_error *err) {
  const cJSON *v = field(root, key);
  if (!given(v))
    return 0;
  if (!cJSON_IsNumber(v))
    return fail_type(err, key, "a number", v);
  if (check_range(err, key, v->valuedouble, min, max, "decimal") != 0)
    return -1;
  *out = v->valuedouble;
  *has |= bit;
  return 0;
}

/* Optional boolean; *out untouched when absent or null. */
static int get_bool(const cJSON *obj, const char *key, const char *param,
                    int *out, struct oai_error *err) {
  const cJSON *v = field(obj, key);
  if (!given(v))
    return 0;
  if (!cJSON_IsBool(v))
    return fail_type(err, param, "a boolean", v);
  *out = cJSON_IsTrue(v) ? 1 : 0;
  return 0;
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
    return fail_type(err, path, "an object", part);
  char tpath[160];
  snprintf(tpath, sizeof tpath, "%s.type", path);
  const cJSON *type = field(part, "type");
  if (!given(type))
    return fail_missing(err, tpath);
  if (!cJSON_IsString(type))
    return fail_type(err, tpath, "a string", type);
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
  if (!given(t))
    return fail_missing(err, fpath);
  if (!cJSON_IsString(t))
    return fail_type(err, fpath, "a string", t);
  if ((j > 0 && buf_append_char(text, '\n') != 0) ||
      buf_append_str(text, t->valuestring) != 0)
    return fail_oom(err);
  return 0;
}

static int parse_content(const cJSON *m, size_t i, struct chat_message *msg,
                         struct oai_error *err) {
  char path[128];
  snprintf(path, sizeof path, "messages[%zu].content", i);
  const cJSON *c = field(m, "content");
  if (!given(c)) {
    /* Only an assistant (e.g. one that only called tools) or a deprecated
     * function result may say nothing. */
    if (msg->role == ROLE_ASSISTANT || msg->role == ROLE_FUNCTION)
      return 0;
    if (!c)
      return fail_missing(err, path);
    return fail_type(err, path, "a string or an array of content parts", c);
  }
  if (cJSON_IsString(c)) {
    msg->content = strdup(c->valuestring);
    return msg->content ? 0 : fail_oom(err);
  }
  if (!cJSON_IsArray(c))
    return fail_type(err, path, "a string or an array of content parts", c);
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
  return msg->content ? 0 : fail_oom(err);
}

/* Optional string field copied into *out. */
static int get_string(const cJSON *m, const char *key, const char *param,
                      int required, char **out, struct oai_error *err) {
  const cJSON *v = field(m, key);
  if (!given(v))
    return required ? fail_missing(err, param) : 0;
  if (!cJSON_IsString(v))
    return fail_type(err, param, "a string", v);
  *out = strdup(v->valuestring);
  return *out ? 0 : fail_oom(err);
}

/* Assistant tool_calls: checked for the fields the prompt renders, then
 * kept as a detached copy. An empty array is the same as none. */
static int parse_tool_calls(const cJSON *m, size_t i, struct chat_message *msg,
                            struct oai_error *err) {
  char path[192];
  snprintf(path, sizeof path, "messages[%zu].tool_calls", i);
  const cJSON *tc = field(m, "tool_calls");
  if (!given(tc))
    return 0;
  if (!cJSON_IsArray(tc))
    return fail_type(err, path, "an array", tc);
  if (cJSON_GetArraySize(tc) == 0)
    return 0;
  size_t k = 0;
  const cJSON *call;
  cJSON_ArrayForEach(call, tc) {
    snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu]", i, k);
    if (!cJSON_IsObject(call))
      return fail_type(err, path, "an object", call);
    snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu].function", i, k);
    const cJSON *fn = field(call, "function");
    if (!given(fn))
      return fail_missing(err, path);
    if (!cJSON_IsObject(fn))
      return fail_type(err, path, "an object", fn);
    static const char *const keys[] = {"name", "arguments"};
    for (size_t q = 0; q < sizeof keys / sizeof keys[0]; q++) {
      snprintf(path, sizeof path, "messages[%zu].tool_calls[%zu].function.%s",
               i, k, keys[q]);
      const cJSON *v = field(fn, keys[q]);
      if (!given(v))
        return fail_missing(err, path);
      if (!cJSON_IsString(v))
        return fail_type(err, path, "a string", v);
    }
    k++;
  }
  msg->tool_calls = cJSON_Duplicate(tc, 1);
  return msg->tool_calls ? 0 : fail_oom(err);
}

static int parse_message(const cJSON *m, size_t i, struct chat_message *msg,
                         struct oai_error *err) {
  char path[128];
  snprintf(path, sizeof path, "messages[%zu]", i);
  if (!cJSON_IsObject(m))
    return fail_type(err, path, "an object", m);

  snprintf(path, sizeof path, "messages[%zu].role", i);
  const cJSON *role = field(m, "role");
  if (!given(role))
    return fail_missing(err, path);
  if (!cJSON_IsString(role))
    return fail_type(err, path, "a string", role);
  size_t r = 0;
  while (r < N_ROLES && strcmp(role_names[r], role->valuestring) != 0)
    r++;
  if (r == N_ROLES) {
    oai_invalid(err, path, "Invalid value: '%s'. Supported values are: "
                "'system', 'developer', 'user', 'assistant', 'tool', and "
                "'function'.", role->valuestring);
    return -1;
  }
  msg->role = (enum chat_role)r;

  if (parse_content(m, i, msg, err) != 0)
    return -1;
  snprintf(path, sizeof path, "messages[%zu].name", i);
  if (get_string(m, "name", path, msg->role == ROLE_FUNCTION, &msg->name,
                 err) != 0)
    return -1;
  if (msg->role == ROLE_TOOL) {
    snprintf(path, sizeof path, "messages[%zu].tool_call_id", i);
    if (get_string(m, "tool_call_id", path, 1, &msg->tool_call_id, err) != 0)
      return -1;
  }
  /* reasoning_content on assistants is accepted and dropped: V3.1 never
   * replays old reasoning. */
  if (msg->role == ROLE_ASSISTANT && parse_tool_calls(m, i, msg, err) != 0)
    return -1;
  return 0;
}

static int parse_messages(const cJSON *root, struct chat_request *out,
                          struct oai_error *err) {
  const cJSON *msgs = field(root, "messages");
  if (!given(msgs))
    return fail_missing(err, "messages");
  if (!cJSON_IsArray(msgs))
    return fail_type(err, "messages", "an array", msgs);
  int n = cJSON_GetArraySize(msgs);
  if (n <= 0) {
    oai_invalid(err, "messages", "Invalid 'messages': empty array. Expected an "
                "array with minimum length 1, but got an empty array instead.");
    return -1;
  }
  out->messages = calloc((size_t)n, sizeof *out->messages);
  if (!out->messages)
    return fail_oom(err);
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    /* Count first so chat_request_free sees the partly filled message. */
    size_t i = out->n_messages++;
    if (parse_message(m, i, &out->messages[i], err) != 0)
      return -1;
  }
  return 0;
}

/* ---- other fields ------------------------------------------------------- */

static int parse_model(const cJSON *root, const char *configured_model,
                       struct chat_request *out, struct oai_error *err) {
  const cJSON *model = field(root, "model");
  if (!given(model)) {
    oai_invalid(err, "model", "you must provide a model parameter");
    return -1;
  }
  if (!cJSON_IsString(model))
    return fail_type(err, "model", "a string", model);
  out->alias = models_resolve(model->valuestring, configured_model);
  if (!out->alias) {
    oai_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                  "The model `%s` does not exist or you do not have access to "
                  "it.", model->valuestring);
    return -1;
  }
  out->thinking = out->alias->thinking;
  out->model = strdup(model->valuestring);
  return out->model ? 0 : fail_oom(err);
}

static int parse_stop(const cJSON *root, struct chat_request *out,
                      struct oai_error *err) {
  const cJSON *stop = field(root, "stop");
  if (!given(stop))
    return 0;
  if (cJSON_IsString(stop)) {
    if (!stop->valuestring[0])
      return 0;
    out->stop[0] = strdup(stop->valuestring);
    if (!out->stop[0])
      return fail_oom(err);
    out->n_stop = 1;
    return 0;
  }
  if (!cJSON_IsArray(stop))
    return fail_type(err, "stop", "a string or an array of strings", stop);
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
      return fail_type(err, "stop", "a string or an array of strings", s);
    if (!s->valuestring[0])
      continue; /* an empty stop would match everywhere */
    out->stop[out->n_stop] = strdup(s->valuestring);
    if (!out->stop[out->n_stop])
      return fail_oom(err);
    out->n_stop++;
  }
  return 0;
}

static int parse_stream(const cJSON *root, struct chat_request *out,
                        struct oai_error *err) {
  if (get_bool(root, "stream", "stream", &out->stream, err) != 0)
    return -1;
  const cJSON *so = field(root, "stream_options");
  if (!given(so))
    return 0;
  if (!cJSON_IsObject(so))
    return fail_type(err, "stream_options", "an object", so);
  if (!out->stream) {
    oai_invalid(err, "stream_options", "The 'stream_options' parameter is only "
                "allowed when 'stream' is enabled.");
    return -1;
  }
  return get_bool(so, "include_usage", "stream_options.include_usage",
                  &out->include_usage, err);
}

/* Inputs OpenAI has and the model on Replicate lacks: refusing is honest,
 * silently ignoring them would not be. */
static int parse_unsupported(const cJSON *root, struct oai_error *err) {
  int logprobs = 0;
  if (get_bool(root, "logprobs", "logprobs", &logprobs, err) != 0)
    return -1;
  if (logprobs) {
    oai_invalid(err, "logprobs", "'logprobs' is not supported: the model on "
                "Replicate returns no log probabilities.");
    return -1;
  }
  if (given(field(root, "top_logprobs"))) {
    oai_invalid(err, "top_logprobs", "'top_logprobs' is not supported: the "
                "model on Replicate returns no log probabilities.");
    return -1;
  }
  const cJSON *lb = field(root, "logit_bias");
  if (given(lb)) {
    if (!cJSON_IsObject(lb))
      return fail_type(err, "logit_bias", "an object", lb);
    if (lb->child) {
      oai_invalid(err, "logit_bias", "'logit_bias' is not supported: "
                  "deepseek-v3.1 on Replicate has no logit bias input.");
      return -1;
    }
  }
  return 0;
}

static int parse_numbers(const cJSON *root, struct chat_request *out,
                         struct oai_error *err) {
  long mct = 0, mt = 0, n = 1, seed = 0;
  int has_mct, has_mt, has_n, has_seed;
  if (get_int(root, "max_completion_tokens", 1, MAX_TOKENS_LIMIT, &mct,
              &has_mct, err) != 0 ||
      get_int(root, "max_tokens", 1, MAX_TOKENS_LIMIT, &mt, &has_mt,
              err) != 0 ||
      get_int(root, "n", 1, 128, &n, &has_n, err) != 0 ||
      get_int(root, "seed", LONG_MIN, LONG_MAX, &seed, &has_seed, err) != 0)
    return -1;
  if (has_mct || has_mt) {
    /* max_completion_tokens supersedes the deprecated max_tokens. */
    out->max_tokens = has_mct ? mct : mt;
    out->has |= HAS_MAX_TOKENS;
  }
  out->n = (int)n;
  if (get_number(root, "temperature", 0, 2, &out->temperature,
                 HAS_TEMPERATURE, &out->has, err) != 0 ||
      get_number(root, "top_p", 0, 1, &out->top_p, HAS_TOP_P, &out->has,
                 err) != 0 ||
      get_number(root, "presence_penalty", -2, 2, &out->presence_penalty,
                 HAS_PRESENCE_PENALTY, &out->has, err) != 0 ||
      get_number(root, "frequency_penalty", -2, 2, &out->frequency_penalty,
                 HAS_FREQUENCY_PENALTY, &out->has, err) != 0)
    return -1;
  return 0;
}

/* ---- entry points ------------------------------------------------------- */

/* cJSON stops at the end of the first value; OpenAI rejects trailing
 * garbage, so anything but whitespace after it is a parse error. */
static cJSON *parse_json(const char *body, size_t len) {
  const char *end = NULL;
  if (!body || len == 0)
    return NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!root)
    return NULL;
  for (; end && end < body + len; end++) {
    if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
      cJSON_Delete(root);
      return NULL;
    }
  }
  return root;
}

int chat_request_parse(const char *body, size_t len,
                       const char *configured_model, struct chat_request *out,
                       struct oai_error *err) {
  memset(out, 0, sizeof *out);
  out->n = 1;
  cJSON *root = parse_json(body, len);
  if (!root) {
    oai_invalid(err, NULL, PARSE_HINT);
    return -1;
  }
  int rc = -1;
  if (!cJSON_IsObject(root)) {
    oai_invalid(err, NULL, "Invalid type for the request body: expected an "
                "object, but got %s instead.", type_name(root));
    goto done;
  }
  if (parse_model(root, configured_model, out, err) != 0 ||
      parse_messages(root, out, err) != 0 ||
      parse_numbers(root, out, err) != 0 ||
      parse_stream(root, out, err) != 0 ||
      parse_stop(root, out, err) != 0 ||
      parse_unsupported(root, err) != 0)
    goto done;
  /* Everything else (tools, tool_choice, response_format, user, metadata,
   * reasoning_effort, unknown keys...) is accepted and ignored for now. */
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
  memset(r, 0, sizeof *r);
}

char *chat_request_prediction_body(const struct chat_request *r,
                                   const char *prompt) {
  /* Only inputs the model's schema declares (replicate-api.md §7):
   * Replicate rejects unknown keys. Each optional one only when given, so
   * the model's own defaults apply otherwise. */
  const struct {
    unsigned bit;
    const char *key;
    double value;
  } numbers[] = {
      {HAS_TEMPERATURE, "temperature", r->temperature},
      {HAS_TOP_P, "top_p", r->top_p},
      {HAS_PRESENCE_PENALTY, "presence_penalty", r->presence_penalty},
      {HAS_FREQUENCY_PENALTY, "frequency_penalty", r->frequency_penalty},
  };
  char *out = NULL;
  cJSON *root = cJSON_CreateObject();
  cJSON *input = root ? cJSON_AddObjectToObject(root, "input") : NULL;
  if (!input || !cJSON_AddStringToObject(input, "prompt", prompt ? prompt : ""))
    goto done;
  if ((r->has & HAS_MAX_TOKENS) &&
      !cJSON_AddNumberToObject(input, "max_tokens", (double)r->max_tokens))
    goto done;
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
    if ((r->has & numbers[i].bit) &&
        !cJSON_AddNumberToObject(input, numbers[i].key, numbers[i].value))
      goto done;
  }
  /* The model's enum is "medium" or the string "None" (its default). */
  if (r->thinking && !cJSON_AddStringToObject(input, "thinking", "medium"))
    goto done;
  out = cJSON_PrintUnformatted(root);
done:
  cJSON_Delete(root);
  return out;
}
