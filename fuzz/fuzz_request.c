/* libFuzzer target: client request bodies (the proxy's most exposed input)
 * through chat and legacy-completion validation, both prompt formats and
 * the prediction body. Invariants: no crash or leak; every rejection is an
 * error object with a 4xx/5xx status; every built body is valid JSON. */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/chat_request.h"
#include "../shared/completion_request.h"
#include "../shared/prompt.h"

static void check_body(char *body) {
  if (!body)
    return;
  cJSON *v = cJSON_Parse(body);
  if (!v)
    abort();
  cJSON_Delete(v);
  free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct oai_error e;
  struct chat_request r;
  if (chat_request_parse(text, size, "deepseek-ai/deepseek-v3.1", 8, &r, &e) == 0) {
    for (int f = PROMPT_PLAIN; f <= PROMPT_DEEPSEEK; f++) {
      struct buf prompt = BUF_INIT;
      if (prompt_render((enum prompt_format)f, &r, &prompt) == 0)
        check_body(chat_request_prediction_body(&r, prompt.data ? prompt.data : ""));
      buf_free(&prompt);
    }
    chat_request_free(&r);
  } else if (e.status < 400 || e.status > 599 || !e.message[0]) {
    abort();
  }
  struct completion_request c;
  if (completion_request_parse(text, size, "deepseek-ai/deepseek-v3.1", 8, &c, &e) == 0) {
    for (size_t i = 0; i < c.n_prompts; i++)
      check_body(chat_request_prediction_body(&c.base, c.prompts[i]));
    completion_request_free(&c);
  } else if (e.status < 400 || e.status > 599 || !e.message[0]) {
    abort();
  }
  free(text);
  return 0;
}
