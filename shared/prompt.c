/* Prompt formats: how a conversation becomes the model's one `prompt`.
 *
 * plain (the default)
 *   Replicate wraps `prompt` in the model's chat template as a single user
 *   turn, so the conversation is flattened into readable text:
 *   - A conversation of exactly one user message is sent verbatim.
 *   - Otherwise every message, in order, becomes a block "Label: content";
 *     blocks are separated by a blank line ("\n\n") and nothing follows the
 *     last one. Labels: system and developer -> "System", user -> "User",
 *     assistant -> "Assistant", tool -> "Tool", function -> "Function".
 *   - A `name` is shown in parentheses ("User (alice): hi"); a tool result
 *     shows its tool_call_id instead ("Tool (call_abc): 18C").
 *   - An assistant's tool calls follow its content, one line per call:
 *     "[called NAME with ARGUMENTS]".
 *   - Missing (null) content renders as nothing after "Label: ".
 *   Example:
 *     System: Be brief.
 *
 *     User (alice): Weather in Paris?
 *
 *     Assistant: [called get_weather with {"city":"Paris"}]
 *
 *     Tool (call_1): {"temp":18}
 *
 * deepseek
 *   The exact DeepSeek-V3.1 chat template (HF chat_template; see
 *   openai-api.md §9), for deployments that take the raw token stream:
 *   BOS + every system/developer message joined by "\n\n", then
 *   <｜User｜>content, assistant turns prefixed <｜Assistant｜></think> after a
 *   user turn and ended by <｜end▁of▁sentence｜> (reasoning before the first
 *   </think> dropped), tool calls and tool outputs in the native markers,
 *   and after a final user turn the generation prompt
 *   <｜Assistant｜></think> (or <｜Assistant｜><think> when thinking).
 *   Deprecated `function` results are rendered as tool outputs.
 */
#include "prompt.h"

#include <cJSON.h>
#include <string.h>

#include "deepseek_tokens.h"

static const char *text_or_empty(const char *s) { return s ? s : ""; }

