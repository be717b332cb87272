#include "../../shared/jsonmode.h"

#include <cJSON.h>
#include <stdlib.h>

#include "test.h"

#define ANSWER                                                                 \
  "Respond with a single valid JSON object and nothing else: no prose, no "   \
  "code fences."

/* A request with only the JSON-mode fields set; schema may be NULL. */
static struct chat_request req(enum response_kind kind, const char *schema,
                               int strict) {
  struct chat_request r;
  memset(&r, 0, sizeof r);
  r.response_kind = kind;
  r.json_schema = schema ? cJSON_Parse(schema) : NULL;
  r.json_strict = strict;
  if (schema && !r.json_schema)
    fprintf(stderr, "bad test schema: %s\n", schema);
  return r;
}

static char *instruction(const struct chat_request *r) {
  struct buf b = BUF_INIT;
  char *s = jsonmode_instruction(r, &b) == 0 ? buf_take(&b) : NULL;
  buf_free(&b);
  return s;
}

static void test_instruction(void) {
  struct chat_request r;
  char *s;

  TEST("instruction: text adds nothing");
  r = req(RESPONSE_TEXT, NULL, 0);
  struct buf b = BUF_INIT;
  CHECK_INT(jsonmode_instruction(&r, &b), 0);
  CHECK_INT(b.len, 0);
  buf_free(&b);

  TEST("instruction: json_object");
  r = req(RESPONSE_JSON_OBJECT, NULL, 0);
  s = instruction(&r);
  CHECK_STR(s, ANSWER);
  free(s);

  TEST("instruction: json_schema with name, description, schema");
  r = req(RESPONSE_JSON_SCHEMA,
          "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}", 1);
  r.json_schema_name = "answer";
  r.json_schema_description = "The answer.";
  s = instruction(&r);
  CHECK_STR(s, ANSWER "\nFormat name: answer\nFormat description: The answer.\n"
               "The JSON must conform to this JSON schema:\n"
               "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}");
  free(s);
  cJSON_Delete(r.json_schema);

  TEST("instruction: json_schema without description or schema");
  r = req(RESPONSE_JSON_SCHEMA, NULL, 0);
  r.json_schema_name = "n";
  s = instruction(&r);
  CHECK_STR(s, ANSWER "\nFormat name: n");
  free(s);

  TEST("instruction: a non-object root asks for a JSON value");
  r = req(RESPONSE_JSON_SCHEMA, "{\"type\":\"array\",\"items\":{}}", 0);
  r.json_schema_name = "list";
  s = instruction(&r);
  CHECK_STR(s, "Respond with a single valid JSON value and nothing else: no "
               "prose, no code fences.\nFormat name: list\n"
               "The JSON must conform to this JSON schema:\n"
               "{\"type\":\"array\",\"items\":{}}");
  free(s);
  cJSON_Delete(r.json_schema);
}

/* Clean `text` for r: expect `want` (NULL: expect failure whose message
 * contains `errpart`). Reports the caller's line. */
#define EXPECT_CLEAN(r, text, want) expect_clean(__LINE__, r, text, want, NULL)
#define EXPECT_FAIL(r, text, errpart) expect_clean(__LINE__, r, text, NULL, errpart)
static void expect_clean(int line, const struct chat_request *r,
                         const char *text, const char *want,
                         const char *errpart) {
  struct buf out = BUF_INIT;
  char err[256];
  memset(err, 'x', sizeof err);
  int rc = jsonmode_clean(text, strlen(text), r, &out, err, sizeof err);
  if (want && rc == 0 && out.len == strlen(want) &&
      memcmp(out.data, want, out.len) == 0 && err[0] == '\0')
    test_passed++;
  else if (!want && rc == -1 && out.len == 0 && strstr(err, errpart) &&
           !strchr(err, '\n'))
    test_passed++;
  else
    test_fail(__FILE__, line, "text [%s]: rc %d out [%.*s] err [%.*s]", text, rc,
              (int)out.len, out.data ? out.data : "", (int)strnlen(err, sizeof err),
              err);
  buf_free(&out);
}

