#include "../../shared/chat_request.h"

#include <cJSON.h>
#include <stdlib.h>

#include "test.h"

#define CONF "deepseek-ai/deepseek-v3.1"

/* Bodies are written with ' for " to stay readable ('\u0027' in JSON is a
 * real apostrophe). Returns a static buffer. */
static const char *q(const char *s) {
  static char b[8192];
  size_t i = 0;
  for (; s[i] && i + 1 < sizeof b; i++)
    b[i] = s[i] == '\'' ? '"' : s[i];
  b[i] = '\0';
  return b;
}

/* function.name of a tool / the first call of a tool_calls array. */
static const char *tool_name(const cJSON *tool) {
  return cJSON_GetStringValue(cJSON_GetObjectItem(
      cJSON_GetObjectItem(tool, "function"), "name"));
}
static const char *call_name(const cJSON *calls) {
  return tool_name(cJSON_GetArrayItem(calls, 0));
}

/* Valid model and messages, to put in front of the field under test. */
#define BASE "'model':'deepseek-v3.1','messages':[{'role':'user','content':'Hi'}]"

static int parse(const char *body, struct chat_request *r,
                 struct oai_error *e) {
  const char *b = q(body);
  return chat_request_parse(b, strlen(b), CONF, 0, r, e);
}

/* Expect a failure with this status and param ("" = null), a message, and
 * *out left empty. Reports the caller's line. */
#define EXPECT_ERR(body, status, param) expect_err(__LINE__, body, status, param)
static void expect_err(int line, const char *body, int status,
                       const char *param) {
  struct chat_request r;
  struct oai_error e;
  memset(&e, 0, sizeof e);
  int rc = parse(body, &r, &e);
  if (rc == -1 && e.status == status && strcmp(e.param, param) == 0 &&
      e.message[0] && strcmp(e.type, "invalid_request_error") == 0 &&
      r.messages == NULL && r.model == NULL && r.n_messages == 0 &&
      r.n_stop == 0)
    test_passed++;
  else
    test_fail(__FILE__, line, "body %s: rc %d status %d param \"%s\" message \"%s\"",
              body, rc, e.status, e.param, e.message);
  if (rc == 0)
    chat_request_free(&r);
}

/* Expect success; the caller frees *r. */
#define EXPECT_OK(body, r) expect_ok(__LINE__, body, r)
static int expect_ok(int line, const char *body, struct chat_request *r) {
  struct oai_error e;
  memset(&e, 0, sizeof e);
  int rc = parse(body, r, &e);
  if (rc == 0)
    test_passed++;
  else
    test_fail(__FILE__, line, "body %s: status %d param \"%s\" message \"%s\"",
              body, e.status, e.param, e.message);
  return rc;
}

static void test_basics(void) {
  struct chat_request r;
  struct oai_error e;

  TEST("minimal request");
  if (EXPECT_OK("{" BASE "}", &r) == 0) {
    CHECK_STR(r.model, "deepseek-v3.1");
    CHECK(r.alias == models_resolve("deepseek-v3.1", CONF));
    CHECK_INT(r.thinking, 0);
    CHECK_INT(r.n_messages, 1);
    CHECK_INT(r.messages[0].role, ROLE_USER);
    CHECK_STR(r.messages[0].content, "Hi");
    CHECK(r.messages[0].name == NULL && r.messages[0].tool_call_id == NULL &&
          r.messages[0].tool_calls == NULL);
    CHECK_INT(r.has, 0);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.stream, 0);
    CHECK_INT(r.include_usage, 0);
    CHECK_INT(r.n_stop, 0);
    chat_request_free(&r);
    CHECK(r.messages == NULL && r.model == NULL);
  }

  TEST("invalid JSON");
  EXPECT_ERR("{", 400, "");
  EXPECT_ERR("", 400, "");
  EXPECT_ERR("{'model':}", 400, "");
  EXPECT_ERR("{" BASE "} trailing", 400, "");
  EXPECT_ERR("{" BASE "}{}", 400, "");
  parse("nope", &r, &e);
  {
    const char *want = "We could not parse the JSON body of your request.";
    CHECK(strncmp(e.message, want, strlen(want)) == 0);
  }
  CHECK(strstr(e.message, "HINT") != NULL);
  CHECK_STR(e.code, "");

  TEST("JSON but not an object");
  EXPECT_ERR("[]", 400, "");
  EXPECT_ERR("'hello'", 400, "");
  EXPECT_ERR("null", 400, "");
  EXPECT_ERR("42", 400, "");

  TEST("length-bounded body, trailing whitespace");
  {
    const char *b = q("{" BASE "}\r\n GARBAGE");
    size_t len = strlen(b) - strlen("GARBAGE");
    CHECK_INT(chat_request_parse(b, len, CONF, 0, &r, &e), 0);
    chat_request_free(&r);
    CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);
    CHECK_INT(chat_request_parse(NULL, 0, CONF, 0, &r, &e), -1);
    CHECK_INT(e.status, 400);
  }
}

static void test_model(void) {
  struct chat_request r;
  struct oai_error e;
  const char *msgs = "'messages':[{'role':'user','content':'Hi'}]";
  char body[512];

  TEST("model required");
  snprintf(body, sizeof body, "{%s}", msgs);
  EXPECT_ERR(body, 400, "model");
  parse(body, &r, &e);
  CHECK_STR(e.message, "you must provide a model parameter");
  snprintf(body, sizeof body, "{'model':null,%s}", msgs);
  EXPECT_ERR(body, 400, "model");
  snprintf(body, sizeof body, "{'model':5,%s}", msgs);
  EXPECT_ERR(body, 400, "model");

  TEST("unknown model is 404 model_not_found");
  snprintf(body, sizeof body, "{'model':'gpt-4o',%s}", msgs);
  EXPECT_ERR(body, 404, "model");
  memset(&e, 0, sizeof e);
  CHECK_INT(parse(body, &r, &e), -1);
  CHECK_INT(e.status, 404);
  CHECK_STR(e.type, "invalid_request_error");
  CHECK_STR(e.code, "model_not_found");
  CHECK_STR(e.message,
            "The model `gpt-4o` does not exist or you do not have access to it.");
  snprintf(body, sizeof body, "{'model':'',%s}", msgs);
  EXPECT_ERR(body, 404, "model");
  snprintf(body, sizeof body, "{'model':'DeepSeek-Chat',%s}", msgs);
  EXPECT_ERR(body, 404, "model");

  TEST("every alias and the configured name");
  static const char *const ok[] = {"deepseek-v3.1", "deepseek-chat",
                                   "deepseek-ai/deepseek-v3.1"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    snprintf(body, sizeof body, "{'model':'%s',%s}", ok[i], msgs);
    if (EXPECT_OK(body, &r) == 0) {
      CHECK_STR(r.model, ok[i]);
      CHECK(r.alias != NULL && r.alias->thinking == 0);
      chat_request_free(&r);
    }
  }
  snprintf(body, sizeof body, "{'model':'acme/my-model',%s}", msgs);
  const char *b = q(body);
  CHECK_INT(chat_request_parse(b, strlen(b), "acme/my-model", 0, &r, &e), 0);
  CHECK_STR(r.model, "acme/my-model");
  CHECK(r.alias == models_resolve("acme/my-model", "acme/my-model"));
  chat_request_free(&r);
  /* ...but not when another model is configured. */
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);
  CHECK_INT(e.status, 404);
  /* Aliases still route to whatever is configured. */
  snprintf(body, sizeof body, "{'model':'deepseek-chat',%s}", msgs);
  b = q(body);
  CHECK_INT(chat_request_parse(b, strlen(b), "acme/my-model", 0, &r, &e), 0);
  chat_request_free(&r);
}

