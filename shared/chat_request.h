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
};

/* Parse and validate. On failure fills err (400 with `param`, or 404
 * model_not_found) and returns -1; *out is then already freed. On success
 * returns 0 and the caller owns *out (chat_request_free). */
int chat_request_parse(const char *body, size_t len,
                       const char *configured_model, struct chat_request *out,
                       struct oai_error *err);
void chat_request_free(struct chat_request *r);

/* The create-prediction body {"input":{"prompt":...,...}} with only the
 * inputs the model declares. Malloc'd, or NULL when out of memory. */
char *chat_request_prediction_body(const struct chat_request *r,
                                   const char *prompt);

#endif