static void test_extract(void) {
  struct chat_request obj = req(RESPONSE_JSON_OBJECT, NULL, 0);
  struct chat_request any = req(RESPONSE_JSON_SCHEMA, "{}", 0);

  TEST("clean: bare JSON, trimmed, text kept as written");
  EXPECT_CLEAN(&obj, "{\"a\":1}", "{\"a\":1}");
  EXPECT_CLEAN(&obj, "\n  { \"a\" : 1.50, \"b\": 1e2 }\n\n", "{ \"a\" : 1.50, \"b\": 1e2 }");
  EXPECT_CLEAN(&any, "[1, 2]", "[1, 2]");
  EXPECT_CLEAN(&any, "\"just a string\"", "\"just a string\"");
  EXPECT_CLEAN(&any, " 42 ", "42");

  TEST("clean: fenced");
  EXPECT_CLEAN(&obj, "```json\n{\"a\": 1}\n```", "{\"a\": 1}");
  EXPECT_CLEAN(&obj, "```\n{\"a\": 1}\n```", "{\"a\": 1}");
  EXPECT_CLEAN(&obj, "```JSON {\"a\": 1}```", "{\"a\": 1}");
  EXPECT_CLEAN(&obj, "Here you go:\n\n```json\n{\"a\": [1, 2]}\n```\n\nAnything else?",
               "{\"a\": [1, 2]}");
  /* The first fenced block wins. */
  EXPECT_CLEAN(&obj, "```json\n{\"first\": 1}\n```\n```json\n{\"second\": 2}\n```",
               "{\"first\": 1}");
  /* Never closed (cut off after the value): still found. */
  EXPECT_CLEAN(&obj, "```json\n{\"a\": 1}\n", "{\"a\": 1}");
  /* A fence inside a string of a bare value is not a fence. */
  EXPECT_CLEAN(&obj, "{\"md\": \"```json {\\\"b\\\": 1} ```\"}",
               "{\"md\": \"```json {\\\"b\\\": 1} ```\"}");
  /* A fence holding no JSON: the whole text is searched. */
  EXPECT_CLEAN(&obj, "```python\nprint(1)\n```\n{\"a\": 1}", "{\"a\": 1}");

  TEST("clean: prose around a bare value");
  EXPECT_CLEAN(&obj, "Sure! {\"a\": \"b\"} Hope this helps.", "{\"a\": \"b\"}");
  EXPECT_CLEAN(&obj, "Result: {\"s\": \"} ] { [\", \"q\": \"say \\\"}\\\"\"} done",
               "{\"s\": \"} ] { [\", \"q\": \"say \\\"}\\\"\"}");
  EXPECT_CLEAN(&any, "The list is [1, [2, 3]] as asked.", "[1, [2, 3]]");
  /* A bracketed aside before the object: the object is still found. */
  EXPECT_CLEAN(&obj, "As noted in [1], here it is: {\"a\": 1}", "{\"a\": 1}");
  EXPECT_CLEAN(&obj, "Not JSON {here} but {\"a\": {\"b\": []}}", "{\"a\": {\"b\": []}}");

  TEST("clean: failures");
  EXPECT_FAIL(&obj, "", "empty");
  EXPECT_FAIL(&obj, "  \n ", "empty");
  EXPECT_FAIL(&obj, "I cannot do that.", "contains no JSON");
  EXPECT_FAIL(&obj, "{\"a\": 1, \"b\": [1, 2", "never closed");
  EXPECT_FAIL(&obj, "{\"a\": 1, \"b\": [1, 2", "not valid JSON");
  EXPECT_FAIL(&obj, "```json\n{\"a\": \n```", "not valid JSON");
  EXPECT_FAIL(&obj, "{a: 1}", "not valid JSON");
  EXPECT_FAIL(&obj, "{\"a\": 1,}", "not valid JSON");
  EXPECT_FAIL(&any, "[1, 2", "the array is never closed");

  TEST("clean: json_object wants an object");
  EXPECT_FAIL(&obj, "[1, 2]", "is an array, not a JSON object");
  EXPECT_FAIL(&obj, "```json\n[{\"a\": 1}]\n```", "is an array, not a JSON object");
  EXPECT_FAIL(&obj, "42", "is a number, not a JSON object");
  EXPECT_FAIL(&obj, "\"x\"", "is a string, not a JSON object");
  EXPECT_FAIL(&obj, "null", "is null, not a JSON object");
  /* ...but an object after an array in prose is fine. */
  EXPECT_CLEAN(&obj, "Options [1, 2]; answer {\"pick\": 2}", "{\"pick\": 2}");

  TEST("clean: no NUL needed, small or no err buffer, appends");
  {
    const char *text = "{\"a\":1}GARBAGE";
    struct buf out = BUF_INIT;
    buf_append_str(&out, ">");
    CHECK_INT(jsonmode_clean(text, 7, &obj, &out, NULL, 0), 0);
    CHECK_STR(out.data, ">{\"a\":1}");
    buf_reset(&out);
    char tiny[8];
    CHECK_INT(jsonmode_clean("[1", 2, &obj, &out, tiny, sizeof tiny), -1);
    CHECK_INT(strlen(tiny), 7);
    CHECK_INT(jsonmode_clean(NULL, 0, &obj, &out, NULL, 0), -1);
    CHECK_INT(out.len, 0);
    buf_free(&out);
  }
  cJSON_Delete(any.json_schema);
}