static void test_messages(void) {
  struct chat_request r;
  struct oai_error e;
#define M "'model':'deepseek-v3.1',"

  TEST("messages required, non-empty array");
  EXPECT_ERR("{" M "'x':1}", 400, "messages");
  EXPECT_ERR("{" M "'messages':null}", 400, "messages");
  EXPECT_ERR("{" M "'messages':[]}", 400, "messages");
  EXPECT_ERR("{" M "'messages':{'role':'user','content':'Hi'}}", 400, "messages");
  EXPECT_ERR("{" M "'messages':'Hi'}", 400, "messages");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'Hi'},'Hi']}", 400,
             "messages[1]");
  EXPECT_ERR("{" M "'messages':[null]}", 400, "messages[0]");

  TEST("roles");
  EXPECT_ERR("{" M "'messages':[{'content':'Hi'}]}", 400, "messages[0].role");
  EXPECT_ERR("{" M "'messages':[{'role':7,'content':'Hi'}]}", 400,
             "messages[0].role");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'a'},"
             "{'role':'robot','content':'Hi'}]}", 400, "messages[1].role");
  parse("{" M "'messages':[{'role':'User','content':'Hi'}]}", &r, &e);
  CHECK(strstr(e.message, "'developer'") && strstr(e.message, "'function'") &&
        strstr(e.message, "'User'"));
  if (EXPECT_OK("{" M "'messages':[{'role':'system','content':'s'},"
                "{'role':'developer','content':'d'},{'role':'user','content':'u'},"
                "{'role':'assistant','content':'a'},"
                "{'role':'tool','content':'t','tool_call_id':'c1'},"
                "{'role':'function','content':'f','name':'fn'}]}", &r) == 0) {
    static const enum chat_role want[] = {ROLE_SYSTEM, ROLE_DEVELOPER,
                                          ROLE_USER, ROLE_ASSISTANT,
                                          ROLE_TOOL, ROLE_FUNCTION};
    CHECK_INT(r.n_messages, 6);
    for (size_t i = 0; i < 6 && i < r.n_messages; i++)
      CHECK_INT(r.messages[i].role, want[i]);
    CHECK_STR(r.messages[4].tool_call_id, "c1");
    CHECK_STR(r.messages[5].name, "fn");
    chat_request_free(&r);
  }

  TEST("any order, no user message required");
  if (EXPECT_OK("{" M "'messages':[{'role':'assistant','content':'a'}]}", &r) == 0)
    chat_request_free(&r);
  if (EXPECT_OK("{" M "'messages':[{'role':'system','content':'s'}]}", &r) == 0)
    chat_request_free(&r);
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':'u'},"
                "{'role':'system','content':'s'}]}", &r) == 0)
    chat_request_free(&r);

  TEST("content presence by role");
  EXPECT_ERR("{" M "'messages':[{'role':'user'}]}", 400, "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':null}]}", 400,
             "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'system'},{'role':'user','content':'Hi'}]}",
             400, "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'developer','content':null}]}", 400,
             "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'a'},"
             "{'role':'tool','tool_call_id':'c'}]}", 400, "messages[1].content");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':5}]}", 400,
             "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':{'type':'text'}}]}", 400,
             "messages[0].content");
  EXPECT_ERR("{" M "'messages':[{'role':'assistant','content':true}]}", 400,
             "messages[0].content");
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':''},"
                "{'role':'assistant','content':null},{'role':'assistant'}]}",
                &r) == 0) {
    CHECK_STR(r.messages[0].content, "");
    CHECK(r.messages[1].content == NULL);
    CHECK(r.messages[2].content == NULL);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" M "'messages':[{'role':'function','name':'f','content':null}]}",
                &r) == 0) {
    CHECK(r.messages[0].content == NULL);
    chat_request_free(&r);
  }

  TEST("content parts");
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':["
                "{'type':'text','text':'one'},{'type':'text','text':''},"
                "{'type':'text','text':'two\\nlines'}]},"
                "{'role':'system','content':[{'type':'text','text':'sys'}]},"
                "{'role':'assistant','content':[{'type':'text','text':'a'},"
                "{'type':'refusal','refusal':'no'}]},"
                "{'role':'tool','tool_call_id':'c','content':[{'type':'text','text':'t'}]}"
                "]}", &r) == 0) {
    CHECK_STR(r.messages[0].content, "one\n\ntwo\nlines");
    CHECK_STR(r.messages[1].content, "sys");
    CHECK_STR(r.messages[2].content, "a\nno");
    CHECK_STR(r.messages[3].content, "t");
    chat_request_free(&r);
  }
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[]}]}", 400,
             "messages[0].content");
  static const char *const media[] = {
      "{'type':'image_url','image_url':{'url':'https://x/y.png'}}",
      "{'type':'input_audio','input_audio':{'data':'AAAA','format':'wav'}}",
      "{'type':'file','file':{'file_id':'f1'}}",
  };
  for (size_t i = 0; i < sizeof media / sizeof media[0]; i++) {
    char body[512];
    snprintf(body, sizeof body, "{" M "'messages':[{'role':'system','content':'s'},"
             "{'role':'user','content':[{'type':'text','text':'look'},%s]}]}",
             media[i]);
    EXPECT_ERR(body, 400, "messages[1].content[1]");
    parse(body, &r, &e);
    CHECK(strstr(e.message, "deepseek-v3.1") && strstr(e.message, "text only"));
  }
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[{'type':'video'}]}]}",
             400, "messages[0].content[0].type");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[{'text':'x'}]}]}",
             400, "messages[0].content[0].type");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[{'type':1}]}]}",
             400, "messages[0].content[0].type");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':['x']}]}",
             400, "messages[0].content[0]");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[{'type':'text'}]}]}",
             400, "messages[0].content[0].text");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':[{'type':'text','text':3}]}]}",
             400, "messages[0].content[0].text");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':"
             "[{'type':'refusal','refusal':'no'}]}]}",
             400, "messages[0].content[0].type");

  TEST("name");
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':'Hi','name':'alice'},"
                "{'role':'assistant','content':'a','name':null}]}", &r) == 0) {
    CHECK_STR(r.messages[0].name, "alice");
    CHECK(r.messages[1].name == NULL);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'Hi','name':5}]}", 400,
             "messages[0].name");
  EXPECT_ERR("{" M "'messages':[{'role':'function','content':'x'}]}", 400,
             "messages[0].name");

  TEST("tool_call_id");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'Hi'},"
             "{'role':'tool','content':'x'}]}", 400, "messages[1].tool_call_id");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'Hi'},"
             "{'role':'tool','content':'x','tool_call_id':null}]}", 400,
             "messages[1].tool_call_id");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'Hi'},"
             "{'role':'tool','content':'x','tool_call_id':12}]}", 400,
             "messages[1].tool_call_id");
  /* Ignored elsewhere. */
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':'Hi','tool_call_id':1}]}",
                &r) == 0) {
    CHECK(r.messages[0].tool_call_id == NULL);
    chat_request_free(&r);
  }

  TEST("assistant tool_calls and reasoning_content");
  if (EXPECT_OK("{" M "'messages':[{'role':'user','content':'Hi'},"
                "{'role':'assistant','content':null,'reasoning_content':'hmm',"
                "'tool_calls':[{'id':'call_1','type':'function','function':"
                "{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
                "{'role':'tool','tool_call_id':'call_1','content':'18C'},"
                "{'role':'assistant','content':'ok','tool_calls':[]},"
                "{'role':'assistant','content':'ok','tool_calls':null}]}",
                &r) == 0) {
    cJSON *tc = r.messages[1].tool_calls;
    CHECK(cJSON_IsArray(tc) && cJSON_GetArraySize(tc) == 1);
    cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(tc, 0), "function");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "name")), "get_weather");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments")),
              "{\"city\":\"Paris\"}");
    CHECK(r.messages[1].content == NULL);
    CHECK(r.messages[3].tool_calls == NULL); /* [] is none */
    CHECK(r.messages[4].tool_calls == NULL);
    CHECK_STR(r.messages[2].tool_call_id, "call_1");
    chat_request_free(&r);
  }
  EXPECT_ERR("{" M "'messages':[{'role':'assistant','tool_calls':{}}]}", 400,
             "messages[0].tool_calls");
  EXPECT_ERR("{" M "'messages':[{'role':'assistant','tool_calls':['x']}]}", 400,
             "messages[0].tool_calls[0]");
  EXPECT_ERR("{" M "'messages':[{'role':'user','content':'a'},"
             "{'role':'assistant','tool_calls':[{'id':'c'}]}]}", 400,
             "messages[1].tool_calls[0].function");
  EXPECT_ERR("{" M "'messages':[{'role':'assistant','tool_calls':["
             "{'function':{'name':'f','arguments':'{}'}},"
             "{'function':{'arguments':'{}'}}]}]}", 400,
             "messages[0].tool_calls[1].function.name");
  EXPECT_ERR("{" M "'messages':[{'role':'assistant','tool_calls':["
             "{'function':{'name':'f','arguments':{}}}]}]}", 400,
             "messages[0].tool_calls[0].function.arguments");
