/* POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages
 * request into the one internal request (via a Chat Completions
 * translation, see translate.h).
 * - system (string or text blocks); messages with string or block content:
 *   text, tool_use, tool_result (string or text blocks; is_error marks the
 *   text), thinking / redacted_thinking (not replayed); image / document
 *   refused naming them; role "system" mid-conversation kept as system.
 * - tools {name, description, input_schema} (server tools, which carry a
 *   versioned `type`, left out); tool_choice auto / any / tool / none and
 *   disable_parallel_tool_use; max_tokens (required), stop_sequences,
 *   temperature, top_p; top_k, metadata, output_config, context_management
 *   accepted and ignored; thinking enabled / adaptive -> thinking (see
 *   translate_thinking), disabled -> off.
 * - model: names matching one of `routes` (globs, fnmatch) are served by
 *   the configured model; the answer still names what the client sent.
 * Errors are OpenAI error objects; messages_error_json shapes them. */
#ifndef RP_MESSAGES_REQUEST_H
#define RP_MESSAGES_REQUEST_H

#include <stddef.h>

#include "../chat_request.h"
#include "../config.h"
#include "../oai_error.h"

/* count_only: /count_tokens (max_tokens not required). 0, or -1 with err
 * (out then freed). */
int messages_request_parse(const char *body, size_t len, const char *configured_model,
                           const struct str_list *routes, int count_only,
                           struct chat_request *out, struct oai_error *err);

/* {"type":"error","error":{"type","message"}} with Anthropic's status for
 * it (*status; 503 from upstream becomes 529 overloaded_error). Malloc'd,
 * or NULL when out of memory. */
char *messages_error_json(const struct oai_error *e, int *status);

#endif