static void test_schema(void) {
  TEST("schema: types");
  struct chat_request r = req(RESPONSE_JSON_SCHEMA,
      "{\"type\":\"object\",\"properties\":{"
      "\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},"
      "\"n\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
      "\"z\":{\"type\":\"null\"},\"o\":{\"type\":\"object\"},"
      "\"a\":{\"type\":\"array\"},\"u\":{\"type\":[\"string\",\"null\"]}},"
      "\"required\":[\"s\"]}", 1);
  EXPECT_CLEAN(&r, "{\"s\":\"x\",\"i\":3,\"n\":1.5,\"b\":false,\"z\":null,"
                   "\"o\":{},\"a\":[],\"u\":null}",
               "{\"s\":\"x\",\"i\":3,\"n\":1.5,\"b\":false,\"z\":null,"
               "\"o\":{},\"a\":[],\"u\":null}");
  EXPECT_CLEAN(&r, "{\"s\":\"x\",\"i\":3.0,\"n\":7,\"u\":\"y\",\"extra\":1}",
               "{\"s\":\"x\",\"i\":3.0,\"n\":7,\"u\":\"y\",\"extra\":1}");
  EXPECT_FAIL(&r, "{\"s\":1}", "expected a string at $.s, got a number");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"i\":1.5}", "expected an integer at $.i");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"n\":\"1\"}", "expected a number at $.n, got a string");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"b\":0}", "expected a boolean at $.b");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"z\":0}", "expected a null at $.z");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"o\":[]}", "expected an object at $.o, got an array");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"a\":{}}", "expected an array at $.a, got an object");
  EXPECT_FAIL(&r, "{\"s\":\"x\",\"u\":1}",
              "expected one of the types [\"string\",\"null\"] at $.u, got a number");
  EXPECT_FAIL(&r, "{\"i\":1}", "missing required property 's' at $");
  EXPECT_FAIL(&r, "{\"i\":1}", "does not match the JSON schema");
  EXPECT_FAIL(&r, "[]", "expected an object at $, got an array");
  cJSON_Delete(r.json_schema);

  TEST("schema: nested required, additionalProperties, items, enum");
  r = req(RESPONSE_JSON_SCHEMA,
      "{\"type\":\"object\",\"additionalProperties\":false,"
      "\"required\":[\"user\",\"tags\"],\"properties\":{"
      "\"user\":{\"type\":\"object\",\"required\":[\"name\",\"address\"],"
      "\"properties\":{\"name\":{\"type\":\"string\"},"
      "\"address\":{\"type\":\"object\",\"required\":[\"city\"]}}},"
      "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
      "\"enum\":[\"a\",\"b\"]}},"
      "\"unit\":{\"enum\":[\"C\",\"F\",null,1]}}}", 1);
  EXPECT_CLEAN(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
                   "\"tags\":[\"a\",\"b\",\"a\"],\"unit\":null}",
               "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
               "\"tags\":[\"a\",\"b\",\"a\"],\"unit\":null}");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{}},\"tags\":[]}",
              "missing required property 'city' at $.user.address");
  EXPECT_FAIL(&r, "{\"user\":{\"address\":{\"city\":\"P\"}},\"tags\":[]}",
              "missing required property 'name' at $.user");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}}}",
              "missing required property 'tags' at $");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
                  "\"tags\":[],\"more\":1}",
              "unexpected property 'more' at $ (additionalProperties is false)");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
                  "\"tags\":[\"a\",\"c\"]}",
              "value at $.tags[1] is not one of the allowed values (enum)");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
                  "\"tags\":[\"a\",7]}",
              "expected a string at $.tags[1], got a number");
  EXPECT_FAIL(&r, "{\"user\":{\"name\":\"x\",\"address\":{\"city\":\"P\"}},"
                  "\"tags\":[],\"unit\":\"K\"}",
              "value at $.unit is not one of the allowed values");
  /* Not strict: only the JSON itself is checked. */
  r.json_strict = 0;
  EXPECT_CLEAN(&r, "{\"anything\":true}", "{\"anything\":true}");
  EXPECT_CLEAN(&r, "[1]", "[1]");
  cJSON_Delete(r.json_schema);

  TEST("schema: anyOf, $ref, const, odd keys, additionalProperties schema");
  r = req(RESPONSE_JSON_SCHEMA,
      "{\"$defs\":{\"pt\":{\"type\":\"object\",\"required\":[\"x\"],"
      "\"properties\":{\"x\":{\"type\":\"number\"}}}},"
      "\"type\":\"object\",\"properties\":{"
      "\"p\":{\"$ref\":\"#/$defs/pt\"},"
      "\"q\":{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#/$defs/pt\"}]},"
      "\"v\":{\"const\":\"v1\"},"
      "\"my key\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}",
      1);
  EXPECT_CLEAN(&r, "{\"p\":{\"x\":1},\"q\":\"s\",\"v\":\"v1\",\"my key\":{\"k\":1}}",
               "{\"p\":{\"x\":1},\"q\":\"s\",\"v\":\"v1\",\"my key\":{\"k\":1}}");
  EXPECT_CLEAN(&r, "{\"q\":{\"x\":2}}", "{\"q\":{\"x\":2}}");
  EXPECT_FAIL(&r, "{\"p\":{}}", "missing required property 'x' at $.p");
  EXPECT_FAIL(&r, "{\"q\":{}}", "value at $.q matches none of the anyOf alternatives");
  EXPECT_FAIL(&r, "{\"v\":\"v2\"}", "value at $.v is not the required constant");
  EXPECT_FAIL(&r, "{\"my key\":{\"k\":\"1\"}}",
              "expected an integer at $[\"my key\"].k, got a string");
  cJSON_Delete(r.json_schema);

  TEST("schema: a self-referencing $ref does not loop");
  r = req(RESPONSE_JSON_SCHEMA,
      "{\"$ref\":\"#\",\"type\":\"object\",\"properties\":{\"kids\":{\"type\":"
      "\"array\",\"items\":{\"$ref\":\"#\"}}}}", 1);
  EXPECT_CLEAN(&r, "{\"kids\":[{\"kids\":[]}]}", "{\"kids\":[{\"kids\":[]}]}");
  EXPECT_FAIL(&r, "{\"kids\":[{\"kids\":[1]}]}",
              "expected an object at $.kids[0].kids[0], got a number");
  cJSON_Delete(r.json_schema);
}