#undef M
}

static void test_numbers(void) {
  struct chat_request r;

  TEST("max_tokens / max_completion_tokens");
  if (EXPECT_OK("{" BASE ",'max_tokens':5}", &r) == 0) {
    CHECK(r.has & HAS_MAX_TOKENS);
    CHECK_INT(r.max_tokens, 5);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'max_tokens':5,'max_completion_tokens':7}", &r) == 0) {
    CHECK_INT(r.max_tokens, 7);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'max_completion_tokens':null,'max_tokens':9}", &r) == 0) {
    CHECK_INT(r.max_tokens, 9);
    CHECK(r.has & HAS_MAX_TOKENS);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'max_tokens':null,'max_completion_tokens':3.0}", &r) == 0) {
    CHECK_INT(r.max_tokens, 3);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'max_tokens':null}", &r) == 0) {
    CHECK_INT(r.has & HAS_MAX_TOKENS, 0);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'max_tokens':0}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'max_tokens':-3}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'max_tokens':1.5}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'max_tokens':'5'}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'max_tokens':1e12}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'max_completion_tokens':0}", 400, "max_completion_tokens");
  EXPECT_ERR("{" BASE ",'max_completion_tokens':2.5}", 400, "max_completion_tokens");
  EXPECT_ERR("{" BASE ",'max_completion_tokens':true}", 400, "max_completion_tokens");

  TEST("sampling ranges");
  if (EXPECT_OK("{" BASE ",'temperature':0.5,'top_p':1,'presence_penalty':-2,"
                "'frequency_penalty':2}", &r) == 0) {
    CHECK_INT(r.has, HAS_TEMPERATURE | HAS_TOP_P | HAS_PRESENCE_PENALTY |
                         HAS_FREQUENCY_PENALTY);
    CHECK(r.temperature == 0.5 && r.top_p == 1 && r.presence_penalty == -2 &&
          r.frequency_penalty == 2);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'temperature':0,'top_p':0}", &r) == 0) {
    CHECK_INT(r.has, HAS_TEMPERATURE | HAS_TOP_P);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'temperature':null,'top_p':null,"
                "'presence_penalty':null,'frequency_penalty':null}", &r) == 0) {
    CHECK_INT(r.has, 0);
    chat_request_free(&r);
  }
  /* Duplicate members: the first is read (the body's members are indexed
   * in one pass; a later duplicate is not looked at). */
  if (EXPECT_OK("{" BASE ",'temperature':0.5,'temperature':5,'stream':false,"
                "'stream':1}", &r) == 0) {
    CHECK(r.temperature == 0.5);
    CHECK_INT(r.stream, 0);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'top_p':9,'top_p':0.5}", 400, "top_p");
  if (EXPECT_OK("{" BASE ",'messages':[]}", &r) == 0) {
    CHECK_INT(r.n_messages, 1);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'temperature':2.01}", 400, "temperature");
  EXPECT_ERR("{" BASE ",'temperature':-0.1}", 400, "temperature");
  EXPECT_ERR("{" BASE ",'temperature':'0.5'}", 400, "temperature");
  EXPECT_ERR("{" BASE ",'temperature':1e999}", 400, "temperature");
  EXPECT_ERR("{" BASE ",'top_p':1.5}", 400, "top_p");
  EXPECT_ERR("{" BASE ",'top_p':-1}", 400, "top_p");
  EXPECT_ERR("{" BASE ",'top_p':[]}", 400, "top_p");
  EXPECT_ERR("{" BASE ",'presence_penalty':-2.5}", 400, "presence_penalty");
  EXPECT_ERR("{" BASE ",'presence_penalty':false}", 400, "presence_penalty");
  EXPECT_ERR("{" BASE ",'frequency_penalty':3}", 400, "frequency_penalty");
  EXPECT_ERR("{" BASE ",'frequency_penalty':{}}", 400, "frequency_penalty");

  TEST("n");
  if (EXPECT_OK("{" BASE ",'n':128}", &r) == 0) {
    CHECK_INT(r.n, 128);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'n':null}", &r) == 0) {
    CHECK_INT(r.n, 1);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'n':0}", 400, "n");
  EXPECT_ERR("{" BASE ",'n':129}", 400, "n");
  EXPECT_ERR("{" BASE ",'n':1.5}", 400, "n");
  EXPECT_ERR("{" BASE ",'n':'2'}", 400, "n");

  TEST("seed");
  if (EXPECT_OK("{" BASE ",'seed':42}", &r) == 0)
    chat_request_free(&r);
  if (EXPECT_OK("{" BASE ",'seed':-7}", &r) == 0)
    chat_request_free(&r);
  if (EXPECT_OK("{" BASE ",'seed':null}", &r) == 0)
    chat_request_free(&r);
  EXPECT_ERR("{" BASE ",'seed':1.5}", 400, "seed");
  EXPECT_ERR("{" BASE ",'seed':'42'}", 400, "seed");
}

