#include "../../shared/prediction.h"

#include <stdlib.h>

#include "test.h"

/* Parse from an exact-size heap copy with no NUL after it, so ASan catches
 * any read past `len`. */
static int parse_n(const char *json, size_t len, struct prediction *p) {
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return -2;
  memcpy(copy, json, len);
  int rc = prediction_parse(copy, len, p);
  free(copy);
  return rc;
}

static int parse(const char *json, struct prediction *p) {
  return parse_n(json, strlen(json), p);
}

/* Real reply (replicate-api.md section 2), line breaks as in the doc. */
static const char recorded[] =
    "{\"id\":\"pw050dtb51rj40cjb2vrcw97b8\",\"model\":\"meta/meta-llama-3-8b-instruct\",\n"
    " \"version\":\"dp-a557b7387b4940df25b23f779dc534c4\",\"input\":{\"prompt\":\"Please write a haiku about llamas\"},\n"
    " \"logs\":\"\",\"output\":[\"\\n\\n\",\"Here is\",\" a ha\",\"iku about\",\" llamas\",\":\\n\\nF\",\"uzzy,\",\" gentle eyes\",\n"
    " \"\\nSoft\",\"ly munch\",\"ing on\",\" the\",\" grass\\n\",\"Peaceful\",\", quiet\",\" soul\",\"\"],\n"
    " \"data_removed\":false,\"error\":null,\"status\":\"processing\",\"created_at\":\"2024-10-04T18:07:40.328Z\",\n"
    " \"urls\":{\"cancel\":\"https://api.replicate.com/v1/predictions/pw050dtb51rj40cjb2vrcw97b8/cancel\",\n"
    "         \"get\":\"https://api.replicate.com/v1/predictions/pw050dtb51rj40cjb2vrcw97b8\",\n"
    "         \"stream\":\"https://streaming-api.svc.rno2.c.replicate.net/v1/streams/3qkvm3bnqhaadgonsecw4twhnzlqi5s4sb5tgts72bo6c5wmjppq\"}}";

/* Cancel reply (replicate-api.md section 4), input and times filled in. */
static const char cancel_reply[] =
    "{\"completed_at\":\"2024-04-22T11:15:15.504128Z\",\"created_at\":\"2024-04-22T11:15:15.329000Z\","
    "\"error\":null,\"id\":\"hdwst0bb05rgp0cf0p29mzk2am\",\"input\":{\"prompt\":\"hi\"},"
    "\"logs\":null,\"metrics\":{\"predict_time\":0.128148,\"total_time\":0.175128},"
    "\"output\":null,\"started_at\":\"2024-04-22T11:15:15.376000Z\",\"status\":\"canceled\","
    "\"urls\":{\"get\":\"https://api.replicate.com/v1/predictions/hdwst0bb05rgp0cf0p29mzk2am\","
    "\"cancel\":\"https://api.replicate.com/v1/predictions/hdwst0bb05rgp0cf0p29mzk2am/cancel\"},"
    "\"model\":\"meta/llama\",\"version\":\"hidden\"}";

