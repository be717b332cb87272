/* Building what the client receives: chat.completion objects and
 * chat.completion.chunk SSE events (with reasoning_content and tool calls),
 * legacy text_completion objects and events, ids, and the usage estimate. */
#ifndef RP_RESPONSE_H
#define RP_RESPONSE_H

#include <stddef.h>

#include "buf.h"

struct usage {
  long prompt_tokens;
  long completion_tokens;
  long reasoning_tokens; /* -1: unknown, field omitted */
  int has_cost;          /* "cost" (USD, as OpenRouter sends it) after the counts */
  double cost;
};

/* USD for these counts at prices per million tokens: the one formula the
 * answer's usage.cost and the ledger share. */
double usage_cost(long prompt_tokens, long completion_tokens, double input_per_mtok,
                  double output_per_mtok);

/* One function call the model made. Strings are (ptr, len) except id;
 * NULL is sent as "". */
struct tool_call {
  const char *id; /* "call_..." (see response_make_id), NUL-terminated */
  const char *name;
  size_t name_len;
  const char *arguments; /* the JSON text; sent as a JSON string */
  size_t arguments_len;
};

/* One choice of a whole response. Zero-initialise and set what applies:
 * fields after finish_reason were added later and default to "absent". */
struct choice_result {
  const char *content; /* content_len bytes, any bytes (see json_escape_append);
                          NULL is sent as "" */
  size_t content_len;
  const char *finish_reason; /* "stop", "length", ...; NULL = "stop" */
  /* "reasoning_content" after "content", only when has_reasoning (then
   * NULL is sent as ""). */
  const char *reasoning;
  size_t reasoning_len;
  int has_reasoning;
  /* "tool_calls":[...] after "refusal", only when n_tool_calls > 0. */
  const struct tool_call *tool_calls;
  size_t n_tool_calls;
  int content_null; /* "content":null (tool calls and no text) */
  /* Deprecated `functions` API: "function_call":{"name","arguments"} from
   * tool_calls[0] instead of "tool_calls" (still only when n_tool_calls > 0;
   * the other calls and the id are not sent). */
  int legacy_function_call;
  /* The client's stop sequence that ended the output, or NULL (not sent by
   * the chat and text builders; Anthropic's answer names it). */
  const char *stop_sequence;
};

/* The identity every chunk of one response shares. */
struct response_meta {
  const char *id;    /* "chatcmpl-..." */
  long created;      /* unix seconds */
  const char *model; /* as the client named it */
};

/* A whole chat.completion. Malloc'd, or NULL when out of memory.
 * message keys in order: role, content, reasoning_content?, refusal,
 * tool_calls? | function_call?. */
char *response_chat_completion(const struct response_meta *m,
                               const struct choice_result *choices, size_t n,
                               const struct usage *u);

/* Append one "data: {chunk}\n\n" event to out; each returns 0 or -1. */
int response_chunk_role(struct buf *out, const struct response_meta *m,
                        int index);
int response_chunk_content(struct buf *out, const struct response_meta *m,
                           int index, const char *text, size_t len);
int response_chunk_finish(struct buf *out, const struct response_meta *m,
                          int index, const char *finish_reason);
int response_chunk_usage(struct buf *out, const struct response_meta *m,
                         const struct usage *u);
/* "data: [DONE]\n\n" */
int response_done(struct buf *out);

/* More chunk events, same contract (one event appended, or -1 with out left
 * as it was). The delta of each:
 *   reasoning:     {"reasoning_content":"<text>"}
 *   tool_call:     {"tool_calls":[{"index":CALL_INDEX,"id":"<id>","type":
 *                  "function","function":{"name":"<name>","arguments":""}}]}
 *                  a call's first delta; call->arguments is not sent here
 *   tool_args:     {"tool_calls":[{"index":CALL_INDEX,"function":
 *                  {"arguments":"<frag>"}}]}
 *   function_call: {"function_call":{"name":"<name>","arguments":"<args>"}}
 *                  deprecated `functions` API; name NULL leaves "name" out
 *                  (a later fragment of the arguments)
 * Pass text and fragments in whole UTF-8 characters (see json_escape_append).
 * NULL text with any length is sent as "". */
