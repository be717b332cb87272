/* Building what the client receives: chat.completion objects and
 * chat.completion.chunk SSE events, plus the usage estimate. */
#ifndef RP_RESPONSE_H
#define RP_RESPONSE_H

#include <stddef.h>

#include "buf.h"

struct usage {
  long prompt_tokens;
  long completion_tokens;
  long reasoning_tokens; /* -1: unknown, field omitted */
};

struct choice_result {
  const char *content; /* content_len bytes, any bytes (see json_escape_append);
                          NULL is sent as "" */
  size_t content_len;
  const char *finish_reason; /* "stop", "length", ...; NULL = "stop" */
};

/* The identity every chunk of one response shares. */
struct response_meta {
  const char *id;    /* "chatcmpl-..." */
  long created;      /* unix seconds */
  const char *model; /* as the client named it */
};

/* A whole chat.completion. Malloc'd, or NULL when out of memory. */
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