static void test_recorded(void) {
  struct prediction p;
  TEST("recorded create reply");
  CHECK_INT(parse(recorded, &p), 0);
  CHECK_STR(p.id, "pw050dtb51rj40cjb2vrcw97b8");
  CHECK_INT(p.status, PRED_PROCESSING);
  CHECK_INT(prediction_is_terminal(p.status), 0);
  CHECK_INT(p.has_output, 1);
  CHECK_MEM(p.output, p.output_len,
            "\n\nHere is a haiku about llamas:\n\nFuzzy, gentle eyes\n"
            "Softly munching on the grass\nPeaceful, quiet soul");
  CHECK(p.error == NULL);
  CHECK_STR(p.url_get, "https://api.replicate.com/v1/predictions/pw050dtb51rj40cjb2vrcw97b8");
  CHECK_STR(p.url_cancel,
            "https://api.replicate.com/v1/predictions/pw050dtb51rj40cjb2vrcw97b8/cancel");
  CHECK_STR(p.url_stream, "https://streaming-api.svc.rno2.c.replicate.net/v1/streams/"
                          "3qkvm3bnqhaadgonsecw4twhnzlqi5s4sb5tgts72bo6c5wmjppq");
  CHECK_INT(p.input_tokens, -1);
  CHECK_INT(p.output_tokens, -1);
  prediction_free(&p);
  CHECK(p.id == NULL && p.output == NULL && p.url_get == NULL);
  prediction_free(&p); /* freeing twice is harmless */

  TEST("cancel reply");
  CHECK_INT(parse(cancel_reply, &p), 0);
  CHECK_STR(p.id, "hdwst0bb05rgp0cf0p29mzk2am");
  CHECK_INT(p.status, PRED_CANCELED);
  CHECK_INT(prediction_is_terminal(p.status), 1);
  CHECK_INT(p.has_output, 0);
  CHECK_MEM(p.output, p.output_len, "");
  CHECK(p.error == NULL);
  CHECK(p.url_stream == NULL);
  CHECK_STR(p.url_get, "https://api.replicate.com/v1/predictions/hdwst0bb05rgp0cf0p29mzk2am");
  CHECK_INT(p.input_tokens, -1);
  CHECK_INT(p.output_tokens, -1);
  prediction_free(&p);
}

static void test_output_forms(void) {
  struct prediction p;
  TEST("async create: output null");
  CHECK_INT(parse("{\"id\":\"a\",\"status\":\"starting\",\"output\":null,\"logs\":\"\",\"error\":null}", &p), 0);
  CHECK_INT(p.status, PRED_STARTING);
  CHECK(p.output != NULL);
  CHECK_INT(p.output_len, 0);
  CHECK_STR(p.output, "");
  CHECK_INT(p.has_output, 0);
  prediction_free(&p);

  TEST("output absent");
  CHECK_INT(parse("{\"id\":\"a\"}", &p), 0);
  CHECK(p.output != NULL && p.output_len == 0 && p.has_output == 0);
  CHECK_INT(p.status, PRED_UNKNOWN);
  CHECK(p.error == NULL && p.url_get == NULL);
  prediction_free(&p);

  TEST("output a plain string");
  CHECK_INT(parse("{\"output\":\"Hello, \\\"world\\\"\",\"id\":\"a\",\"status\":\"succeeded\"}", &p), 0);
  CHECK_MEM(p.output, p.output_len, "Hello, \"world\"");
  CHECK_INT(p.has_output, 1);
  CHECK_INT(p.status, PRED_SUCCEEDED);
  prediction_free(&p);

  TEST("empty array is present but empty");
  CHECK_INT(parse("{\"id\":\"a\",\"output\":[]}", &p), 0);
  CHECK_INT(p.has_output, 1);
  CHECK_INT(p.output_len, 0);
  prediction_free(&p);

  TEST("non-string array items are skipped");
  CHECK_INT(parse("{\"id\":\"a\",\"output\":[\"a\",1,null,{\"x\":[\"y\"]},true,[\"z\"],\"b\"]}", &p), 0);
  CHECK_MEM(p.output, p.output_len, "ab");
  prediction_free(&p);

  TEST("other output types: their JSON text, compacted");
  CHECK_INT(parse("{\"id\":\"a\",\"output\":42}", &p), 0);
  CHECK_MEM(p.output, p.output_len, "42");
  CHECK_INT(p.has_output, 1);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"a\",\"output\": { \"text\" : \"a b\\\" c\" , \"n\" : [ 1 , 2 ] } }", &p), 0);
  CHECK_MEM(p.output, p.output_len, "{\"text\":\"a b\\\" c\",\"n\":[1,2]}");
  prediction_free(&p);

  TEST("escapes, NUL and surrogates decoded exactly");
  CHECK_INT(parse("{\"id\":\"a\",\"output\":[\"x\\u0000y\",\"\\n\\t\\r\\b\\f\\/\\\\\\\"\","
                  "\"\\u00e9\\u4E2D\\ud83d\\ude00\",\"\\ud800|\\udc00|\\ud83dx\"]}", &p), 0);
  CHECK_INT(p.output_len, 3 + 8 + 2 + 3 + 4 + 3 + 1 + 3 + 1 + 3 + 1);
  CHECK(p.output_len == 32 &&
        memcmp(p.output, "x\0y\n\t\r\b\f/\\\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"
                         "\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBDx", 32) == 0);
  prediction_free(&p);

  TEST("raw UTF-8 and invalid bytes pass through");
  CHECK_INT(parse("{\"id\":\"a\",\"output\":\"caf\xC3\xA9 \xFF\"}", &p), 0);
  CHECK_MEM(p.output, p.output_len, "caf\xC3\xA9 \xFF");
  prediction_free(&p);

  TEST("large output of many chunks");
  {
    size_t n = 20000, cap = n * 12 + 64, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len, "{\"id\":\"big\",\"output\":[");
    for (size_t i = 0; i < n; i++)
      len += (size_t)snprintf(big + len, cap - len, "%s\"tok%03zu\"", i ? "," : "", i % 1000);
    len += (size_t)snprintf(big + len, cap - len, "]}");
    CHECK_INT(parse_n(big, len, &p), 0);
    CHECK_INT(p.output_len, n * 6);
    CHECK(p.output_len == n * 6 && memcmp(p.output, "tok000tok001", 12) == 0 &&
          memcmp(p.output + p.output_len - 6, "tok999", 6) == 0);
    prediction_free(&p);
    free(big);
  }
}