/* anyOf whose first branch fails only after checking the whole subtree:
 * 2^depth work for a naive validator. The step budget keeps it cheap. */
static void test_hostile_schema(void) {
  TEST("schema: exponential anyOf stays bounded");
  struct chat_request r = req(RESPONSE_JSON_SCHEMA,
      "{\"$defs\":{\"n\":{\"anyOf\":["
      "{\"type\":\"object\",\"additionalProperties\":false,"
      "\"properties\":{\"k\":{\"$ref\":\"#/$defs/n\"}}},"
      "{\"type\":\"object\",\"properties\":{\"k\":{\"$ref\":\"#/$defs/n\"}}}"
      "]}},\"$ref\":\"#/$defs/n\"}", 1);
  struct buf text = BUF_INIT;
  for (int i = 0; i < 40; i++)
    buf_append_str(&text, "{\"k\":");
  buf_append_str(&text, "{}");
  for (int i = 0; i < 40; i++)
    buf_append_str(&text, ",\"zz\":1}");
  struct buf out = BUF_INIT;
  char err[128];
  CHECK_INT(jsonmode_clean(text.data, text.len, &r, &out, err, sizeof err), 0);
  CHECK_INT(out.len, text.len);
  buf_free(&out);
  buf_free(&text);
  cJSON_Delete(r.json_schema);
}

void suite_jsonmode(void) {
  test_hostile_schema();
  test_instruction();
  test_extract();
  test_schema();
}
