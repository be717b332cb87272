/* POST /v1/responses: the Responses API request into the one internal
 * request (via a Chat Completions translation, see translate.h).
 * - input: a string, or items: message (user, assistant, system, developer;
 *   input_text / output_text parts; images and files are refused naming
 *   them), function_call, function_call_output; reasoning items are not
 *   replayed; item_reference is resolved when this proxy stored the item
 *   (response_store.h), else skipped, as are other item types.
 * - instructions: a system message first (not carried to a continuation).
 * - previous_response_id: the stored conversation (response_store.h) goes
 *   before input; unknown in the caller's scope (its key) -> 404.
 * - model: names matching one of `routes` (extra_models globs) are served
 *   by the configured model; the answer still names what the client sent.
 * - tools: function tools, and the function tools inside `namespace`
 *   tools, flattened; hosted tools (web_search, file_search, ...) left out.
 * - max_output_tokens, temperature, top_p, tool_choice,
 *   parallel_tool_calls, text.format (json_object, json_schema),
 *   reasoning.effort (see translate_thinking). Other fields (store,
 *   include, metadata, prompt_cache_key, ...) are accepted and ignored. */
#ifndef RP_RESPONSES_REQUEST_H
#define RP_RESPONSES_REQUEST_H

#include "../chat_request.h"
#include "../config.h"
#include "../oai_error.h"

struct cJSON;

struct responses_request {
  struct chat_request chat;
  /* The conversation to remember when this response completes: the
   * previous response's messages and this input, Chat Completions shaped
   * (no instructions). Owned. */
  struct cJSON *history;
  int store; /* `store` (default true): keep the answer for continuations */
};

/* 0, or -1 with err filled (out is then freed). */
/* scope: the caller's key as gateway_scope names it (response_store.h). */
int responses_request_parse(const char *body, size_t len, const char *configured_model,
                            const struct str_list *routes, const char *scope,
                            struct responses_request *out, struct oai_error *err);
void responses_request_free(struct responses_request *r);

#endif
