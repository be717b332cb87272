/* Prompt formats: how a conversation becomes the model's one `prompt`.
 *
 * Both formats describe active tools (chat_request_tools_active) with the
 * tool description block DeepSeek-V3.1 was trained on (openai-api.md §9,
 * the text of its README / ms-swift's agent template, byte for byte):
 *     ## Tools
 *     You have access to the following tools:
 *
 *     ### NAME
 *     Description: DESCRIPTION ("" when absent)
 *
 *     Parameters: PARAMETERS (Python json.dumps style: ", " and ": "
 *                 separators, non-ASCII kept; {} when absent)
 *     (further tools, separated by a blank line)
 *
 *     IMPORTANT: ALWAYS adhere to this exact format for tool use:
 *     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>...
 *
 *     Where:
 *     - ...three rules...
 * followed, only when needed, by a blank line and one line each of
 *     "You must call at least one tool."        (tool_choice required)
 *     "You must call the tool `NAME`."          (tool_choice named)
 *     "Call at most one tool."                  (parallel_tool_calls false,
 *                                                or legacy functions)
 * JSON mode (response_format json_object / json_schema) adds
 * jsonmode_instruction()'s text as part of the system prompt.
 *
 * plain (the default)
 *   Replicate wraps `prompt` in the model's chat template as a single user
 *   turn, so the conversation is flattened into readable text:
 *   - A conversation of exactly one user message, with no active tools and
 *     no JSON mode, is sent verbatim.
 *   - Otherwise every message, in order, becomes a block "Label: content";
 *     blocks are separated by a blank line ("\n\n") and nothing follows the
 *     last one. Labels: system and developer -> "System", user -> "User",
 *     assistant -> "Assistant", tool -> "Tool", function -> "Function".
 *   - After the leading system/developer blocks come, when needed, a
 *     "System: " block with the JSON-mode instruction, then the tool
 *     description block (unlabelled: it starts with "## Tools").
 *   - A `name` is shown in parentheses ("User (alice): hi"); a tool result
 *     shows its tool_call_id instead ("Tool (call_abc): 18C").
 *   - An assistant's tool calls follow its content in the model's native
 *     markers, exactly as it would write them:
 *     <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>
 *     ...<｜tool▁calls▁end｜>
 *   - Missing (null) content renders as nothing after "Label: ".
 *   Example:
 *     System: Be brief.
 *
 *     ## Tools
 *     ...
 *
 *     User (alice): Weather in Paris?
 *
 *     Assistant: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city":"Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
 *
 *     Tool (call_1): {"temp":18}
 *
 * deepseek
 *   The exact DeepSeek-V3.1 chat template (HF chat_template; see
 *   openai-api.md §9), for deployments that take the raw token stream:
 *   BOS + every system/developer message joined by "\n\n" (plus the
 *   JSON-mode instruction as one more part), then "\n\n" + the tool block
 *   when tools are active (so with no system prompt the BOS is directly
 *   followed by "\n\n## Tools", as in ms-swift's test), then
 *   <｜User｜>content, assistant turns prefixed <｜Assistant｜></think> after a
 *   user turn and ended by <｜end▁of▁sentence｜> (reasoning before the first
 *   </think> dropped), tool calls and tool outputs in the native markers,
 *   and after a final user turn the generation prompt
 *   <｜Assistant｜></think> (or <｜Assistant｜><think> when thinking).
 *   Deprecated `function` results are rendered as tool outputs.
 */
#include "prompt.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepseek_tokens.h"
#include "jsonmode.h"

static const char *text_or_empty(const char *s) { return s ? s : ""; }

/* function.name / function.arguments of one tool call ("" if missing). */
static const char *call_field(const cJSON *call, const char *key) {
  const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(fn, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static int is_system(enum chat_role role) {
  return role == ROLE_SYSTEM || role == ROLE_DEVELOPER;
}

/* ---- Python json.dumps -------------------------------------------------- */

/* A string as json.dumps(ensure_ascii=False) writes it: only '"', '\\'
 * and control characters are escaped (\n \r \t \b \f, else \u00xx). */
static int py_string(const char *s, struct buf *out) {
  if (buf_append_char(out, '"') != 0)
    return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const char *esc = NULL;
    switch (*p) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default: break;
    }
    int rc = esc ? buf_append_str(out, esc)
             : *p < 0x20 ? buf_printf(out, "\\u%04x", *p)
                         : buf_append_char(out, (char)*p);
    if (rc != 0)
      return -1;
  }
  return buf_append_char(out, '"');
}

/* Whole numbers as integers, others as Python's repr (shortest text that
 * reads back the same). cJSON keeps no int/float distinction, so a "1.0"
 * in the client's JSON comes out as "1". */
static int py_number(double d, struct buf *out) {
  if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
    return buf_append_str(out, "null"); /* as cJSON prints them */
  if (d == 0)
    return buf_append_char(out, '0');
  /* Whole: a JSON integer literal, printed in full as Python does. */
  if (d < 1e21 && d > -1e21 && floor(d) == d)
    return buf_printf(out, "%.0f", d);
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  return buf_append_str(out, tmp);
}

