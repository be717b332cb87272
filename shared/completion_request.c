/* POST /v1/completions (legacy): the same model, sampling, stop, n and
 * stream validation as chat (shared helpers in chat_request.c), plus:
 *   prompt   a string, or an array of 1.. strings (one prompt each); token
 *            arrays are refused; required.
 *   echo     boolean.
 *   suffix   refused when a non-empty string (no fill-in-the-middle input).
 *   logprobs refused when given (an integer here, not chat's boolean).
 *   best_of  null or equal to n (choosing the best of several needs log
 *            probabilities the model does not return).
 *   max_tokens  OpenAI's legacy default is 16; when absent nothing is sent
 *            and the model's own default applies (1024 on Replicate), the
 *            same as chat. Clients that want 16 send it.
 * At most MAX_CHOICES choices in total (prompts x n): each is one
 * prediction. seed, user and unknown keys are ignored. */
#include "completion_request.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Choices (prompts x n) one request may ask for: n's own limit. */
#define MAX_CHOICES 128

#define TOKENS_REFUSED                                                         \
  "token arrays are not supported: deepseek-v3.1 on Replicate takes text. "   \
  "Send the prompt as a string or an array of strings."

static int add_prompt(struct completion_request *out, const char *s,
                      struct oai_error *err) {
  out->prompts[out->n_prompts] = strdup(s);
  if (!out->prompts[out->n_prompts])
    return req_fail_oom(err);
  out->n_prompts++;
  return 0;
}

static int parse_prompt(const cJSON *root, struct completion_request *out,
                        struct oai_error *err) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
  if (!req_given(p))
    return req_fail_missing(err, "prompt");
  if (cJSON_IsString(p)) {
    out->prompts = calloc(1, sizeof *out->prompts);
    return out->prompts ? add_prompt(out, p->valuestring, err)
                        : req_fail_oom(err);
  }
  if (!cJSON_IsArray(p))
    return req_fail_type(err, "prompt", "a string or an array of strings", p);
  int n = cJSON_GetArraySize(p);
  if (n == 0) {
    oai_invalid(err, "prompt", "Invalid 'prompt': empty array. Expected an "
                "array with minimum length 1, but got an empty array "
                "instead.");
    return -1;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, p) {
    if (cJSON_IsNumber(s) || cJSON_IsArray(s)) {
      oai_invalid(err, "prompt", TOKENS_REFUSED);
      return -1;
    }
    if (!cJSON_IsString(s))
      return req_fail_type(err, "prompt", "a string or an array of strings",
                           s);
  }
  out->prompts = calloc((size_t)n, sizeof *out->prompts);
  if (!out->prompts)
    return req_fail_oom(err);
  cJSON_ArrayForEach(s, p) {
    if (add_prompt(out, s->valuestring, err) != 0)
      return -1;
  }
  return 0;
}

/* OpenAI inputs this model cannot honour: refused by name. */
static int parse_unsupported(const cJSON *root, struct completion_request *out,
                             struct oai_error *err) {
  const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(root, "suffix");
  if (req_given(suffix)) {
    if (!cJSON_IsString(suffix))
      return req_fail_type(err, "suffix", "a string", suffix);
    if (suffix->valuestring[0]) {
      oai_invalid(err, "suffix", "suffix is not supported: DeepSeek V3.1 on "
                  "Replicate has no fill-in-the-middle input.");
      return -1;
    }
  }
  if (req_given(cJSON_GetObjectItemCaseSensitive(root, "logprobs"))) {
    oai_invalid(err, "logprobs", "logprobs is not supported: the model on "
                "Replicate returns no log probabilities.");
    return -1;
  }
  long best_of = 0;
  int has_best_of = 0;
  if (req_get_int(root, "best_of", 1, 128, &best_of, &has_best_of, err) != 0)
    return -1;
  if (has_best_of && best_of != out->base.n) {
    oai_invalid(err, "best_of", "best_of is not supported: choosing the best "
                "of several completions needs log probabilities the model "
                "does not return. Leave it out or set it equal to n.");
    return -1;
  }
  return 0;
}

int completion_request_parse(const char *body, size_t len,
                             const char *configured_model, long max_n,
                             struct completion_request *out,
                             struct oai_error *err) {
  memset(out, 0, sizeof *out);
  req_init(&out->base);
  cJSON *root = req_parse_object(body, len, err);
  if (!root)
    return -1;
  int rc = -1;
  if (req_parse_model(root, configured_model, &out->base, err) != 0 ||
      parse_prompt(root, out, err) != 0 ||
      req_parse_sampling(root, 0, max_n, &out->base, err) != 0 ||
      req_get_bool(root, "echo", "echo", &out->echo, err) != 0 ||
      parse_unsupported(root, out, err) != 0)
    goto done;
  if (out->n_prompts * (size_t)out->base.n > MAX_CHOICES) {
    oai_invalid(err, "prompt", "Too many completions: %zu prompts with n=%d "
                "ask for %zu, more than %d.", out->n_prompts, out->base.n,
                out->n_prompts * (size_t)out->base.n, MAX_CHOICES);
    goto done;
  }
  rc = 0;
done:
  cJSON_Delete(root);
  if (rc != 0)
    completion_request_free(out);
  return rc;
}

void completion_request_free(struct completion_request *r) {
  if (!r)
    return;
  chat_request_free(&r->base);
  for (size_t i = 0; i < r->n_prompts; i++)
    free(r->prompts[i]);
  free(r->prompts);
  memset(r, 0, sizeof *r);
}