static void test_stream_stop(void) {
  struct chat_request r;
  struct oai_error e;

  TEST("stream and stream_options");
  if (EXPECT_OK("{" BASE ",'stream':true}", &r) == 0) {
    CHECK_INT(r.stream, 1);
    CHECK_INT(r.include_usage, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stream':true,'stream_options':{'include_usage':true}}",
                &r) == 0) {
    CHECK_INT(r.include_usage, 1);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stream':true,'stream_options':{'include_usage':null}}",
                &r) == 0) {
    CHECK_INT(r.include_usage, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stream':null,'stream_options':null}", &r) == 0) {
    CHECK_INT(r.stream, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stream':false}", &r) == 0) {
    CHECK_INT(r.stream, 0);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'stream':'yes'}", 400, "stream");
  EXPECT_ERR("{" BASE ",'stream':1}", 400, "stream");
  EXPECT_ERR("{" BASE ",'stream_options':{'include_usage':true}}", 400,
             "stream_options");
  parse("{" BASE ",'stream_options':{}}", &r, &e);
  CHECK_STR(e.message,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  EXPECT_ERR("{" BASE ",'stream':false,'stream_options':{}}", 400,
             "stream_options");
  EXPECT_ERR("{" BASE ",'stream':true,'stream_options':true}", 400,
             "stream_options");
  EXPECT_ERR("{" BASE ",'stream':true,'stream_options':{'include_usage':'y'}}",
             400, "stream_options.include_usage");

  TEST("stop");
  if (EXPECT_OK("{" BASE ",'stop':'END'}", &r) == 0) {
    CHECK_INT(r.n_stop, 1);
    CHECK_STR(r.stop[0], "END");
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stop':['a','','\\n\\n','d']}", &r) == 0) {
    CHECK_INT(r.n_stop, 3);
    CHECK_STR(r.stop[0], "a");
    CHECK_STR(r.stop[1], "\n\n");
    CHECK_STR(r.stop[2], "d");
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stop':[]}", &r) == 0) {
    CHECK_INT(r.n_stop, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stop':''}", &r) == 0) {
    CHECK_INT(r.n_stop, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'stop':null}", &r) == 0) {
    CHECK_INT(r.n_stop, 0);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'stop':['a','b','c','d','e']}", 400, "stop");
  EXPECT_ERR("{" BASE ",'stop':['a',1]}", 400, "stop");
  EXPECT_ERR("{" BASE ",'stop':['a',null]}", 400, "stop");
  EXPECT_ERR("{" BASE ",'stop':5}", 400, "stop");
  EXPECT_ERR("{" BASE ",'stop':{'a':1}}", 400, "stop");
}

static void test_unsupported_and_ignored(void) {
  struct chat_request r;

  TEST("logprobs, top_logprobs, logit_bias");
  EXPECT_ERR("{" BASE ",'logprobs':true}", 400, "logprobs");
  EXPECT_ERR("{" BASE ",'logprobs':'yes'}", 400, "logprobs");
  EXPECT_ERR("{" BASE ",'top_logprobs':0}", 400, "top_logprobs");
  EXPECT_ERR("{" BASE ",'logprobs':false,'top_logprobs':5}", 400, "top_logprobs");
  EXPECT_ERR("{" BASE ",'logit_bias':{'50256':-100}}", 400, "logit_bias");
  EXPECT_ERR("{" BASE ",'logit_bias':[1]}", 400, "logit_bias");
  if (EXPECT_OK("{" BASE ",'logprobs':false,'top_logprobs':null,'logit_bias':{}}",
                &r) == 0)
    chat_request_free(&r);
  if (EXPECT_OK("{" BASE ",'logprobs':null,'logit_bias':null}", &r) == 0)
    chat_request_free(&r);

  TEST("accepted and ignored");
  if (EXPECT_OK("{" BASE ",'user':'u1','metadata':{'k':'v'},'store':true,"
                "'service_tier':'auto','modalities':['text'],"
                "'safety_identifier':'x','prompt_cache_key':'k',"
                "'some_future_key':{'deep':[1,2]}}", &r) == 0) {
    CHECK_INT(r.thinking, 0);
    CHECK(r.tools == NULL && r.n_tools == 0);
    CHECK_INT(r.tool_choice, TOOL_CHOICE_NONE);
    CHECK_INT(r.parallel_tool_calls, 1);
    CHECK_INT(r.response_kind, RESPONSE_TEXT);
    CHECK(!chat_request_tools_active(&r));
    chat_request_free(&r);
  }
}

#define WEATHER                                                                \
  "{'type':'function','function':{'name':'get_weather','description':"      \
  "'Weather for a city','parameters':{'type':'object','properties':"         \
  "{'city':{'type':'string'}},'required':['city']},'strict':true,"          \
  "'extra':1},'extra':2}"
#define TIME "{'type':'function','function':{'name':'get-time_2'}}"

static void test_tools(void) {
  struct chat_request r;
  struct oai_error e;

  TEST("tools: kept as a normalised detached copy, names listed");
  if (EXPECT_OK("{" BASE ",'tools':[" WEATHER "," TIME "]}", &r) == 0) {
    CHECK_INT(r.n_tools, 2);
    CHECK_STR(r.tool_names[0], "get_weather");
    CHECK_STR(r.tool_names[1], "get-time_2");
    char *t = cJSON_PrintUnformatted(r.tools);
    CHECK_STR(t, "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                 "\"description\":\"Weather for a city\",\"parameters\":{\"type\":"
                 "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                 "\"required\":[\"city\"]},\"strict\":true}},{\"type\":\"function\","
                 "\"function\":{\"name\":\"get-time_2\"}}]");
    free(t);
    CHECK_INT(r.tool_choice, TOOL_CHOICE_AUTO);
    CHECK_INT(r.parallel_tool_calls, 1);
    CHECK_INT(r.legacy_functions, 0);
    CHECK(chat_request_tools_active(&r));
    chat_request_free(&r);
    CHECK(r.tools == NULL && r.tool_names == NULL && r.n_tools == 0);
  }
  if (EXPECT_OK("{" BASE ",'tools':[],'tool_choice':'none'}", &r) == 0) {
    CHECK(r.tools == NULL && r.n_tools == 0);
    CHECK(!chat_request_tools_active(&r));
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'tools':null}", &r) == 0) {
    CHECK(r.tools == NULL);
    chat_request_free(&r);
  }
  CHECK(!chat_request_tools_active(NULL));

  TEST("tools: validation");
  EXPECT_ERR("{" BASE ",'tools':{}}", 400, "tools");
  EXPECT_ERR("{" BASE ",'tools':['f']}", 400, "tools[0]");
  EXPECT_ERR("{" BASE ",'tools':[" TIME ",{'function':{'name':'f'}}]}", 400,
             "tools[1].type");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'custom','custom':{'name':'f'}}]}",
             400, "tools[0].type");
  parse("{" BASE ",'tools':[{'type':'custom','custom':{'name':'f'}}]}", &r, &e);
  CHECK(strstr(e.message, "'custom'") && strstr(e.message, "'function'"));
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function'}]}", 400,
             "tools[0].function");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':'f'}]}", 400,
             "tools[0].function");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{}}]}", 400,
             "tools[0].function.name");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{'name':3}}]}",
             400, "tools[0].function.name");
  static const char *const bad_names[] = {"", "a b", "f.x", "caf\u00e9",
      "x123456789x123456789x123456789x123456789x123456789x123456789xxxxx"};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
    char body[512];
    snprintf(body, sizeof body, "{" BASE ",'tools':[" TIME ",{'type':'function',"
             "'function':{'name':'%s'}}]}", bad_names[i]);
    EXPECT_ERR(body, 400, "tools[1].function.name");
  }
  parse("{" BASE ",'tools':[{'type':'function','function':{'name':'a.b'}}]}",
        &r, &e);
  CHECK(strstr(e.message, "'^[a-zA-Z0-9_-]+$'") != NULL);
  {
    /* 64 is the limit. */
    char body[512];
    snprintf(body, sizeof body, "{" BASE ",'tools':[{'type':'function',"
             "'function':{'name':'%064d'}}]}", 7);
    if (EXPECT_OK(body, &r) == 0)
      chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{'name':'f',"
             "'description':1}}]}", 400, "tools[0].function.description");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{'name':'f',"
             "'parameters':'{}'}}]}", 400, "tools[0].function.parameters");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{'name':'f',"
             "'parameters':[]}}]}", 400, "tools[0].function.parameters");
  EXPECT_ERR("{" BASE ",'tools':[{'type':'function','function':{'name':'f',"
             "'strict':'yes'}}]}", 400, "tools[0].function.strict");
  if (EXPECT_OK("{" BASE ",'tools':[{'type':'function','function':{'name':'f',"
                "'description':null,'parameters':null,'strict':null}}]}",
                &r) == 0) {
    char *t = cJSON_PrintUnformatted(r.tools);
    CHECK_STR(t, "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]");
    free(t);
    chat_request_free(&r);
  }

  TEST("legacy functions become tools");
  if (EXPECT_OK("{" BASE ",'functions':[{'name':'lookup','description':'d',"
                "'parameters':{'type':'object'}},{'name':'other'}]}", &r) == 0) {
    CHECK_INT(r.legacy_functions, 1);
    CHECK_INT(r.n_tools, 2);
    CHECK_STR(r.tool_names[0], "lookup");
    char *t = cJSON_PrintUnformatted(cJSON_GetArrayItem(r.tools, 0));
    CHECK_STR(t, "{\"type\":\"function\",\"function\":{\"name\":\"lookup\","
                 "\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}");
    free(t);
    CHECK_INT(r.tool_choice, TOOL_CHOICE_AUTO);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'functions':[{'name':'lookup'}],"
                "'function_call':{'name':'lookup'}}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_NAMED);
    CHECK_STR(r.tool_choice_name, "lookup");
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'functions':[{'name':'lookup'}],"
                "'function_call':'none'}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_NONE);
    CHECK(!chat_request_tools_active(&r));
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'functions':[],'function_call':'none'}", &r) == 0) {
    CHECK_INT(r.legacy_functions, 0);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'functions':{}}", 400, "functions");
  EXPECT_ERR("{" BASE ",'functions':[{'description':'x'}]}", 400,
             "functions[0].name");
  EXPECT_ERR("{" BASE ",'functions':[{'name':'a'},{'name':'b c'}]}", 400,
             "functions[1].name");
  EXPECT_ERR("{" BASE ",'functions':[{'name':'a'}],'tools':[" TIME "]}", 400,
             "functions");
  EXPECT_ERR("{" BASE ",'functions':[{'name':'a'}],'function_call':'required'}",
             400, "function_call");
  EXPECT_ERR("{" BASE ",'functions':[{'name':'a'}],'function_call':{'name':'b'}}",
             400, "function_call");
  EXPECT_ERR("{" BASE ",'functions':[{'name':'a'}],'function_call':{}}", 400,
             "function_call.name");
  EXPECT_ERR("{" BASE ",'function_call':'auto'}", 400, "function_call");
  parse("{" BASE ",'function_call':'auto'}", &r, &e);
  CHECK(strstr(e.message, "'functions'") != NULL);
  if (EXPECT_OK("{" BASE ",'function_call':'none'}", &r) == 0)
    chat_request_free(&r);

  TEST("assistant function_call replays as tool_calls");
  if (EXPECT_OK("{'model':'deepseek-v3.1','messages':[{'role':'user','content':'Hi'},"
                "{'role':'assistant','content':null,'function_call':{'name':'lookup',"
                "'arguments':'{}'}},{'role':'function','name':'lookup','content':'42'}]}",
                &r) == 0) {
    char *t = cJSON_PrintUnformatted(r.messages[1].tool_calls);
    CHECK_STR(t, "[{\"type\":\"function\",\"function\":{\"name\":\"lookup\","
                 "\"arguments\":\"{}\"}}]");
    free(t);
    chat_request_free(&r);
  }
  /* tool_calls win over function_call. */
  if (EXPECT_OK("{'model':'deepseek-v3.1','messages':[{'role':'assistant',"
                "'tool_calls':[{'function':{'name':'a','arguments':'1'}}],"
                "'function_call':{'name':'b','arguments':'2'}}]}", &r) == 0) {
    CHECK_STR(call_name(r.messages[0].tool_calls), "a");
    chat_request_free(&r);
  }
  EXPECT_ERR("{'model':'deepseek-v3.1','messages':[{'role':'assistant',"
             "'function_call':'lookup'}]}", 400, "messages[0].function_call");
  EXPECT_ERR("{'model':'deepseek-v3.1','messages':[{'role':'assistant',"
             "'function_call':{'name':'f'}}]}", 400,
             "messages[0].function_call.arguments");
  /* Ignored on other roles. */
  if (EXPECT_OK("{'model':'deepseek-v3.1','messages':[{'role':'user','content':'x',"
                "'function_call':5}]}", &r) == 0) {
    CHECK(r.messages[0].tool_calls == NULL);
    chat_request_free(&r);
  }
}

