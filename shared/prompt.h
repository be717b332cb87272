/* Prompt rendering: a conversation becomes the model's one `prompt`
 * string. Formats live in one table (prompt.c); a new model family is one
 * more row. */
#ifndef RP_PROMPT_H
#define RP_PROMPT_H

#include "buf.h"
#include "chat_request.h"

enum prompt_format {
  PROMPT_PLAIN,    /* default: Replicate applies the chat template itself */
  PROMPT_DEEPSEEK, /* the exact DeepSeek V3.1 template, for raw deployments */
};

/* Look a format up by its config name ("plain", "deepseek"): 0 or -1. */
int prompt_format_parse(const char *name, enum prompt_format *out);
/* "plain|deepseek", for --help and error messages. */
const char *prompt_format_names(void);

/* Append the rendered prompt to out. Returns 0, or -1 when out of memory. */
int prompt_render(enum prompt_format format, const struct chat_request *r,
                  struct buf *out);

#endif
