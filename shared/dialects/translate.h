/* What every dialect's parser shares: it builds a Chat Completions request
 * (a cJSON tree) from its own wire format and hands it to the one parser
 * of the internal request, so every check, default and prompt rule is the
 * Chat Completions one. Also the dialect-wide rule on thinking and tools. */
#ifndef RP_TRANSLATE_H
#define RP_TRANSLATE_H

#include <stddef.h>

#include "../chat_request.h"
#include "../config.h"
#include "../oai_error.h"

struct cJSON;

/* A Chat Completions parameter and the dialect's name for it: errors the
 * chat parser finds name what the client sent. */
struct param_name {
  const char *chat;    /* "max_tokens"; also matches "messages[2].content" for "messages" */
  const char *dialect; /* "max_output_tokens" */
};

/* Parse the translated request (chat is not consumed). 0, or -1 with err
 * (out then freed; err->param renamed by names, a table ending in {NULL}). */
int translate_to_chat(const struct cJSON *chat, const char *configured_model,
                      const struct param_name *names, struct chat_request *out,
                      struct oai_error *err);

/* translate_to_chat after routing: a model name matching one of `routes`
 * (extra_models globs, fnmatch) is served by the configured model, and the
 * answer still names what the client sent (root's `model`). */
int translate_to_chat_routed(const struct cJSON *root, struct cJSON *chat,
                             const char *configured_model, const struct str_list *routes,
                             const struct param_name *names, struct chat_request *out,
                             struct oai_error *err);

/* Thinking and tools: DeepSeek V3.1 documents tool calling in non-thinking
 * mode only, and Claude Code / Codex ask for thinking on every turn with
 * tools. So when function tools are in play (offered, tool_choice not
 * "none"), thinking is switched off (reasoning_effort "none"); without
 * tools, `effort` (NULL: the model alias's default) decides. */
int translate_thinking(struct cJSON *chat, const char *effort);

/* One of the dialect's tools onto chat's `tools` array (out): appended, or
 * skipped when this model cannot run it. 0, or -1 when out of memory. */
typedef int (*translate_tool_fn)(struct cJSON *out, const struct cJSON *tool);

/* chat's `tools` from root's: absent or null adds nothing, anything but an
 * array is a 400 naming `tools`, and each element goes through add. 0 or -1. */
int translate_tools(struct cJSON *chat, const struct cJSON *root, translate_tool_fn add,
                    struct oai_error *err);

/* Add key: copy of src[key] to dst when given (not absent, not null). */
int translate_copy(struct cJSON *dst, const struct cJSON *src, const char *key,
                   const char *as);

/* The text of a string, or of an array of text parts (`type` in
 * text_types, field `text`), joined; NULL with err naming param and the
 * part type when a part is not text. The caller frees. */
char *translate_text(const struct cJSON *v, const char *const *text_types, const char *param,
                     struct oai_error *err);

#endif