static void test_tool_choice(void) {
  struct chat_request r;
  struct oai_error e;
#define TOOLS ",'tools':[" WEATHER "," TIME "]"

  TEST("tool_choice strings");
  static const struct {
    const char *v;
    enum tool_choice want;
  } strs[] = {{"none", TOOL_CHOICE_NONE},
              {"auto", TOOL_CHOICE_AUTO},
              {"required", TOOL_CHOICE_REQUIRED}};
  for (size_t i = 0; i < 3; i++) {
    char body[1024];
    snprintf(body, sizeof body, "{" BASE TOOLS ",'tool_choice':'%s'}", strs[i].v);
    if (EXPECT_OK(body, &r) == 0) {
      CHECK_INT(r.tool_choice, strs[i].want);
      CHECK_INT(chat_request_tools_active(&r), strs[i].want != TOOL_CHOICE_NONE);
      CHECK_INT(r.n_tools, 2); /* none keeps the tools, just inactive */
      chat_request_free(&r);
    }
  }
  if (EXPECT_OK("{" BASE TOOLS ",'tool_choice':null}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_AUTO);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':'any'}", 400, "tool_choice");
  parse("{" BASE TOOLS ",'tool_choice':'any'}", &r, &e);
  CHECK_STR(e.message, "Invalid value: 'any'. Supported values are: 'none', "
                       "'auto', and 'required'.");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':1}", 400, "tool_choice");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':['auto']}", 400, "tool_choice");

  TEST("tool_choice without tools");
  EXPECT_ERR("{" BASE ",'tool_choice':'auto'}", 400, "tool_choice");
  parse("{" BASE ",'tool_choice':'required'}", &r, &e);
  CHECK_STR(e.message, "Invalid value for 'tool_choice': 'tool_choice' is only "
                       "allowed when 'tools' are specified.");
  EXPECT_ERR("{" BASE ",'tools':[],'tool_choice':'required'}", 400, "tool_choice");
  EXPECT_ERR("{" BASE ",'tool_choice':{'type':'function','function':{'name':'f'}}}",
             400, "tool_choice");
  if (EXPECT_OK("{" BASE ",'tool_choice':'none'}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_NONE);
    chat_request_free(&r);
  }

  TEST("tool_choice named");
  if (EXPECT_OK("{" BASE TOOLS ",'tool_choice':{'type':'function',"
                "'function':{'name':'get-time_2'}}}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_NAMED);
    CHECK_STR(r.tool_choice_name, "get-time_2");
    CHECK_INT(r.n_tools, 2);
    CHECK(chat_request_tools_active(&r));
    chat_request_free(&r);
    CHECK(r.tool_choice_name == NULL);
  }
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'function','function':"
             "{'name':'nope'}}}", 400, "tool_choice");
  parse("{" BASE TOOLS ",'tool_choice':{'type':'function','function':"
        "{'name':'nope'}}}", &r, &e);
  CHECK(strstr(e.message, "'nope'") != NULL);
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'function':{'name':'f'}}}", 400,
             "tool_choice.type");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'function'}}", 400,
             "tool_choice.function");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'function','function':{}}}",
             400, "tool_choice.function.name");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'custom','custom':{'name':'f'}}}",
             400, "tool_choice.type");

  TEST("tool_choice allowed_tools");
  if (EXPECT_OK("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
                "'allowed_tools':{'mode':'required','tools':[{'type':'function',"
                "'function':{'name':'get-time_2'}}]}}}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_REQUIRED);
    CHECK_INT(r.n_tools, 1);
    CHECK_STR(r.tool_names[0], "get-time_2");
    CHECK_INT(cJSON_GetArraySize(r.tools), 1);
    CHECK_STR(tool_name(cJSON_GetArrayItem(r.tools, 0)), "get-time_2");
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
                "'allowed_tools':{'mode':'auto','tools':[{'type':'function',"
                "'name':'get_weather'},{'type':'function','function':"
                "{'name':'get-time_2'}}]}}}", &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_AUTO);
    CHECK_INT(r.n_tools, 2);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools'}}", 400,
             "tool_choice.allowed_tools");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'tools':[]}}}", 400, "tool_choice.allowed_tools.mode");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'none','tools':[" TIME "]}}}", 400,
             "tool_choice.allowed_tools.mode");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto','tools':[]}}}", 400,
             "tool_choice.allowed_tools.tools");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto'}}}", 400,
             "tool_choice.allowed_tools.tools");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto','tools':[" TIME ",{'type':'function',"
             "'function':{'name':'zzz'}}]}}}", 400,
             "tool_choice.allowed_tools.tools[1]");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto','tools':[{'type':'mcp','name':'x'}]}}}",
             400, "tool_choice.allowed_tools.tools[0].type");
  EXPECT_ERR("{" BASE TOOLS ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto','tools':[{'type':'function'}]}}}",
             400, "tool_choice.allowed_tools.tools[0].name");
  EXPECT_ERR("{" BASE ",'tool_choice':{'type':'allowed_tools',"
             "'allowed_tools':{'mode':'auto','tools':[" TIME "]}}}", 400,
             "tool_choice");

  TEST("tool_choice wins over function_call");
  if (EXPECT_OK("{" BASE TOOLS ",'tool_choice':'required','function_call':'bogus'}",
                &r) == 0) {
    CHECK_INT(r.tool_choice, TOOL_CHOICE_REQUIRED);
    chat_request_free(&r);
  }

  TEST("parallel_tool_calls");
  if (EXPECT_OK("{" BASE TOOLS ",'parallel_tool_calls':false}", &r) == 0) {
    CHECK_INT(r.parallel_tool_calls, 0);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'parallel_tool_calls':null}", &r) == 0) {
    CHECK_INT(r.parallel_tool_calls, 1);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'parallel_tool_calls':'no'}", 400, "parallel_tool_calls");