int response_chunk_reasoning(struct buf *out, const struct response_meta *m,
                             int index, const char *text, size_t len);
/* A streamed text delta in three parts, for an encoder that sends many with
 * the same meta and index and keeps the part before the text:
 *   response_chunk_content   == prefix(reasoning 0) + escaped text + SUFFIX
 *   response_chunk_reasoning == prefix(reasoning 1) + escaped text + SUFFIX
 * (escaped as json_escape_append). The prefix: 0 or -1, out as it was. */
int response_chunk_text_prefix(struct buf *out, const struct response_meta *m, int index,
                               int reasoning);
extern const char RESPONSE_CHUNK_TEXT_SUFFIX[];
int response_chunk_tool_call(struct buf *out, const struct response_meta *m,
                             int index, const struct tool_call *call,
                             int call_index);
int response_chunk_tool_args(struct buf *out, const struct response_meta *m,
                             int index, int call_index, const char *frag,
                             size_t len);
int response_chunk_function_call(struct buf *out,
                                 const struct response_meta *m, int index,
                                 const char *name, size_t name_len,
                                 const char *args, size_t args_len);

/* Legacy text completions (POST /v1/completions), object "text_completion";
 * m->id is used as given (the caller makes it "cmpl-...").
 * The whole response: choices[i] gives {"text":content,"index":i,
 * "logprobs":null,"finish_reason":..} (only content, content_len and
 * finish_reason are read); usage left out when u is NULL. Malloc'd, or NULL
 * when out of memory. */
char *response_text_completion(const struct response_meta *m,
                               const struct choice_result *choices, size_t n,
                               const struct usage *u);
/* One streamed event: data: {..,"choices":[{"text":"<text>","index":INDEX,
 * "logprobs":null,"finish_reason":FR}]}\n\n with FR null when finish_reason
 * is NULL (a choice's last event carries it, with text ""). */
int response_text_chunk(struct buf *out, const struct response_meta *m,
                        int index, const char *text, size_t len,
                        const char *finish_reason);
/* data: {..,"choices":[],"usage":{..}}\n\n (stream_options.include_usage) */
int response_text_usage(struct buf *out, const struct response_meta *m,
                        const struct usage *u);

/* An id: prefix then one character of [A-Za-z0-9] per random byte (byte %
 * 62: the first 8 characters are slightly likelier, fine for uniqueness).
 * Pure; the caller supplies the bytes (getrandom). Truncated to fit cap and
 * NUL-terminated when cap > 0; a NULL prefix is "". OpenAI tool call ids:
 * prefix "call_" and RESPONSE_CALL_ID_RANDOM bytes into
 * char[RESPONSE_CALL_ID_CAP]. */
#define RESPONSE_CALL_ID_RANDOM 24
#define RESPONSE_CALL_ID_CAP (5 + RESPONSE_CALL_ID_RANDOM + 1)
void response_make_id(char *out, size_t cap, const char *prefix,
                      const unsigned char *random_bytes, size_t n);

/* Addition: JSON string escaping for every hand-built JSON text.
 * json_escape_append appends the escaped bytes of s[0..len) without quotes;
 * json_quote_append adds the surrounding quotes. `"`, backslash and control
 * bytes are escaped (\n \r \t \b \f short, others and NUL as \u00xx);
 * valid UTF-8 passes through untouched; each ill-formed UTF-8 sequence
 * becomes U+FFFD, so the result is always valid JSON. Pass text in whole
 * characters: a character split across two calls becomes U+FFFD twice.
 * Return 0, or -1 when out of memory (out is then left as it was). */
int json_escape_append(struct buf *out, const char *s, size_t len);
int json_quote_append(struct buf *out, const char *s, size_t len);

/* Token estimate for text with no upstream count: about 4 bytes a token,
 * rounded up; 0 for empty text. */
long usage_estimate_tokens(const char *text, size_t len);

#endif