static void test_fields(void) {
  struct prediction p;
  TEST("failed with error text");
  CHECK_INT(parse("{\"id\":\"f1\",\"status\":\"failed\",\"output\":null,"
                  "\"error\":\"E1001 out of memory\",\"logs\":\"...\"}", &p), 0);
  CHECK_INT(p.status, PRED_FAILED);
  CHECK_INT(prediction_is_terminal(p.status), 1);
  CHECK_STR(p.error, "E1001 out of memory");
  prediction_free(&p);

  TEST("error object kept as JSON text");
  CHECK_INT(parse("{\"id\":\"f1\",\"status\":\"failed\",\"error\":{ \"detail\": \"boom\", \"code\": 7 }}", &p), 0);
  CHECK_STR(p.error, "{\"detail\":\"boom\",\"code\":7}");
  prediction_free(&p);

  TEST("empty error string stays a string");
  CHECK_INT(parse("{\"id\":\"f1\",\"error\":\"\"}", &p), 0);
  CHECK_STR(p.error, "");
  prediction_free(&p);

  TEST("metrics present");
  CHECK_INT(parse("{\"id\":\"m\",\"status\":\"succeeded\",\"metrics\":{\"predict_time\":1.5,"
                  "\"input_token_count\":123,\"output_token_count\":45,"
                  "\"tokens_per_second\":30.1,\"time_to_first_token\":0.2}}", &p), 0);
  CHECK_INT(p.input_tokens, 123);
  CHECK_INT(p.output_tokens, 45);
  prediction_free(&p);

  TEST("metrics as floats are truncated");
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":12.9,\"output_token_count\":4.5e1}}", &p), 0);
  CHECK_INT(p.input_tokens, 12);
  CHECK_INT(p.output_tokens, 45);
  prediction_free(&p);

  TEST("metrics partly absent, odd or negative");
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"output_token_count\":7}}", &p), 0);
  CHECK_INT(p.input_tokens, -1);
  CHECK_INT(p.output_tokens, 7);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":\"12\",\"output_token_count\":-3}}", &p), 0);
  CHECK_INT(p.input_tokens, -1);
  CHECK_INT(p.output_tokens, -1);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":1e300,\"output_token_count\":null}}", &p), 0);
  CHECK_INT(p.input_tokens, -1);
  CHECK_INT(p.output_tokens, -1);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":null}", &p), 0);
  CHECK_INT(p.input_tokens, -1);
  prediction_free(&p);

  TEST("metrics: plain digits read directly agree with strtod at the edges");
  /* 15 digits take the digit loop, 16 and more strtod (whose double rounds
   * past 2^53); -0 is strtod's 0. */
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":999999999999999,"
                  "\"output_token_count\":0}}", &p), 0);
  CHECK_INT(p.input_tokens, 999999999999999L);
  CHECK_INT(p.output_tokens, 0);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":9007199254740993,"
                  "\"output_token_count\":-0}}", &p), 0);
  CHECK_INT(p.input_tokens, 9007199254740992L);
  CHECK_INT(p.output_tokens, 0);
  prediction_free(&p);
  CHECK_INT(parse("{\"id\":\"m\",\"metrics\":{\"input_token_count\":99999999999999999999}}", &p), 0);
  CHECK_INT(p.input_tokens, -1);
  prediction_free(&p);

  TEST("urls and status: escaped strings decoded, plain ones copied");
  CHECK_INT(parse("{\"id\":\"u\",\"status\":\"succ\\u0065eded\",\"urls\":{\"get\":\"https:\\/\\/g\","
                  "\"stream\":\"\",\"cancel\":\"https://c\"}}", &p), 0);
  CHECK_INT(p.status, PRED_SUCCEEDED);
  CHECK_STR(p.url_get, "https://g");
  CHECK_STR(p.url_stream, "");
  CHECK_STR(p.url_cancel, "https://c");
  prediction_free(&p);

  TEST("plain strings and keys around the 32-byte scan: every length, an escape anywhere");
  for (size_t len = 0; len < 70; len++) {
    for (size_t esc = 0; esc <= len; esc++) { /* esc == len: no escape */
      char val[160], want[80], json[400];
      size_t v = 0;
      for (size_t i = 0; i < len; i++) {
        if (i == esc) {
          val[v++] = '\\';
          val[v++] = '/';
          want[i] = '/';
        } else {
          val[v++] = want[i] = (char)('a' + i % 26);
        }
      }
      val[v] = want[len] = '\0';
      /* the same text as a key (for "get": the value then lands in url_get) */
      snprintf(json, sizeof json, "{\"id\":\"x\",\"urls\":{\"%s\":\"k\",\"get\":\"%s\"}}", val, val);
      if (parse(json, &p) != 0 || !p.url_get || strcmp(p.url_get, want) != 0) {
        test_fail(__FILE__, __LINE__, "len %zu escape at %zu: %s", len, esc, json);
        prediction_free(&p);
        break;
      }
      test_passed++;
      prediction_free(&p);
    }
  }
  CHECK_INT(parse("{\"id\":\"x\",\"urls\":{\"get\":\"abcdefghijabcdefghijabcdefghijabcdefghij", &p), -1);
  CHECK_INT(parse("{\"id\":\"x\",\"urls\":{\"get\":\"abc", &p), -1);
  {
    /* past the 64 bytes scanned a word at a time: unterminated after an
     * escape, and a long value ending in an escape then its quote */
    char json[400], a[101];
    memset(a, 'a', 100);
    a[100] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"x\",\"urls\":{\"get\":\"%.80s\\n%s", a, a);
    CHECK_INT(parse(json, &p), -1);
    snprintf(json, sizeof json, "{\"id\":\"x\",\"urls\":{\"get\":\"%.90s\\\\\"}}", a);
    CHECK_INT(parse(json, &p), 0);
    CHECK_INT(p.url_get ? (long)strlen(p.url_get) : -1, 91);
    CHECK(p.url_get && p.url_get[90] == '\\');
    prediction_free(&p);
  }

  TEST("urls: non-strings ignored, web ignored");
  CHECK_INT(parse("{\"id\":\"u\",\"urls\":{\"get\":null,\"stream\":5,\"web\":\"https://replicate.com/p/u\","
                  "\"cancel\":\"c\"}}", &p), 0);
  CHECK(p.url_get == NULL && p.url_stream == NULL);
  CHECK_STR(p.url_cancel, "c");
  prediction_free(&p);

  TEST("every status name");
  static const struct {
    const char *name;
    enum pred_status s;
    int terminal;
  } st[] = {
      {"starting", PRED_STARTING, 0},   {"processing", PRED_PROCESSING, 0},
      {"succeeded", PRED_SUCCEEDED, 1}, {"failed", PRED_FAILED, 1},
      {"canceled", PRED_CANCELED, 1},   {"aborted", PRED_ABORTED, 1},
      {"queued", PRED_UNKNOWN, 0},      {"Succeeded", PRED_UNKNOWN, 0},
      {"", PRED_UNKNOWN, 0},
  };
  for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
    char json[128];
    snprintf(json, sizeof json, "{\"id\":\"s\",\"status\":\"%s\"}", st[i].name);
    CHECK_INT(parse(json, &p), 0);
    CHECK_INT(p.status, st[i].s);
    CHECK_INT(prediction_is_terminal(p.status), st[i].terminal);
    if (st[i].s != PRED_UNKNOWN)
      CHECK_STR(prediction_status_name(p.status), st[i].name);
    prediction_free(&p);
  }
  CHECK_STR(prediction_status_name(PRED_UNKNOWN), "unknown");
  CHECK_STR(prediction_status_name((enum pred_status)99), "unknown");
  CHECK_INT(parse("{\"id\":\"s\",\"status\":3}", &p), 0);
  CHECK_INT(p.status, PRED_UNKNOWN);
  prediction_free(&p);

  TEST("duplicate keys: last wins, nothing leaks");
  CHECK_INT(parse("{\"id\":\"one\",\"output\":[\"a\"],\"error\":\"e\",\"urls\":{\"get\":\"g1\",\"get\":\"g2\"},"
                  "\"id\":\"two\",\"output\":\"b\",\"error\":null,\"urls\":{\"get\":\"g3\"}}", &p), 0);
  CHECK_STR(p.id, "two");
  CHECK_MEM(p.output, p.output_len, "b");
  CHECK(p.error == NULL);
  CHECK_STR(p.url_get, "g3");
  prediction_free(&p);

  TEST("unknown fields of every kind are skipped");
  CHECK_INT(parse("\xEF\xBB\xBF { \"input\" : {\"a\":[1,-2.5e-3,0,true,false,null,{},[]],\"b\":{\"c\":\"\\u1234\"}},"
                  " \"data_removed\" : true , \"id\" : \"k\" } \n", &p), 0);
  CHECK_STR(p.id, "k");
  prediction_free(&p);
}

