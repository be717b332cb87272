/* Replicate prediction objects (create/get/cancel replies), parsed into
 * what the proxy needs. Lenient: unknown fields are ignored, output may be
 * an array of strings, a string or null. */
#ifndef RP_PREDICTION_H
#define RP_PREDICTION_H

#include <stddef.h>

enum pred_status {
  PRED_UNKNOWN = 0,
  PRED_STARTING,
  PRED_PROCESSING,
  PRED_SUCCEEDED,
  PRED_FAILED,
  PRED_CANCELED,
  PRED_ABORTED,
};

struct prediction {
  char *id;
  enum pred_status status;
  char *output;       /* joined output ("" when null/absent); never NULL */
  size_t output_len;
  int has_output;     /* output was present and not null */
  char *error;        /* error text, or NULL */
  char *url_get, *url_stream, *url_cancel; /* NULL when absent */
  long input_tokens;  /* metrics.input_token_count, -1 when absent */
  long output_tokens; /* metrics.output_token_count, -1 when absent */
};

/* 0 on success; -1 when the text is not a JSON object with a non-empty
 * string `id` (then *out is left zeroed; prediction_free is still safe).
 * *out is overwritten, not freed first. The leniency rules are listed at the
 * top of prediction.c. */
int prediction_parse(const char *json, size_t len, struct prediction *out);
void prediction_free(struct prediction *p);

/* The top-level `id` of a prediction object that may be cut off (a reply
 * over the size bound): malloc'd, or NULL when it is not there before the
 * cut or holds characters no id has (it goes into a URL). */
char *prediction_peek_id(const char *json, size_t len);

int prediction_is_terminal(enum pred_status s);
const char *prediction_status_name(enum pred_status s);

#endif