#undef TOOLS
}

static void test_response_format(void) {
  struct chat_request r;

  TEST("response_format text and json_object");
  if (EXPECT_OK("{" BASE ",'response_format':{'type':'text'}}", &r) == 0) {
    CHECK_INT(r.response_kind, RESPONSE_TEXT);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'response_format':null}", &r) == 0) {
    CHECK_INT(r.response_kind, RESPONSE_TEXT);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'response_format':{'type':'json_object'}}", &r) == 0) {
    CHECK_INT(r.response_kind, RESPONSE_JSON_OBJECT);
    CHECK(r.json_schema == NULL && r.json_schema_name == NULL);
    chat_request_free(&r);
  }

  TEST("response_format json_schema");
  if (EXPECT_OK("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
                "{'name':'weather','description':'A report','strict':true,"
                "'schema':{'type':'object','properties':{'t':{'type':'number'}}}}}}",
                &r) == 0) {
    CHECK_INT(r.response_kind, RESPONSE_JSON_SCHEMA);
    CHECK_STR(r.json_schema_name, "weather");
    CHECK_STR(r.json_schema_description, "A report");
    CHECK_INT(r.json_strict, 1);
    char *t = cJSON_PrintUnformatted(r.json_schema);
    CHECK_STR(t, "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"number\"}}}");
    free(t);
    chat_request_free(&r);
    CHECK(r.json_schema == NULL && r.json_schema_name == NULL &&
          r.json_schema_description == NULL);
  }
  if (EXPECT_OK("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
                "{'name':'n','strict':null}}}", &r) == 0) {
    CHECK_INT(r.json_strict, 0);
    CHECK(r.json_schema == NULL && r.json_schema_description == NULL);
    chat_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'response_format':'json'}", 400, "response_format");
  EXPECT_ERR("{" BASE ",'response_format':{}}", 400, "response_format.type");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'xml'}}", 400,
             "response_format.type");
  EXPECT_ERR("{" BASE ",'response_format':{'type':5}}", 400,
             "response_format.type");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema'}}", 400,
             "response_format.json_schema");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':[]}}",
             400, "response_format.json_schema");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':{}}}",
             400, "response_format.json_schema.name");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
             "{'name':'a b'}}}", 400, "response_format.json_schema.name");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
             "{'name':'a','schema':'{}'}}}", 400,
             "response_format.json_schema.schema");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
             "{'name':'a','strict':1}}}", 400, "response_format.json_schema.strict");
  EXPECT_ERR("{" BASE ",'response_format':{'type':'json_schema','json_schema':"
             "{'name':'a','description':false}}}", 400,
             "response_format.json_schema.description");
}