/* json.dumps(v, ensure_ascii=False): separators ", " and ": ". */
static int py_dumps(const cJSON *v, struct buf *out) {
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    int obj = cJSON_IsObject(v), first = 1;
    if (buf_append_char(out, obj ? '{' : '[') != 0)
      return -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, v) {
      if ((!first && buf_append_str(out, ", ") != 0) ||
          (obj && (py_string(c->string ? c->string : "", out) != 0 ||
                   buf_append_str(out, ": ") != 0)) ||
          py_dumps(c, out) != 0)
        return -1;
      first = 0;
    }
    return buf_append_char(out, obj ? '}' : ']');
  }
  if (cJSON_IsString(v))
    return py_string(v->valuestring, out);
  if (cJSON_IsNumber(v))
    return py_number(v->valuedouble, out);
  if (cJSON_IsTrue(v))
    return buf_append_str(out, "true");
  if (cJSON_IsFalse(v))
    return buf_append_str(out, "false");
  return buf_append_str(out, "null");
}

/* ---- the tool block ----------------------------------------------------- */

#define TOOLS_INTRO "## Tools\nYou have access to the following tools:\n\n"
#define TOOLS_FORMAT                                                           \
  "\n\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n"          \
  DS_TCS_B DS_TC_B "tool_call_name" DS_SEP "tool_call_arguments" DS_TC_E      \
  "{additional_tool_calls}" DS_TCS_E "\n\n"                                    \
  "Where:\n"                                                                   \
  "- `tool_call_name` must be an exact match to one of the available tools\n" \
  "- `tool_call_arguments` must be valid JSON that strictly follows the "     \
  "tool's Parameters Schema\n"                                                 \
  "- For multiple tool calls, chain them directly without separators or "     \
  "spaces"

/* The tool description block (see the top of this file); no newline at
 * either end. */
static int tool_block(const struct chat_request *r, struct buf *out) {
  if (buf_append_str(out, TOOLS_INTRO) != 0)
    return -1;
  const cJSON *tool;
  int first = 1;
  cJSON_ArrayForEach(tool, r->tools) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
    if ((!first && buf_append_str(out, "\n\n") != 0) ||
        buf_printf(out, "### %s\nDescription: %s\n\nParameters: ",
                   cJSON_IsString(name) ? name->valuestring : "",
                   cJSON_IsString(desc) ? desc->valuestring : "") != 0 ||
        (params ? py_dumps(params, out) : buf_append_str(out, "{}")) != 0)
      return -1;
    first = 0;
  }
  if (buf_append_str(out, TOOLS_FORMAT) != 0)
    return -1;
  /* Only what differs from the default (auto, parallel calls allowed), so
   * the common case stays byte-exact with what the model was trained on.
   * Legacy function_call answers carry one call. */
  const char *sep = "\n\n";
  if (r->tool_choice == TOOL_CHOICE_REQUIRED) {
    if (buf_printf(out, "%sYou must call at least one tool.", sep) != 0)
      return -1;
    sep = "\n";
  } else if (r->tool_choice == TOOL_CHOICE_NAMED) {
    if (buf_printf(out, "%sYou must call the tool `%s`.", sep,
                   r->tool_choice_name ? r->tool_choice_name : "") != 0)
      return -1;
    sep = "\n";
  }
  if ((!r->parallel_tool_calls || r->legacy_functions) &&
      buf_printf(out, "%sCall at most one tool.", sep) != 0)
    return -1;
  return 0;
}

/* The native form of an assistant's calls, as the model writes them. */
static int native_calls(const cJSON *calls, struct buf *out) {
  if (buf_append_str(out, DS_TCS_B) != 0)
    return -1;
  const cJSON *call;
  cJSON_ArrayForEach(call, calls) {
    if (buf_append_str(out, DS_TC_B) != 0 ||
        buf_append_str(out, call_field(call, "name")) != 0 ||
        buf_append_str(out, DS_SEP) != 0 ||
        buf_append_str(out, call_field(call, "arguments")) != 0 ||
        buf_append_str(out, DS_TC_E) != 0)
      return -1;
  }
  return buf_append_str(out, DS_TCS_E);
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
  return native_calls(m->tool_calls, out);
}

/* "\n\n" before every block but the first. */
static int block_sep(int *blocks, struct buf *out) {
  return (*blocks)++ > 0 ? buf_append_str(out, "\n\n") : 0;
}

static int render_plain(const struct chat_request *r, struct buf *out) {
  int tools = chat_request_tools_active(r);
  int json = r->response_kind != RESPONSE_TEXT;
  /* One user turn is exactly what Replicate's own template expects. */
  if (!tools && !json && r->n_messages == 1 &&
      r->messages[0].role == ROLE_USER)
    return buf_append_str(out, text_or_empty(r->messages[0].content));
  size_t i = 0;
  int blocks = 0;
  for (; i < r->n_messages && is_system(r->messages[i].role); i++)
    if (block_sep(&blocks, out) != 0 ||
        plain_message(&r->messages[i], out) != 0)
      return -1;
  if (json && (block_sep(&blocks, out) != 0 ||
               buf_append_str(out, "System: ") != 0 ||
               jsonmode_instruction(r, out) != 0))
    return -1;
  if (tools && (block_sep(&blocks, out) != 0 || tool_block(r, out) != 0))
    return -1;
  for (; i < r->n_messages; i++)
    if (block_sep(&blocks, out) != 0 ||
        plain_message(&r->messages[i], out) != 0)
      return -1;
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
      native_calls(m->tool_calls, out) != 0)
    return -1;
  s->last_user = 0;
  s->is_tool = 0;
  return buf_append_str(out, DS_EOS);
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
  if (r->response_kind != RESPONSE_TEXT &&
      ((!first && buf_append_str(out, "\n\n") != 0) ||
       jsonmode_instruction(r, out) != 0))
    return -1;
  if (chat_request_tools_active(r) &&
      (buf_append_str(out, "\n\n") != 0 || tool_block(r, out) != 0))
    return -1;
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
