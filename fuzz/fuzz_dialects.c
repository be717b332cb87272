/* libFuzzer target: Responses and Anthropic Messages request bodies through
 * their parsers (into the internal request), then the prompt, plus
 * Anthropic's error shape. Invariants: no crash or leak; every rejection is
 * an error with a 4xx/5xx status; every built body is valid JSON. */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/dialects/messages_request.h"
#include "../shared/dialects/responses_request.h"
#include "../shared/prompt.h"

static void check_json(char *body) {
  if (!body)
    return;
  cJSON *v = cJSON_Parse(body);
  if (!v)
    abort();
  cJSON_Delete(v);
  free(body);
}

static void check_request(int rc, struct chat_request *r, const struct oai_error *e) {
  if (rc != 0) {
    if (e->status < 400 || e->status > 599 || !e->message[0])
      abort();
    int status;
    check_json(messages_error_json(e, &status));
    return;
  }
  struct buf prompt = BUF_INIT;
  if (prompt_render(PROMPT_DEEPSEEK, r, &prompt) == 0)
    check_json(chat_request_prediction_body(r, prompt.data ? prompt.data : ""));
  buf_free(&prompt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct oai_error e;
  struct responses_request rr;
  int rc = responses_request_parse(text, size, "deepseek-ai/deepseek-v3.1", NULL, "", &rr, &e);
  check_request(rc, &rr.chat, &e);
  if (rc == 0)
    responses_request_free(&rr);
  char *glob = "claude-*";
  struct str_list routes = {&glob, 1};
  struct chat_request mr;
  for (int count_only = 0; count_only <= 1; count_only++) {
    rc = messages_request_parse(text, size, "deepseek-ai/deepseek-v3.1", &routes, count_only, &mr, &e);
    check_request(rc, &mr, &e);
    if (rc == 0)
      chat_request_free(&mr);
  }
  free(text);
  return 0;
}