static void test_rejects(void) {
  struct prediction p;
  static const char *bad[] = {
      "",
      "   ",
      "null",
      "[{\"id\":\"a\"}]",
      "\"id\"",
      "{}",
      "{\"id\":null}",
      "{\"id\":42}",
      "{\"id\":\"\"}",
      "{\"id\":\"\\u0000x\"}",
      "{\"id\":\"a\"",
      "{\"id\":\"a\",}",
      "{\"id\":\"a\"} x",
      "{\"id\":\"a\"}{}",
      "{\"id\":\"a\",\"output\":[\"x\",]}",
      "{\"id\":\"a\",\"output\":[\"x\"}",
      "{\"id\":\"a\",\"output\":\"unterminated}",
      "{\"id\":\"a\",\"output\":\"bad \\x escape\"}",
      "{\"id\":\"a\",\"output\":\"bad \\u12g4\"}",
      "{\"id\":\"a\",\"output\":\"short \\u12\"}",
      "{\"id\":\"a\",\"output\":\"ends in backslash\\",
      "{\"id\":\"a\",\"output\":nul}",
      "{\"id\":\"a\",\"x\":01}",
      "{\"id\":\"a\",\"x\":1.}",
      "{\"id\":\"a\",\"x\":-}",
      "{\"id\":\"a\",\"x\":1e}",
      "{\"id\":\"a\",\"x\":+1}",
      "{\"id\":\"a\",\"x\":tru}",
      "{\"id\":\"a\" \"x\":1}",
      "{\"id\" \"a\"}",
      "{id:\"a\"}",
      "{\"id\":\"a\",\"metrics\":{\"input_token_count\":}}",
      "<html><body>502 Bad Gateway</body></html>",
  };
  TEST("malformed or id-less input is rejected");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&p, 0x5A, sizeof p);
    int rc = parse(bad[i], &p);
    if (rc != -1)
      test_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
    else
      test_passed++;
    CHECK(p.id == NULL && p.output == NULL && p.error == NULL && p.url_get == NULL);
    prediction_free(&p);
  }
  CHECK_INT(prediction_parse(NULL, 0, &p), -1);

  TEST("input is bounded by len, not by a NUL");
  const char *two = "{\"id\":\"a\"}{\"id\":\"b\"}";
  CHECK_INT(parse_n(two, 10, &p), 0);
  CHECK_STR(p.id, "a");
  prediction_free(&p);
  CHECK_INT(parse_n(two, 9, &p), -1);

  TEST("nesting: deep is fine, absurd is rejected");
  {
    char doc[2000];
    for (int depth = 100; depth <= 600; depth += 500) {
      size_t n = 0;
      n += (size_t)snprintf(doc + n, sizeof doc - n, "{\"id\":\"d\",\"x\":");
      for (int i = 0; i < depth; i++)
        doc[n++] = '[';
      for (int i = 0; i < depth; i++)
        doc[n++] = ']';
      doc[n++] = '}';
      int rc = parse_n(doc, n, &p);
      CHECK_INT(rc, depth == 100 ? 0 : -1);
      prediction_free(&p);
    }
  }
}

