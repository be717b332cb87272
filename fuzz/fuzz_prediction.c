/* libFuzzer target: Replicate replies (create/get/cancel bodies) through
 * prediction_parse, prediction_peek_id, prediction_list_find and the upstream
 * error mapping. Invariants: parsing never
 * reads past len, and a parsed prediction's output can be re-encoded as a
 * chat.completion that is valid JSON. */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/prediction.h"
#include "../shared/prediction_list.h"
#include "../shared/response.h"
#include "../shared/upstream_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy: ASan catches any read past len. */
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  struct prediction p;
  if (prediction_parse(text, size, &p) == 0) {
    struct choice_result c;
    memset(&c, 0, sizeof c);
    c.content = p.output;
    c.content_len = p.output_len;
    c.finish_reason = "stop";
    struct response_meta m = {"chatcmpl-x", 1, "deepseek-v3.1"};
    struct usage u = {p.input_tokens, p.output_tokens, -1, 0, 0};
    char *json = response_chat_completion(&m, &c, 1, &u);
    if (json) {
      cJSON *back = cJSON_Parse(json);
      if (!back)
        abort(); /* the escaper must always produce valid JSON */
      cJSON_Delete(back);
      free(json);
    }
    struct oai_error e;
    upstream_error_from_prediction(&p, &e);
    prediction_free(&p);
  }
  /* A reply cut off at any length: the id peek must stay inside it. */
  free(prediction_peek_id(text, size));
  /* The same bytes as a list of predictions (GET /v1/predictions). */
  int covered;
  if (prediction_list_find(text, size, "{\"input\":{\"prompt\":\"hi\"}}", 0, NULL, 0, &p,
                           &covered) == 1)
    prediction_free(&p);
  struct oai_error e;
  upstream_error_from_http(size ? 400 + data[0] % 200 : 500, text, size, "1", &e);
  free(text);
  return 0;
}
