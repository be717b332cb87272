#include "../../shared/json_scan.h"

#include "test.h"

/* Scan a body given as a C string literal (may hold raw bytes). */
static int scan(const char *body, struct oai_error *e) {
  memset(e, 0, sizeof *e);
  return json_scan(body, strlen(body), e);
}

#define EXPECT_OK(body) expect(__LINE__, body, 0, NULL, NULL)
#define EXPECT_BAD(body, code, param) expect(__LINE__, body, -1, code, param)
static void expect(int line, const char *body, int rc, const char *code,
                   const char *param) {
  struct oai_error e;
  int got = scan(body, &e);
  if (got == rc && (rc == 0 || (e.status == 400 && strcmp(e.code, code) == 0 &&
                                strcmp(e.param, param) == 0 && e.message[0] &&
                                strcmp(e.type, "invalid_request_error") == 0)))
    test_passed++;
  else
    test_fail(__FILE__, line, "body %s: rc %d code \"%s\" param \"%s\" message \"%s\"",
              body, got, e.code, e.param, e.message);
}

void suite_json_scan(void) {
  struct oai_error e;

  TEST("valid UTF-8 passes, in every plane");
  EXPECT_OK("{\"messages\":[{\"role\":\"user\",\"content\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"}]}");
  EXPECT_OK("{\"a\":\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"}"); /* U+FFFF, U+10FFFF */
  EXPECT_OK("");
  CHECK_INT(json_scan(NULL, 0, &e), 0);

  TEST("escapes that are not NUL pass");
  EXPECT_OK("{\"a\":\"\\u0001 \\u00e9 \\ud83d\\ude00 \\\" \\\\\"}");
  EXPECT_OK("{\"a\":\"\\\\u0000\"}"); /* an escaped backslash, then text */
  EXPECT_OK("{\"a\":\"x\\u0010\\u1000\"}");

  TEST("invalid UTF-8 in a string names the field and the offset");
  EXPECT_BAD("{\"messages\":[{\"role\":\"user\",\"content\":\"ab\xff\"}]}", "invalid_encoding",
             "messages[0].content");
  scan("{\"model\":\"x\xc3\"}", &e);
  CHECK(strstr(e.message, "offset 11") != NULL);
  CHECK(strstr(e.message, "0xc3") != NULL);
  EXPECT_BAD("{\"prompt\":[\"ok\",\"\xc0\xaf\"]}", "invalid_encoding", "prompt[1]");

  TEST("overlong forms, surrogates, above U+10FFFF, truncated sequences");
  EXPECT_BAD("{\"a\":\"\xc1\xbf\"}", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\xe0\x80\xaf\"}", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\xed\xa0\x80\"}", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\xf0\x9f\x98\"}", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\xe2\x82", "invalid_encoding", "a");
  EXPECT_BAD("{\"a\":\"\x80\"}", "invalid_encoding", "a");

  TEST("invalid UTF-8 outside strings, and in keys");
  EXPECT_BAD("{\"a\":1,\xff}", "invalid_encoding", "");
  EXPECT_BAD("{\"messages\":[{\"r\xffle\":\"user\"}]}", "invalid_encoding", "messages[0]");

  TEST("an escaped NUL names the field");
  EXPECT_BAD("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
             "{\"role\":\"user\",\"content\":\"cut \\u0000 here\"}]}",
             "invalid_value", "messages[1].content");
  EXPECT_BAD("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
             "{\"type\":\"text\",\"text\":\"\\u0000\"}]}]}",
             "invalid_value", "messages[0].content[1].text");
  EXPECT_BAD("{\"prompt\":\"\\u0000\"}", "invalid_value", "prompt");
  EXPECT_BAD("{\"prompt\":[\"a\",\"b\",\"c\\u0000\"]}", "invalid_value", "prompt[2]");
  EXPECT_BAD("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"\\u0000\"}}]}",
             "invalid_value", "tools[0].function.description");

  TEST("a raw NUL in a string is the same");
  {
    const char body[] = "{\"prompt\":\"a\0b\"}";
    CHECK_INT(json_scan(body, sizeof body - 1, &e), -1);
    CHECK_STR(e.param, "prompt");
    CHECK_STR(e.code, "invalid_value");
  }

  TEST("what only looks suspect passes: a raw NUL between tokens");
  {
    const char body[] = "{\"a\":1\0}"; /* not JSON, but the parser says so */
    CHECK_INT(json_scan(body, sizeof body - 1, &e), 0);
  }

  TEST("a NUL in a key names the object");
  EXPECT_BAD("{\"messages\":[{\"content\\u0000\":\"x\"}]}", "invalid_value", "messages[0]");
  EXPECT_BAD("{\"a\\u0000\":1}", "invalid_value", "");

  TEST("nesting: objects after arrays, keys after nested values");
  EXPECT_BAD("{\"a\":{\"b\":[1,{\"c\":2}],\"d\":\"\\u0000\"}}", "invalid_value", "a.d");
  EXPECT_BAD("{\"a\":[[1,2],[3,\"\\u0000\"]]}", "invalid_value", "a[1][1]");
  EXPECT_BAD("[\"x\",\"\\u0000\"]", "invalid_value", "[1]");
  EXPECT_BAD("\"\\u0000\"", "invalid_value", "");

  TEST("deep nesting is counted, not tracked");
  {
    char body[4096];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
      body[n++] = '[';
    memcpy(body + n, "\"\\u0000\"", 8);
    n += 8;
    for (int i = 0; i < 200; i++)
      body[n++] = ']';
    CHECK_INT(json_scan(body, n, &e), -1);
    CHECK_STR(e.code, "invalid_value");
    CHECK(strlen(e.param) < sizeof e.param);
  }

  TEST("malformed JSON is left to the parser");
  EXPECT_OK("{\"a\":");
  EXPECT_OK("}}]]\"");
  EXPECT_OK("{\"a\":\"unterminated");
  EXPECT_OK("{\"a\":\"\\");
}