/* The id of a reply cut off by the size bound (exact-size copies for ASan). */
static char *peek_n(const char *json, size_t len) {
  char *copy = malloc(len ? len : 1);
  memcpy(copy, json, len);
  char *id = prediction_peek_id(copy, len);
  free(copy);
  return id;
}

static void test_peek_id(void) {
  char *id = peek_n(recorded, 60);
  CHECK(id && strcmp(id, "pw050dtb51rj40cjb2vrcw97b8") == 0);
  free(id);
  id = peek_n(recorded, sizeof recorded - 1);
  CHECK(id && strcmp(id, "pw050dtb51rj40cjb2vrcw97b8") == 0);
  free(id);
  /* The id after the cut, or not yet whole: none. */
  CHECK(peek_n("{\"output\":[\"aaaa", 15) == NULL);
  CHECK(peek_n("{\"id\":\"abc", 11) == NULL);
  /* After other members, skipped whole. */
  const char *later = "{\"input\":{\"id\":\"inner\"},\"id\":\"outer_1-x\",\"output\":[\"";
  id = peek_n(later, strlen(later));
  CHECK(id && strcmp(id, "outer_1-x") == 0);
  free(id);
  /* Not URL-safe, empty, or not a string. */
  CHECK(peek_n("{\"id\":\"a/../b\"", 15) == NULL);
  CHECK(peek_n("{\"id\":\"\"", 8) == NULL);
  CHECK(peek_n("{\"id\":42,", 10) == NULL);
  CHECK(peek_n("[1]", 3) == NULL);
  CHECK(peek_n("", 0) == NULL);
}

