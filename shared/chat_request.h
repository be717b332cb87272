/* POST /v1/chat/completions: parse and validate the client's JSON into a
 * plain struct, and build the Replicate prediction body from it. */
#ifndef RP_CHAT_REQUEST_H
#define RP_CHAT_REQUEST_H

#include <stddef.h>

#include "models.h"
#include "oai_error.h"

struct cJSON;

enum chat_role {
  ROLE_SYSTEM,
  ROLE_DEVELOPER,
  ROLE_USER,
  ROLE_ASSISTANT,
  ROLE_TOOL,
  ROLE_FUNCTION,
};

struct chat_message {
  enum chat_role role;
  char *content;             /* text parts joined; NULL when absent or null */
  char *name;                /* optional `name`, or NULL */
  char *tool_call_id;        /* `tool` messages, or NULL */
  struct cJSON *tool_calls;  /* assistant `tool_calls` (owned copy), or NULL */
};

#define CHAT_STOP_MAX 4

enum chat_has {
  HAS_TEMPERATURE = 1u << 0,
  HAS_TOP_P = 1u << 1,
  HAS_PRESENCE_PENALTY = 1u << 2,
  HAS_FREQUENCY_PENALTY = 1u << 3,
  HAS_MAX_TOKENS = 1u << 4,
};

enum tool_choice {
  TOOL_CHOICE_AUTO,     /* default with tools */
  TOOL_CHOICE_NONE,     /* tools are left out of the prompt */
  TOOL_CHOICE_REQUIRED, /* the prompt says a tool must be called */
  TOOL_CHOICE_NAMED,    /* the prompt names the function to call */
};

enum response_kind {
  RESPONSE_TEXT,
  RESPONSE_JSON_OBJECT, /* response_format {"type":"json_object"} */
  RESPONSE_JSON_SCHEMA, /* response_format {"type":"json_schema",...} */
};

struct chat_request {
  char *model;                    /* the name the client sent (echoed back) */
  const struct model_alias *alias;
  struct chat_message *messages;
  size_t n_messages;
  unsigned has;                   /* enum chat_has bits for optional numbers */
  long max_tokens;                /* max_completion_tokens, else max_tokens */
  double temperature, top_p, presence_penalty, frequency_penalty;
  char *stop[CHAT_STOP_MAX];
  size_t n_stop;
  int n;                          /* choices wanted, 1..128 */
  int stream;
  int include_usage;              /* stream_options.include_usage */
  int thinking;                   /* send thinking: "medium" */

  /* Function calling. tools is a detached array of
   * {"type":"function","function":{"name","description"?,"parameters"?}}
   * (legacy `functions` are converted into it), or NULL. */
  struct cJSON *tools;
  char **tool_names;              /* the offered function names */
  size_t n_tools;
  enum tool_choice tool_choice;
  char *tool_choice_name;         /* TOOL_CHOICE_NAMED */
  int parallel_tool_calls;        /* default 1 */
  int legacy_functions;           /* used functions/function_call: answer
                                     with message.function_call */

  /* JSON mode. */
  enum response_kind response_kind;
  struct cJSON *json_schema;      /* json_schema.schema (detached), or NULL */
  char *json_schema_name;
  int json_strict;                /* json_schema.strict == true */
  char *json_schema_description;  /* json_schema.description, or NULL */
};

/* Semantics decided here (see chat_request.c for the details):
 * - thinking: the alias sets it (deepseek-reasoner: on); reasoning_effort,
 *   when given, overrides it: low/medium/high/xhigh/max -> on,
 *   none/minimal -> off (even for deepseek-reasoner). Thinking is kept as
 *   requested when tools are offered.
 * - tools: [] is the same as no tools; legacy `functions` become tools
 *   (legacy_functions = 1) and `function_call` is read as tool_choice when
 *   tool_choice is absent. tool_choice allowed_tools narrows tools and
 *   tool_names to the allowed ones (mode auto -> AUTO, required ->
 *   REQUIRED). Without tools tool_choice is NONE.
 * - An assistant message's deprecated `function_call` becomes a one-call
 *   tool_calls array, so both replay the same way. */

/* Tools are in play: offered and not switched off by tool_choice none. */
int chat_request_tools_active(const struct chat_request *r);

/* Parse and validate. On failure fills err (400 with `param`, or 404
 * model_not_found) and returns -1; *out is then already freed. On success
 * returns 0 and the caller owns *out (chat_request_free). The body is first
 * scanned (json_scan.h): invalid UTF-8 or a NUL in a string is a 400. `n`
 * above max_n (the config's cap; 0 = only n's own limit, 128) is a 400. */
int chat_request_parse(const char *body, size_t len,
                       const char *configured_model, long max_n,
                       struct chat_request *out, struct oai_error *err);
void chat_request_free(struct chat_request *r);

/* The create-prediction body {"input":{"prompt":...,...}} with only the
 * inputs the model declares. Malloc'd, or NULL when out of memory. */
char *chat_request_prediction_body(const struct chat_request *r,
                                   const char *prompt);

/* ---- Shared with completion_request.c ---------------------------------
 * The validation both endpoints do the same way. Functions returning int
 * give 0, or -1 with err filled (400 naming the parameter; 404 for an
 * unknown model; 500 when out of memory). */

/* Empty request: all zero, n = 1, parallel_tool_calls = 1, tool_choice
 * NONE. */
void req_init(struct chat_request *r);
/* The body as one JSON object (trailing non-space refused); NULL with err
 * set (json_scan's encoding/NUL errors, OpenAI's "could not parse" hint, or
 * not an object). */
struct cJSON *req_parse_object(const char *body, size_t len,
                               struct oai_error *err);
/* `model` (required) -> model, alias, thinking (the alias's default). */
int req_parse_model(const struct cJSON *root, const char *configured_model,
                    struct chat_request *out, struct oai_error *err);

enum req_flags {
  REQ_CHAT = 1u << 0, /* also max_completion_tokens (chat only) */
};
/* max_tokens, n (at most max_n when > 0), seed, temperature, top_p,
 * presence/frequency_penalty, stream, stream_options, stop, logit_bias. */
int req_parse_sampling(const struct cJSON *root, unsigned flags, long max_n,
                       struct chat_request *out, struct oai_error *err);

/* Field helpers: absent and null both mean "not given". */
int req_given(const struct cJSON *v);
int req_fail_oom(struct oai_error *err);
int req_fail_missing(struct oai_error *err, const char *param);
int req_fail_type(struct oai_error *err, const char *param,
                  const char *expected, const struct cJSON *got);
/* Optional integer obj[key] in [min, max]; *present says if given. */
int req_get_int(const struct cJSON *obj, const char *key, long min, long max,
                long *out, int *present, struct oai_error *err);
/* Optional boolean obj[key]; *out untouched when not given. */
int req_get_bool(const struct cJSON *obj, const char *key, const char *param,
                 int *out, struct oai_error *err);

#endif