/* function.name / function.arguments of one tool call ("" if missing). */
static const char *call_field(const cJSON *call, const char *key) {
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(fn, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- plain -------------------------------------------------------------- */

static const char *const plain_labels[] = {
    [ROLE_SYSTEM] = "System", [ROLE_DEVELOPER] = "System",
    [ROLE_USER] = "User",     [ROLE_ASSISTANT] = "Assistant",
    [ROLE_TOOL] = "Tool",     [ROLE_FUNCTION] = "Function",
};

static int plain_message(const struct chat_message *m, struct buf *out) {
  /* A tool result is identified by the call it answers. */
  const char *who = m->role == ROLE_TOOL && m->tool_call_id ? m->tool_call_id
                                                            : m->name;
  if (buf_append_str(out, plain_labels[m->role]) != 0 ||
      (who && buf_printf(out, " (%s)", who) != 0) ||
      buf_append_str(out, ": ") != 0 ||
      buf_append_str(out, text_or_empty(m->content)) != 0)
    return -1;
  if (m->role != ROLE_ASSISTANT || !m->tool_calls)
    return 0;
  int first_line = !m->content || !m->content[0];
  const cJSON *call;
  cJSON_ArrayForEach(call, m->tool_calls) {
    if ((!first_line && buf_append_char(out, '\n') != 0) ||
        buf_printf(out, "[called %s with %s]", call_field(call, "name"),
                   call_field(call, "arguments")) != 0)
      return -1;
    first_line = 0;
  }
  return 0;
}

static int render_plain(const struct chat_request *r, struct buf *out) {
  /* One user turn is exactly what Replicate's own template expects. */
  if (r->n_messages == 1 && r->messages[0].role == ROLE_USER)
    return buf_append_str(out, text_or_empty(r->messages[0].content));
  for (size_t i = 0; i < r->n_messages; i++) {
    if ((i > 0 && buf_append_str(out, "\n\n") != 0) ||
        plain_message(&r->messages[i], out) != 0)
      return -1;
  }
  return 0;
}

/* ---- deepseek ----------------------------------------------------------- */

/* The template's namespace flags: last turn was a user turn / tool output. */
struct ds_state {
  struct buf *out;
  int last_user;
  int is_tool;
};

static int ds_system(struct ds_state *s, const struct chat_message *m) {
  (void)s; /* already rendered up front */
  (void)m;
  return 0;
}

static int ds_user(struct ds_state *s, const struct chat_message *m) {
  s->is_tool = 0;
  s->last_user = 1;
  return buf_append_str(s->out, DS_USER) != 0 ||
                 buf_append_str(s->out, text_or_empty(m->content)) != 0
             ? -1
             : 0;
}

static int ds_tool_calls(struct ds_state *s, const struct chat_message *m) {
  struct buf *out = s->out;
  if ((s->last_user && buf_append_str(out, DS_ASST DS_THINK_E) != 0) ||
      buf_append_str(out, text_or_empty(m->content)) != 0 ||
      buf_append_str(out, DS_TCS_B) != 0)
    return -1;
  s->last_user = 0;
  s->is_tool = 0;
  const cJSON *call;
  cJSON_ArrayForEach(call, m->tool_calls) {
    if (buf_append_str(out, DS_TC_B) != 0 ||
        buf_append_str(out, call_field(call, "name")) != 0 ||
        buf_append_str(out, DS_SEP) != 0 ||
        buf_append_str(out, call_field(call, "arguments")) != 0 ||
        buf_append_str(out, DS_TC_E) != 0)
      return -1;
  }
  return buf_append_str(out, DS_TCS_E DS_EOS);
}

static int ds_assistant(struct ds_state *s, const struct chat_message *m) {
  if (m->tool_calls)
    return ds_tool_calls(s, m);
  if (s->last_user && buf_append_str(s->out, DS_ASST DS_THINK_E) != 0)
    return -1;
  s->last_user = 0;
  const char *content = text_or_empty(m->content);
  if (s->is_tool) {
    /* The template replays an answer to tool output as is. */
    s->is_tool = 0;
  } else {
    /* Old reasoning is never replayed: keep what follows the first
     * </think>. */
    const char *end = strstr(content, DS_THINK_E);
    if (end)
      content = end + strlen(DS_THINK_E);
  }
  return buf_append_str(s->out, content) != 0 ||
                 buf_append_str(s->out, DS_EOS) != 0
             ? -1
             : 0;
}

static int ds_tool(struct ds_state *s, const struct chat_message *m) {
  s->last_user = 0;
  s->is_tool = 1;
  return buf_append_str(s->out, DS_TO_B) != 0 ||
                 buf_append_str(s->out, text_or_empty(m->content)) != 0 ||
                 buf_append_str(s->out, DS_TO_E) != 0
             ? -1
             : 0;
}

static int (*const ds_render_role[])(struct ds_state *,
                                     const struct chat_message *) = {
    [ROLE_SYSTEM] = ds_system, [ROLE_DEVELOPER] = ds_system,
    [ROLE_USER] = ds_user,     [ROLE_ASSISTANT] = ds_assistant,
    [ROLE_TOOL] = ds_tool,     [ROLE_FUNCTION] = ds_tool,
};

static int is_system(enum chat_role role) {
  return role == ROLE_SYSTEM || role == ROLE_DEVELOPER;
}

static int render_deepseek(const struct chat_request *r, struct buf *out) {
  if (buf_append_str(out, DS_BOS) != 0)
    return -1;
  int first = 1;
  for (size_t i = 0; i < r->n_messages; i++) {
    const struct chat_message *m = &r->messages[i];
    if (!is_system(m->role))
      continue;
    if ((!first && buf_append_str(out, "\n\n") != 0) ||
        buf_append_str(out, text_or_empty(m->content)) != 0)
      return -1;
    first = 0;
  }
  struct ds_state s = {out, 0, 0};
  for (size_t i = 0; i < r->n_messages; i++)
    if (ds_render_role[r->messages[i].role](&s, &r->messages[i]) != 0)
      return -1;
  /* Generation prompt only after a user turn; after tool output the model
   * simply continues. */
  if (s.last_user && !s.is_tool)
    return buf_append_str(out, r->thinking ? DS_ASST DS_THINK_B
                                           : DS_ASST DS_THINK_E);
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

static const struct {
  const char *name;
  int (*render)(const struct chat_request *, struct buf *);
} formats[] = {
    [PROMPT_PLAIN] = {"plain", render_plain},
    [PROMPT_DEEPSEEK] = {"deepseek", render_deepseek},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

int prompt_format_parse(const char *name, enum prompt_format *out) {
  for (size_t i = 0; name && i < N_FORMATS; i++) {
    if (strcmp(formats[i].name, name) == 0) {
      *out = (enum prompt_format)i;
      return 0;
    }
  }
  return -1;
}

const char *prompt_format_names(void) { return "plain|deepseek"; }

int prompt_render(enum prompt_format format, const struct chat_request *r,
                  struct buf *out) {
  if ((size_t)format >= N_FORMATS)
    return -1;
  return formats[format].render(r, out);
}