/* Keys are matched in place when they have no escapes, decoded when they
 * do: both must find the same fields, and a key cut short is an error. */
static void test_escaped_keys(void) {
  struct prediction p;
  CHECK_INT(parse("{\"\\u0069d\":\"a\",\"st\\u0061tus\":\"succeeded\",\"output\":\"x\","
                  "\"u\\\"rls\":{\"get\":\"no\"},\"urls\":{\"g\\u0065t\":\"https://g\"}}", &p), 0);
  CHECK_STR(p.id, "a");
  CHECK_INT(p.status, PRED_SUCCEEDED);
  CHECK_STR(p.url_get, "https://g");
  CHECK_MEM(p.output, p.output_len, "x");
  prediction_free(&p);
  /* A key without its closing quote, with or without an escape in it. */
  CHECK_INT(parse("{\"id\":\"a\",\"output", &p), -1);
  CHECK_INT(parse("{\"id\":\"a\",\"out\\\"put", &p), -1);
  const char *esc_id = "{\"\\u0069d\":\"b1\"}";
  char *id = prediction_peek_id(esc_id, strlen(esc_id));
  CHECK(id && strcmp(id, "b1") == 0);
  free(id);
}

void suite_prediction(void) {
  test_escaped_keys();
  test_peek_id();
  test_recorded();
  test_output_forms();
  test_fields();
  test_rejects();
}
