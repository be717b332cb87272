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

/* Valid model and messages, to put in front of the field under test. */
#define BASE "'model':'deepseek-v3.1','messages':[{'role':'user','content':'Hi'}]"

static int parse(const char *body, struct chat_request *r,
                 struct oai_error *e) {
  const char *b = q(body);
  return chat_request_parse(b, strlen(b), CONF, r, e);
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
    CHECK_INT(chat_request_parse(b, len, CONF, &r, &e), 0);
    chat_request_free(&r);
    CHECK_INT(chat_request_parse(b, strlen(b), CONF, &r, &e), -1);
    CHECK_INT(chat_request_parse(NULL, 0, CONF, &r, &e), -1);
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
  CHECK_INT(chat_request_parse(b, strlen(b), "acme/my-model", &r, &e), 0);
  CHECK_STR(r.model, "acme/my-model");
  CHECK(r.alias == models_resolve("acme/my-model", "acme/my-model"));
  chat_request_free(&r);
  /* ...but not when another model is configured. */
  CHECK_INT(chat_request_parse(b, strlen(b), CONF, &r, &e), -1);
  CHECK_INT(e.status, 404);
  /* Aliases still route to whatever is configured. */
  snprintf(body, sizeof body, "{'model':'deepseek-chat',%s}", msgs);
  b = q(body);
  CHECK_INT(chat_request_parse(b, strlen(b), "acme/my-model", &r, &e), 0);
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

  TEST("accepted and ignored for now");
  if (EXPECT_OK("{" BASE ",'user':'u1','metadata':{'k':'v'},'store':true,"
                "'service_tier':'auto','parallel_tool_calls':false,"
                "'tools':[{'type':'function','function':{'name':'f'}}],"
                "'tool_choice':'auto','response_format':{'type':'json_object'},"
                "'functions':[],'function_call':'none','reasoning_effort':'high',"
                "'modalities':['text'],'some_future_key':{'deep':[1,2]}}",
                &r) == 0) {
    CHECK_INT(r.thinking, 0);
    chat_request_free(&r);
  }
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

  TEST("prediction body: temperature 0.1 prints short");
  if (EXPECT_OK("{" BASE ",'temperature':0.1}", &r) == 0) {
    s = chat_request_prediction_body(&r, "");
    CHECK_STR(s, "{\"input\":{\"prompt\":\"\",\"temperature\":0.1}}");
    free(s);
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
  test_prediction_body();
}