static void test_reasoning_effort(void) {
  struct chat_request r;
  char body[512];

  TEST("reasoning_effort turns thinking on or off");
  static const struct {
    const char *model, *effort;
    int thinking;
  } cases[] = {
      {"deepseek-v3.1", "low", 1},       {"deepseek-v3.1", "medium", 1},
      {"deepseek-v3.1", "high", 1},      {"deepseek-chat", "xhigh", 1},
      {"deepseek-chat", "max", 1},       {"deepseek-v3.1", "none", 0},
      {"deepseek-v3.1", "minimal", 0},   {"deepseek-reasoner", "none", 0},
      {"deepseek-reasoner", "minimal", 0}, {"deepseek-reasoner", "low", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(body, sizeof body, "{'model':'%s','messages':[{'role':'user',"
             "'content':'Hi'}],'reasoning_effort':'%s'}", cases[i].model,
             cases[i].effort);
    if (EXPECT_OK(body, &r) == 0) {
      CHECK_INT(r.thinking, cases[i].thinking);
      chat_request_free(&r);
    }
  }

  TEST("deepseek-reasoner thinks by default; null is absent");
  if (EXPECT_OK("{'model':'deepseek-reasoner','messages':[{'role':'user',"
                "'content':'Hi'}]}", &r) == 0) {
    CHECK_INT(r.thinking, 1);
    CHECK_STR(r.model, "deepseek-reasoner");
    chat_request_free(&r);
  }
  if (EXPECT_OK("{'model':'deepseek-reasoner','messages':[{'role':'user',"
                "'content':'Hi'}],'reasoning_effort':null}", &r) == 0) {
    CHECK_INT(r.thinking, 1);
    chat_request_free(&r);
  }
  if (EXPECT_OK("{" BASE ",'reasoning_effort':null}", &r) == 0) {
    CHECK_INT(r.thinking, 0);
    chat_request_free(&r);
  }

  TEST("thinking is kept with tools");
  if (EXPECT_OK("{" BASE ",'reasoning_effort':'high','tools':[" TIME "]}", &r) == 0) {
    CHECK_INT(r.thinking, 1);
    CHECK(chat_request_tools_active(&r));
    chat_request_free(&r);
  }

  TEST("reasoning_effort validation");
  EXPECT_ERR("{" BASE ",'reasoning_effort':'extreme'}", 400, "reasoning_effort");
  EXPECT_ERR("{" BASE ",'reasoning_effort':'High'}", 400, "reasoning_effort");
  EXPECT_ERR("{" BASE ",'reasoning_effort':1}", 400, "reasoning_effort");
}

static void test_prediction_body(void) {
  struct chat_request r;
  char *s;

  TEST("prediction body: prompt only");
  if (EXPECT_OK("{" BASE ",'stop':['x'],'seed':3,'n':2,'stream':true,"
                "'stream_options':{'include_usage':true},'user':'u'}", &r) == 0) {
    s = chat_request_prediction_body(&r, "Hi");
    CHECK_STR(s, "{\"input\":{\"prompt\":\"Hi\"}}");
    free(s);
    chat_request_free(&r);
  }

  TEST("prediction body: max_tokens and temperature");
  if (EXPECT_OK("{" BASE ",'max_tokens':5,'temperature':0.5}", &r) == 0) {
    s = chat_request_prediction_body(&r, "Hi");
    CHECK_STR(s, "{\"input\":{\"prompt\":\"Hi\",\"max_tokens\":5,\"temperature\":0.5}}");
    free(s);
    chat_request_free(&r);
  }

  TEST("prediction body: every input, integers as integers");
  if (EXPECT_OK("{" BASE ",'max_completion_tokens':1024,'max_tokens':9,"
                "'temperature':1,'top_p':0.95,'presence_penalty':-1.5,"
                "'frequency_penalty':0}", &r) == 0) {
    r.thinking = 1;
    s = chat_request_prediction_body(&r, "line1\n\"quoted\" \xE2\x9C\x93");
    CHECK_STR(s, "{\"input\":{\"prompt\":\"line1\\n\\\"quoted\\\" \xE2\x9C\x93\","
                 "\"max_tokens\":1024,\"temperature\":1,\"top_p\":0.95,"
                 "\"presence_penalty\":-1.5,\"frequency_penalty\":0,"
                 "\"thinking\":\"medium\"}}");
    free(s);
    chat_request_free(&r);
  }

  TEST("prediction body: the text cJSON_PrintUnformatted wrote, number by number");
  {
    /* The body is written as text; the tree it replaced is the reference. */
    static const double vals[] = {0.1, 0.7, 1.0 / 3, 0.1 + 0.2, 1e-7, 2, -0.0, 1.5,
                                  -1.9999999999999998, 0.30000000000000004, 1e-300,
                                  5e-324, 123456789.123, 2147483647.0, -2147483648.0,
                                  2147483648.0, 1e15 + 0.5, 0.95, 1e14, 999999999999999.0,
                                  1e15, 1e16, 123456789012345.6, -1e-5, 3.0000000000000004};
    static const char *const prompts[] = {"", "plain", "q\"b\\s/\x01\x1f\x7f\n\t\r\b\f",
                                          "\xE2\x9C\x93 \xF0\x9F\x98\x80 \xC3\xA9"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
      struct chat_request c;
      req_init(&c);
      c.has = HAS_MAX_TOKENS | HAS_TEMPERATURE | HAS_TOP_P | HAS_PRESENCE_PENALTY |
              HAS_FREQUENCY_PENALTY;
      c.max_tokens = i % 2 ? 2147483647 : (long)i + 1;
      c.temperature = vals[i];
      c.top_p = -vals[i];
      c.presence_penalty = vals[(i + 1) % (sizeof vals / sizeof vals[0])];
      c.frequency_penalty = vals[i] * 3;
      c.thinking = (int)(i % 2);
      const char *pr = prompts[i % (sizeof prompts / sizeof prompts[0])];
      cJSON *root = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(root, "input");
      cJSON_AddStringToObject(in, "prompt", pr);
      cJSON_AddNumberToObject(in, "max_tokens", (double)c.max_tokens);
      cJSON_AddNumberToObject(in, "temperature", c.temperature);
      cJSON_AddNumberToObject(in, "top_p", c.top_p);
      cJSON_AddNumberToObject(in, "presence_penalty", c.presence_penalty);
      cJSON_AddNumberToObject(in, "frequency_penalty", c.frequency_penalty);
      if (c.thinking)
        cJSON_AddStringToObject(in, "thinking", "medium");
      char *want = cJSON_PrintUnformatted(root);
      s = chat_request_prediction_body(&c, pr);
      CHECK_STR(s, want);
      free(s);
      free(want);
      cJSON_Delete(root);
    }
  }

  TEST("prediction body: temperature 0.1 prints short");
  if (EXPECT_OK("{" BASE ",'temperature':0.1}", &r) == 0) {
    s = chat_request_prediction_body(&r, "");
    CHECK_STR(s, "{\"input\":{\"prompt\":\"\",\"temperature\":0.1}}");
    free(s);
    chat_request_free(&r);
  }
}

/* max_n and the body scan, through the whole parse. */
static void test_limits_and_encoding(void) {
  struct chat_request r;
  struct oai_error e;
  const char *b;

  TEST("n above max_n is refused, naming the cap");
  b = q("{" BASE ",'n':9}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 8, &r, &e), -1);
  CHECK_INT(e.status, 400);
  CHECK_STR(e.param, "n");
  CHECK(strstr(e.message, "maximum of 8") != NULL);
  CHECK(r.messages == NULL && r.model == NULL);
  b = q("{" BASE ",'n':8}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 8, &r, &e), 0);
  CHECK_INT(r.n, 8);
  chat_request_free(&r);
  b = q("{" BASE ",'n':2}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 1, &r, &e), -1);
  CHECK_STR(e.param, "n");
  b = q("{" BASE ",'n':128}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), 0); /* 0: n's own limit */
  chat_request_free(&r);
  b = q("{" BASE ",'n':129}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);

  TEST("a NUL in content is a 400 naming the field, not a cut prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','messages':[{'role':'system','content':'s'},"
             "{'role':'user','content':'before\\u0000after'}]}", 400, "messages[1].content");
  EXPECT_ERR("{'model':'deepseek-v3.1','messages':[{'role':'user','content':"
             "[{'type':'text','text':'\\u0000'}]}]}", 400, "messages[0].content[0].text");
  memset(&e, 0, sizeof e);
  b = q("{" BASE ",'user':'\\u0000'}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);
  CHECK_STR(e.code, "invalid_value");

  TEST("invalid UTF-8 is a 400 invalid_encoding");
  b = q("{'model':'deepseek-v3.1','messages':[{'role':'user','content':'\xff'}]}");
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);
  CHECK_INT(e.status, 400);
  CHECK_STR(e.code, "invalid_encoding");
  CHECK_STR(e.param, "messages[0].content");

  TEST("escaped non-NUL control characters still pass intact");
  if (EXPECT_OK("{'model':'deepseek-v3.1','messages':[{'role':'user','content':'a\\u0001b'}]}",
                &r) == 0) {
    CHECK_STR(r.messages[0].content, "a\001b");
    chat_request_free(&r);
  }
}

void suite_chat_request(void) {
  test_basics();
  test_model();
  test_messages();
  test_numbers();
  test_stream_stop();
  test_unsupported_and_ignored();
  test_tools();
  test_tool_choice();
  test_response_format();
  test_reasoning_effort();
  test_prediction_body();
  test_limits_and_encoding();
}
