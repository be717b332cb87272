#include <string.h>

#include "../../shared/access_log.h"
#include "test.h"


/* The text line as printf wrote it before the cursor writer: the new one
 * must match it byte for byte. */
static int text_by_printf(struct buf *out, const struct access_log_entry *e) {
  int rc = buf_printf(out, "%s ", e->method ? e->method : "-") != 0;
  for (const unsigned char *p = (const unsigned char *)(e->path ? e->path : ""); !rc && *p; p++)
    rc = *p < 0x21 || *p >= 0x7f || *p == '\\' ? buf_printf(out, "\\x%02x", *p)
                                                : buf_append_char(out, (char)*p);
  rc = rc || buf_printf(out, " %d %ldms%s rid=%s", e->status, e->duration_ms,
                        e->client_gone ? " (client gone)" : "",
                        e->request_id ? e->request_id : "-") != 0;
  if (!rc && e->model)
    rc = buf_printf(out, " model=%s stream=%d tokens=%ld/%ld retries=%d pred=%s", e->model,
                    e->stream, e->prompt_tokens, e->completion_tokens, e->retries,
                    e->prediction_id ? e->prediction_id : "-") != 0;
  if (!rc && e->error_code)
    rc = buf_printf(out, " error=%s", e->error_code) != 0;
  return rc || buf_append_char(out, '\n') != 0 ? -1 : 0;
}

static unsigned long long text_rng = 88172645463325252ull;
static unsigned text_rand(unsigned n) {
  text_rng ^= text_rng << 13, text_rng ^= text_rng >> 7, text_rng ^= text_rng << 17;
  return (unsigned)(text_rng % n);
}

