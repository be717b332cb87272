/* JSON mode over a text-only model: an instruction for the prompt, then
 * cleaning and checking what the model wrote. */
#ifndef RP_JSONMODE_H
#define RP_JSONMODE_H

#include <stddef.h>

#include "buf.h"
#include "chat_request.h"

/* Append the instruction for r's response_format (nothing for text):
 * answer with only a JSON object, and for json_schema the schema itself.
 * Returns 0 or -1 (OOM). prompt.c places it. */
int jsonmode_instruction(const struct chat_request *r, struct buf *out);

/* Turn the model's answer into clean JSON text in out: strip code fences
 * and surrounding prose, require one JSON value that parses (an object for
 * json_object), and for a json_schema with strict=true check the schema
 * (type, properties, required, additionalProperties:false, items, enum).
 * Returns 0, or -1 with a one-line reason in err. */
int jsonmode_clean(const char *text, size_t len, const struct chat_request *r,
                   struct buf *out, char *err, size_t errlen);

#endif
