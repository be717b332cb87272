#include "../../shared/upstream_error.h"

#include <stdlib.h>

#include "test.h"

/* Map a body held in an exact-size heap copy (no NUL after it). */
static void from_http(int status, const char *body, const char *retry_after,
                      struct oai_error *e) {
  size_t len = body ? strlen(body) : 0;
  char *copy = body ? malloc(len ? len : 1) : NULL;
  if (copy)
    memcpy(copy, body, len);
  memset(e, 0x5A, sizeof *e);
  upstream_error_from_http(status, copy, len, retry_after, e);
  free(copy);
}

static const char body_401[] =
    "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid authentication token\",\"status\":401}";
static const char body_402[] =
    "{\"title\":\"Billing required\",\"detail\":\"You need to set up billing to run this model. Go to "
    "https://replicate.com/account/billing#billing to set it up. If you have recently set up billing, "
    "please wait a few minutes before trying again.\",\"status\":402}";
static const char body_404[] = "{\"detail\":\"The requested resource could not be found.\",\"status\":404}";
static const char body_422[] =
    "{\"detail\":\"- input: prompt is required\\n- input.num_inference_steps: Must be less than or equal to 4\\n\","
    "\"status\":422,\"title\":\"Input validation failed\",\"invalid_fields\":[{\"type\":\"required\","
    "\"field\":\"input\",\"description\":\"prompt is required\"}]}";
static const char body_429[] = "{\"detail\":\"Request was throttled. Expected available in 1 second.\"}";
static const char body_500[] = "{\"detail\":\"Internal server error\"}";
static const char body_html[] =
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";

static void test_table(void) {
  struct oai_error e;
  static const struct {
    int upstream;
    const char *body;
    int status;
    const char *type, *code, *message;
  } rows[] = {
      {401, body_401, 401, "invalid_request_error", "invalid_api_key",
       "Replicate: You did not pass a valid authentication token"},
      {403, "{\"title\":\"Forbidden\",\"status\":403}", 403, "invalid_request_error", "invalid_api_key",
       "Replicate: Forbidden"},
      {402, body_402, 402, "insufficient_quota", "insufficient_quota",
       "Replicate: You need to set up billing to run this model. Go to "
       "https://replicate.com/account/billing#billing to set it up. If you have recently set up billing, "
       "please wait a few minutes before trying again."},
      {404, body_404, 404, "invalid_request_error", "not_found",
       "Replicate: The requested resource could not be found."},
      {422, body_422, 400, "invalid_request_error", "upstream_validation_error",
       "Replicate: - input: prompt is required\n- input.num_inference_steps: Must be less than or equal to 4\n"},
      {429, body_429, 429, "rate_limit_error", "rate_limit_exceeded",
       "Replicate: Request was throttled. Expected available in 1 second."},
      {400, "{\"detail\":\"bad\"}", 400, "invalid_request_error", "upstream_error", "Replicate: bad"},
      {409, "{\"title\":\"Conflict\"}", 400, "invalid_request_error", "upstream_error", "Replicate: Conflict"},
      {413, body_html, 400, "invalid_request_error", "upstream_error",
       "Replicate: the request failed with HTTP status 413"},
      {499, "", 400, "invalid_request_error", "upstream_error",
       "Replicate: the request failed with HTTP status 499"},
      {500, body_500, 502, "server_error", "upstream_error", "Replicate: Internal server error"},
      {502, body_html, 502, "server_error", "upstream_error",
       "Replicate: the request failed with HTTP status 502"},
      {503, NULL, 502, "server_error", "upstream_error",
       "Replicate: the request failed with HTTP status 503"},
      {504, "not json at all", 502, "server_error", "upstream_error",
       "Replicate: the request failed with HTTP status 504"},
      {302, "{\"detail\":\"moved\"}", 502, "server_error", "upstream_error", "Replicate: moved"},
      {0, NULL, 502, "server_error", "upstream_error", "Replicate: the request failed with HTTP status 0"},
      {600, "[1,2]", 502, "server_error", "upstream_error",
       "Replicate: the request failed with HTTP status 600"},
  };
  TEST("every row of the HTTP mapping");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    from_http(rows[i].upstream, rows[i].body, NULL, &e);
    CHECK_INT(e.status, rows[i].status);
    CHECK_STR(e.type, rows[i].type);
    CHECK_STR(e.code, rows[i].code);
    CHECK_STR(e.param, "");
    CHECK_STR(e.message, rows[i].message);
    CHECK_STR(e.retry_after, "");
  }

  TEST("whole serialised 401");
  from_http(401, body_401, NULL, &e);
  char *json = oai_error_json(&e);
  CHECK_STR(json, "{\"error\":{\"message\":\"Replicate: You did not pass a valid authentication token\","
                  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}");
  free(json);
}