void suite_access_log(void) {
  test_current = "request_id_ok";
  CHECK(access_log_request_id_ok("abc-DEF_1.2"));
  CHECK(!access_log_request_id_ok(""));
  CHECK(!access_log_request_id_ok(NULL));
  CHECK(!access_log_request_id_ok("a b"));
  CHECK(!access_log_request_id_ok("a\nb"));
  CHECK(!access_log_request_id_ok("a\"b"));
  char id[REQUEST_ID_MAX + 2];
  memset(id, 'a', REQUEST_ID_MAX);
  id[REQUEST_ID_MAX] = '\0';
  CHECK(access_log_request_id_ok(id));
  id[REQUEST_ID_MAX] = 'a';
  id[REQUEST_ID_MAX + 1] = '\0';
  CHECK(!access_log_request_id_ok(id));

  test_current = "new_request_id";
  unsigned char rnd[REQUEST_ID_RANDOM];
  for (size_t i = 0; i < sizeof rnd; i++)
    rnd[i] = (unsigned char)(i * 11 + 250);
  char gen[REQUEST_ID_MAX + 1];
  access_log_new_request_id(gen, rnd);
  CHECK_INT(strlen(gen), 4 + REQUEST_ID_RANDOM);
  CHECK(strncmp(gen, "req_", 4) == 0);
  CHECK(access_log_request_id_ok(gen));

  test_current = "json";
  struct access_log_entry e = {
      .request_id = "req_1", .time_unix = 1700000000.25, .client = "127.0.0.1",
      .method = "POST", .path = "/v1/chat/completions", .route = "chat", .key_alias = "team-a",
      .model = "deepseek-v3.1", .stream = 1, .status = 200, .prompt_tokens = 12,
      .completion_tokens = 7, .cost_usd = 0.5, .ttfb_ms = 40, .duration_ms = 900,
      .retries = 1, .finish_reason = "stop", .prediction_id = "p1", .upstream_ms = 850};
  struct buf out;
  buf_init(&out);
  CHECK_INT(access_log_json(&out, &e), 0);
  CHECK_STR(out.data,
            "{\"request_id\":\"req_1\",\"time\":\"2023-11-14T22:13:20.250Z\",\"client\":\"127.0.0.1\","
            "\"method\":\"POST\",\"path\":\"/v1/chat/completions\",\"route\":\"chat\",\"key_alias\":\"team-a\","
            "\"model\":\"deepseek-v3.1\",\"stream\":true,\"status\":200,\"client_gone\":false,"
            "\"prompt_tokens\":12,\"completion_tokens\":7,\"cost_usd\":0.5,\"ttfb_ms\":40,"
            "\"duration_ms\":900,\"retries\":1,\"finish_reason\":\"stop\",\"prediction_id\":\"p1\","
            "\"error_code\":null,\"upstream_ms\":850}\n");

  /* Control characters and quotes in a path cannot break the line. */
  struct access_log_entry bad = {.request_id = "r", .method = "GET", .path = "/x\n\"y\\\x01",
                                 .route = "other", .status = 404, .prompt_tokens = -1,
                                 .completion_tokens = -1, .ttfb_ms = -1, .duration_ms = 1,
                                 .upstream_ms = -1};
  buf_reset(&out);
  CHECK_INT(access_log_json(&out, &bad), 0);
  CHECK(strstr(out.data, "\"upstream_ms\":null") != NULL);
  CHECK(strstr(out.data, "\"path\":\"/x\\u000a\\\"y\\\\\\u0001\"") != NULL);
  CHECK(strstr(out.data, "\"model\":null") != NULL);
  CHECK(strstr(out.data, "\"prompt_tokens\":null") != NULL);
  CHECK(strchr(out.data, '\n') == out.data + out.len - 1);

  test_current = "text";
  buf_reset(&out);
  CHECK_INT(access_log_text(&out, &bad), 0);
  CHECK_STR(out.data, "GET /x\\x0a\"y\\x5c\\x01 404 1ms rid=r\n");
  bad.error_code = "not_found";
  buf_reset(&out);
  CHECK_INT(access_log_text(&out, &bad), 0);
  CHECK_STR(out.data, "GET /x\\x0a\"y\\x5c\\x01 404 1ms rid=r error=not_found\n");
  buf_reset(&out);
  CHECK_INT(access_log_json(&out, &bad), 0);
  CHECK(strstr(out.data, "\"error_code\":\"not_found\"") != NULL);
  bad.error_code = NULL;
  buf_reset(&out);
  CHECK_INT(access_log_text(&out, &e), 0);
  CHECK_STR(out.data, "POST /v1/chat/completions 200 900ms rid=req_1 model=deepseek-v3.1 "
                      "stream=1 tokens=12/7 retries=1 pred=p1\n");
  /* Non-ASCII bytes (maybe not UTF-8) are escaped in both forms. */
  struct access_log_entry caf = {.request_id = "r", .method = "GET", .path = "/caf\xc3\xa9",
                                 .route = "other", .status = 404, .prompt_tokens = -1,
                                 .completion_tokens = -1, .ttfb_ms = -1, .duration_ms = 1};
  buf_reset(&out);
  CHECK_INT(access_log_text(&out, &caf), 0);
  CHECK_STR(out.data, "GET /caf\\xc3\\xa9 404 1ms rid=r\n");
  buf_reset(&out);
  CHECK_INT(access_log_json(&out, &caf), 0);
  CHECK(strstr(out.data, "\"path\":\"/caf\\u00c3\\u00a9\"") != NULL);


  /* Any path byte at any place of a word, long paths, and every optional
   * part present or not, against printf's line. */
  test_current = "text = printf's line";
  int text_ok = 1;
  static const long NUMS[] = {-1, 0, 7, 999, 1000, -2147483648L, 2147483647L, 123456789012L};
  for (int round = 0; round < 4000 && text_ok; round++) {
    char path[300];
    size_t plen = round < 255 * 2 ? 20 : text_rand(sizeof path - 1);
    for (size_t i = 0; i < plen; i++)
      path[i] = (char)('a' + text_rand(26));
    if (round < 255 * 2)
      path[round % 20] = (char)(1 + round / 2);
    else
      for (unsigned k = text_rand(4); k > 0 && plen; k--)
        path[text_rand((unsigned)plen)] = (char)(1 + text_rand(255));
    path[plen] = '\0';
    struct access_log_entry te = {
        .request_id = text_rand(5) ? "req_abc" : NULL, .method = text_rand(5) ? "POST" : NULL,
        .path = text_rand(9) ? path : NULL, .status = (int)NUMS[text_rand(8)],
        .duration_ms = NUMS[text_rand(8)], .client_gone = (int)text_rand(2),
        .model = text_rand(2) ? "deepseek-v3.1" : NULL, .stream = (int)text_rand(2),
        .prompt_tokens = NUMS[text_rand(8)], .completion_tokens = NUMS[text_rand(8)],
        .retries = (int)NUMS[text_rand(8)], .prediction_id = text_rand(3) ? "p_1" : NULL,
        .error_code = text_rand(3) ? NULL : "upstream_error"};
    struct buf want = BUF_INIT, got = BUF_INIT;
    text_ok = text_by_printf(&want, &te) == 0 && buf_append(&got, "x", 1) == 0 &&
              access_log_text(&got, &te) == 0 && got.len == want.len + 1 &&
              memcmp(got.data + 1, want.data, want.len + 1) == 0 &&
              got.len - 1 < access_log_text_bound(&te);
    if (!text_ok)
      fprintf(stderr, "round %d:\n  want %s  got  %s", round, want.data, got.data + 1);
    buf_free(&want);
    buf_free(&got);
  }
  CHECK(text_ok);

  /* Every byte at every place of a word: the eight-at-a-time scan escapes
   * what the byte-by-byte rule does. */
  test_current = "json escapes, any byte anywhere";
  int all_ok = 1;
  for (int c = 1; c < 256 && all_ok; c++)
    /* each length: the word, the tail's word, sixteen bytes, their tail */
    for (int len = 1; len <= 40 && all_ok; len++)
    for (int at = 0; at < len && all_ok; at++) {
      char path[48], want[300];
      memset(path, 'a', (size_t)len);
      path[len] = '\0';
      path[at] = (char)c;
      size_t w = 0;
      memcpy(want, "\"path\":\"", 8);
      w = 8;
      for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '"' || *p == '\\') {
          want[w++] = '\\';
          want[w++] = (char)*p;
        } else if (*p < 0x20 || *p >= 0x7f) {
          w += (size_t)snprintf(want + w, 7, "\\u%04x", *p);
        } else {
          want[w++] = (char)*p;
        }
      }
      want[w++] = '"';
      want[w] = '\0';
      struct access_log_entry pe = {.request_id = "r", .method = "GET", .path = path,
                                    .route = "other", .status = 404, .prompt_tokens = -1,
                                    .completion_tokens = -1, .ttfb_ms = -1, .duration_ms = 1};
      buf_reset(&out);
      all_ok = access_log_json(&out, &pe) == 0 && strstr(out.data, want) != NULL;
    }
  CHECK(all_ok);

  test_current = "clip";
  const char *secrets[] = {"sk-secret-123456", NULL, "short"};
  int cut = -1;
  buf_reset(&out);
  CHECK_INT(access_log_clip(&out, "a sk-secret-123456 b short", 26, 100, secrets, 3, &cut), 0);
  CHECK_STR(out.data, "a [redacted] b short"); /* under 8 bytes: not a secret */
  CHECK_INT(cut, 0);
  /* A secret at the bound is dropped whole, never shown in part. */
  buf_reset(&out);
  CHECK_INT(access_log_clip(&out, "abcd sk-secret-123456", 21, 10, secrets, 3, &cut), 0);
  CHECK_STR(out.data, "abcd ");
  CHECK_INT(cut, 1);
  buf_reset(&out);
  CHECK_INT(access_log_clip(&out, "x\0y", 3, 10, secrets, 3, &cut), 0);
  CHECK_INT(out.len, 3);
  CHECK_STR(out.data, "x y");
  buf_reset(&out);
  CHECK_INT(access_log_clip(&out, "", 0, 10, secrets, 3, &cut), 0);
  CHECK_STR(out.data, "");
  e.request_body = "{}";
  e.answer = "hi";
  e.answer_cut = 1;
  buf_reset(&out);
  CHECK_INT(access_log_json(&out, &e), 0);
  CHECK(strstr(out.data, ",\"request_body\":\"{}\",\"request_body_truncated\":false,"
                         "\"answer\":\"hi\",\"answer_truncated\":true}\n") != NULL);
  buf_free(&out);
}
