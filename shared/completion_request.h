/* POST /v1/completions (legacy): parse and validate into the same sampling
 * fields as a chat request, plus the prompts. */
#ifndef RP_COMPLETION_REQUEST_H
#define RP_COMPLETION_REQUEST_H

#include <stddef.h>

#include "chat_request.h"

struct completion_request {
  /* model, alias, sampling numbers, stop, n, stream, include_usage;
   * messages, tools and JSON mode stay empty. Build each prediction body
   * with chat_request_prediction_body(&r->base, prompts[i]). */
  struct chat_request base;
  char **prompts; /* a string prompt is one; an array gives one each */
  size_t n_prompts;
  int echo;       /* prepend the prompt to each choice's text */
};

/* Same contract as chat_request_parse. `suffix` is rejected (400, param
 * "suffix"); `logprobs` (an integer here), `best_of` other than n,
 * `logit_bias` are 400s naming the parameter. max_tokens absent: nothing
 * is sent (the model's default, not OpenAI's legacy 16). n is at most
 * max_n (a best_of above it differs from n, so it is refused too); prompts
 * x n is at most 128. See completion_request.c. */
int completion_request_parse(const char *body, size_t len,
                             const char *configured_model, long max_n,
                             struct completion_request *out,
                             struct oai_error *err);
void completion_request_free(struct completion_request *r);

#endif
