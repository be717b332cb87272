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
  const char *content; /* may contain NULs? no: UTF-8 text */
  size_t content_len;
  const char *finish_reason; /* "stop", "length", ... */
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

/* Token estimate for text with no upstream count: about 4 bytes a token,
 * rounded up; 0 for empty text. */
long usage_estimate_tokens(const char *text, size_t len);

#endif
