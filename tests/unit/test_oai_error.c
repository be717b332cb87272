#include "../../shared/oai_error.h"

#include <stdlib.h>

#include "test.h"

void suite_oai_error(void) {
  struct oai_error e;
  TEST("invalid request with param");
  oai_invalid(&e, "temperature", "temperature must be between %d and %d", 0, 2);
  CHECK_INT(e.status, 400);
  char *json = oai_error_json(&e);
  CHECK_STR(json, "{\"error\":{\"message\":\"temperature must be between 0 and 2\","
                  "\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":null}}");
  free(json);
  TEST("code set, param null, quotes escaped");
  oai_error_set(&e, 404, "invalid_request_error", "model_not_found", NULL,
                "The model '%s' does not exist", "x\"y");
  json = oai_error_json(&e);
  CHECK_STR(json, "{\"error\":{\"message\":\"The model 'x\\\"y' does not exist\","
                  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}");
  free(json);
  TEST("sse form");
  oai_error_set(&e, 502, "server_error", "upstream_error", NULL, "boom");
  json = oai_error_sse(&e);
  CHECK_STR(json, "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\","
                  "\"param\":null,\"code\":\"upstream_error\"}}\n\n");
  free(json);
}