static void test_details(void) {
  struct oai_error e;
  TEST("detail preferred, title as fallback, empty detail skipped");
  from_http(404, "{\"title\":\"Not found\",\"detail\":\"\"}", NULL, &e);
  CHECK_STR(e.message, "Replicate: Not found");
  from_http(404, "{\"title\":\"Not found\",\"detail\":null}", NULL, &e);
  CHECK_STR(e.message, "Replicate: Not found");
  from_http(404, "{\"title\":5,\"detail\":null}", NULL, &e);
  CHECK_STR(e.message, "Replicate: the request failed with HTTP status 404");

  TEST("a list detail is shown as JSON");
  from_http(422, "{\"detail\":[{\"loc\":[\"body\",\"input\"],\"msg\":\"field required\"}]}", NULL, &e);
  CHECK_INT(e.status, 400);
  CHECK_STR(e.message, "Replicate: [{\"loc\":[\"body\",\"input\"],\"msg\":\"field required\"}]");

  TEST("retry-after on 429");
  from_http(429, body_429, "5", &e);
  CHECK_INT(e.status, 429);
  CHECK_STR(e.retry_after, "5");
  from_http(429, body_429, " 30\t", &e);
  CHECK_STR(e.retry_after, "30");
  from_http(429, body_429, "Wed, 21 Oct 2015 07:28:00 GMT", &e);
  CHECK_STR(e.retry_after, "Wed, 21 Oct 2015 07:28:00 GMT");
  from_http(429, body_429, NULL, &e);
  CHECK_STR(e.retry_after, "");
  from_http(429, body_429, "", &e);
  CHECK_STR(e.retry_after, "");
  from_http(429, "", "2", &e);
  CHECK_STR(e.retry_after, "2");
  CHECK_STR(e.message, "Replicate: the request failed with HTTP status 429");

  TEST("unsafe or oversized retry-after is dropped");
  from_http(429, body_429, "5\r\nSet-Cookie: x=1", &e);
  CHECK_STR(e.retry_after, "");
  from_http(429, body_429, "Wednesday, 21-Oct-2015 07:28:00 GMT extra", &e);
  CHECK_STR(e.retry_after, "");

  TEST("retry-after ignored on other statuses");
  from_http(503, body_500, "10", &e);
  CHECK_INT(e.status, 502);
  CHECK_STR(e.retry_after, "");

  TEST("long detail is cut on a character boundary");
  {
    size_t n = 1500;
    char *body = malloc(n * 2 + 32);
    size_t len = (size_t)snprintf(body, 32, "{\"detail\":\"");
    for (size_t i = 0; i < n; i++) {
      body[len++] = '\xC3';
      body[len++] = '\xA9'; /* é */
    }
    memcpy(body + len, "\"}", 3);
    from_http(500, body, NULL, &e);
    size_t mlen = strlen(e.message);
    CHECK(mlen < sizeof e.message && mlen > 1000);
    CHECK(strncmp(e.message, "Replicate: \xC3\xA9", 13) == 0);
    CHECK(((mlen - strlen("Replicate: ")) % 2) == 0);
    CHECK((unsigned char)e.message[mlen - 1] == 0xA9);
    free(body);
  }
}

static void test_prediction_errors(void) {
  struct oai_error e;
  struct prediction p;
  memset(&p, 0, sizeof p);
  TEST("failed prediction");
  p.status = PRED_FAILED;
  p.error = "E1001 out of memory";
  upstream_error_from_prediction(&p, &e);
  CHECK_INT(e.status, 502);
  CHECK_STR(e.type, "server_error");
  CHECK_STR(e.code, "prediction_failed");
  CHECK_STR(e.message, "Prediction failed: E1001 out of memory");
  CHECK_STR(e.retry_after, "");

  TEST("failed without error text");
  p.error = NULL;
  upstream_error_from_prediction(&p, &e);
  CHECK_STR(e.code, "prediction_failed");
  CHECK_STR(e.message, "Prediction failed");
  p.error = "";
  upstream_error_from_prediction(&p, &e);
  CHECK_STR(e.message, "Prediction failed");

  TEST("canceled and aborted");
  p.status = PRED_CANCELED;
  p.error = NULL;
  upstream_error_from_prediction(&p, &e);
  CHECK_INT(e.status, 502);
  CHECK_STR(e.type, "server_error");
  CHECK_STR(e.code, "prediction_canceled");
  CHECK_STR(e.message, "Prediction canceled");
  p.status = PRED_ABORTED;
  p.error = "deadline passed";
  upstream_error_from_prediction(&p, &e);
  CHECK_STR(e.code, "prediction_aborted");
  CHECK_STR(e.message, "Prediction aborted: deadline passed");

  TEST("any other status");
  p.status = PRED_PROCESSING;
  p.error = NULL;
  upstream_error_from_prediction(&p, &e);
  CHECK_INT(e.status, 502);
  CHECK_STR(e.type, "server_error");
  CHECK_STR(e.code, "upstream_error");
  CHECK_STR(e.message, "Prediction ended with status processing");
  p.status = PRED_UNKNOWN;
  upstream_error_from_prediction(&p, &e);
  CHECK_STR(e.message, "Prediction ended with status unknown");

  TEST("parsed failed prediction end to end");
  const char *json = "{\"id\":\"x\",\"status\":\"failed\",\"error\":\"E6716 Timed out starting\"}";
  CHECK_INT(prediction_parse(json, strlen(json), &p), 0);
  upstream_error_from_prediction(&p, &e);
  CHECK_STR(e.message, "Prediction failed: E6716 Timed out starting");
  char *sse = oai_error_sse(&e);
  CHECK_STR(sse, "data: {\"error\":{\"message\":\"Prediction failed: E6716 Timed out starting\","
                 "\"type\":\"server_error\",\"param\":null,\"code\":\"prediction_failed\"}}\n\n");
  free(sse);
  prediction_free(&p);
}

void suite_upstream_error(void) {
  test_table();
  test_details();
  test_prediction_errors();
}
