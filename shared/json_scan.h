/* A scan of a request body's raw bytes before cJSON parses it, for what
 * cJSON would silently accept or alter: bytes that are not UTF-8 (they would
 * reach the prompt as they are) and NUL characters, escaped (\u0000) or raw,
 * inside strings (cJSON's strings are C strings: the text would be cut at
 * the NUL). Everything else, valid JSON or not, is left to cJSON. */
#ifndef RP_JSON_SCAN_H
#define RP_JSON_SCAN_H

#include <stddef.h>

#include "oai_error.h"

/* Returns 0, or -1 with err: 400 invalid_request_error, code
 * "invalid_encoding" (not UTF-8; the message gives the byte offset) or
 * "invalid_value" (a NUL in a string); param names the string's place in
 * the body as OpenAI does ("messages[0].content", "prompt[2]"), or is null
 * outside any field. For a NUL in an object key, the object is named. */
int json_scan(const char *body, size_t len, struct oai_error *err);

#endif
