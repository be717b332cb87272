#include "../../shared/completion_request.h"

#include <stdlib.h>

#include "test.h"

#define CONF "deepseek-ai/deepseek-v3.1"

/* Bodies use ' for " (see test_chat_request.c). */
static const char *q(const char *s) {
  static char b[8192];
  size_t i = 0;
  for (; s[i] && i + 1 < sizeof b; i++)
    b[i] = s[i] == '\'' ? '"' : s[i];
  b[i] = '\0';
  return b;
}

#define BASE "'model':'deepseek-v3.1','prompt':'Once upon a time'"

static int parse(const char *body, struct completion_request *r,
                 struct oai_error *e) {
  const char *b = q(body);
  return completion_request_parse(b, strlen(b), CONF, 0, r, e);
}

#define EXPECT_ERR(body, status, param) expect_err(__LINE__, body, status, param)
static void expect_err(int line, const char *body, int status,
                       const char *param) {
  struct completion_request r;
  struct oai_error e;
  memset(&e, 0, sizeof e);
  int rc = parse(body, &r, &e);
  if (rc == -1 && e.status == status && strcmp(e.param, param) == 0 &&
      e.message[0] && r.prompts == NULL && r.n_prompts == 0 &&
      r.base.model == NULL)
    test_passed++;
  else
    test_fail(__FILE__, line, "body %s: rc %d status %d param \"%s\" message \"%s\"",
              body, rc, e.status, e.param, e.message);
  if (rc == 0)
    completion_request_free(&r);
}

#define EXPECT_OK(body, r) expect_ok(__LINE__, body, r)
static int expect_ok(int line, const char *body, struct completion_request *r) {
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
  struct completion_request r;
  struct oai_error e;

  TEST("minimal request");
  if (EXPECT_OK("{" BASE "}", &r) == 0) {
    CHECK_STR(r.base.model, "deepseek-v3.1");
    CHECK(r.base.alias == models_resolve("deepseek-v3.1", CONF));
    CHECK_INT(r.n_prompts, 1);
    CHECK_STR(r.prompts[0], "Once upon a time");
    CHECK_INT(r.echo, 0);
    CHECK_INT(r.base.n, 1);
    CHECK_INT(r.base.has, 0); /* no max_tokens: the model's default */
    CHECK_INT(r.base.stream, 0);
    CHECK_INT(r.base.n_stop, 0);
    CHECK_INT(r.base.thinking, 0);
    CHECK(r.base.messages == NULL && r.base.n_messages == 0);
    CHECK(r.base.tools == NULL && !chat_request_tools_active(&r.base));
    CHECK_INT(r.base.response_kind, RESPONSE_TEXT);
    char *body = chat_request_prediction_body(&r.base, r.prompts[0]);
    CHECK_STR(body, "{\"input\":{\"prompt\":\"Once upon a time\"}}");
    free(body);
    completion_request_free(&r);
    CHECK(r.prompts == NULL && r.base.model == NULL);
  }

  TEST("body errors");
  EXPECT_ERR("{", 400, "");
  EXPECT_ERR("[]", 400, "");
  EXPECT_ERR("{" BASE "} x", 400, "");
  CHECK_INT(completion_request_parse(NULL, 0, CONF, 0, &r, &e), -1);

  TEST("model");
  EXPECT_ERR("{'prompt':'x'}", 400, "model");
  EXPECT_ERR("{'model':1,'prompt':'x'}", 400, "model");
  EXPECT_ERR("{'model':'gpt-3.5-turbo-instruct','prompt':'x'}", 404, "model");
  memset(&e, 0, sizeof e);
  parse("{'model':'davinci-002','prompt':'x'}", &r, &e);
  CHECK_STR(e.code, "model_not_found");
  if (EXPECT_OK("{'model':'deepseek-reasoner','prompt':'x'}", &r) == 0) {
    CHECK_INT(r.base.thinking, 1);
    completion_request_free(&r);
  }
}

static void test_prompt(void) {
  struct completion_request r;
  struct oai_error e;

  TEST("prompt: string or array of strings");
  if (EXPECT_OK("{'model':'deepseek-v3.1','prompt':['a','','c\\nd']}", &r) == 0) {
    CHECK_INT(r.n_prompts, 3);
    CHECK_STR(r.prompts[0], "a");
    CHECK_STR(r.prompts[1], "");
    CHECK_STR(r.prompts[2], "c\nd");
    completion_request_free(&r);
  }
  if (EXPECT_OK("{'model':'deepseek-v3.1','prompt':''}", &r) == 0) {
    CHECK_INT(r.n_prompts, 1);
    CHECK_STR(r.prompts[0], "");
    completion_request_free(&r);
  }

  TEST("prompt: errors");
  EXPECT_ERR("{'model':'deepseek-v3.1'}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':null}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':[]}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':5}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':{'text':'x'}}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':['a',null]}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':[1212, 318]}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':[[1212, 318],[1]]}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':['a',[1]]}", 400, "prompt");
  parse("{'model':'deepseek-v3.1','prompt':[1212]}", &r, &e);
  CHECK(strstr(e.message, "token arrays are not supported") != NULL);

  TEST("prompt x n is at most 128");
  if (EXPECT_OK("{'model':'deepseek-v3.1','prompt':['a','b'],'n':64}", &r) == 0) {
    CHECK_INT(r.base.n, 64);
    completion_request_free(&r);
  }
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':['a','b'],'n':65}", 400, "prompt");
}

static void test_fields(void) {
  struct completion_request r;
  struct oai_error e;

  TEST("sampling fields shared with chat");
  if (EXPECT_OK("{" BASE ",'max_tokens':16,'temperature':0.2,'top_p':0.9,"
                "'presence_penalty':1,'frequency_penalty':-1,'stop':['\\n','END'],"
                "'n':3,'stream':true,'stream_options':{'include_usage':true},"
                "'echo':true,'seed':7,'user':'u','best_of':3,'logit_bias':{},"
                "'suffix':null,'logprobs':null,'future':[1]}", &r) == 0) {
    CHECK(r.base.has & HAS_MAX_TOKENS);
    CHECK_INT(r.base.max_tokens, 16);
    CHECK_INT(r.base.n, 3);
    CHECK_INT(r.base.stream, 1);
    CHECK_INT(r.base.include_usage, 1);
    CHECK_INT(r.base.n_stop, 2);
    CHECK_STR(r.base.stop[1], "END");
    CHECK_INT(r.echo, 1);
    char *body = chat_request_prediction_body(&r.base, "P");
    CHECK_STR(body, "{\"input\":{\"prompt\":\"P\",\"max_tokens\":16,"
                    "\"temperature\":0.2,\"top_p\":0.9,\"presence_penalty\":1,"
                    "\"frequency_penalty\":-1}}");
    free(body);
    completion_request_free(&r);
  }
  EXPECT_ERR("{" BASE ",'max_tokens':0}", 400, "max_tokens");
  EXPECT_ERR("{" BASE ",'temperature':3}", 400, "temperature");
  EXPECT_ERR("{" BASE ",'top_p':'1'}", 400, "top_p");
  EXPECT_ERR("{" BASE ",'presence_penalty':9}", 400, "presence_penalty");
  EXPECT_ERR("{" BASE ",'n':0}", 400, "n");
  EXPECT_ERR("{" BASE ",'n':129}", 400, "n");
  EXPECT_ERR("{" BASE ",'stop':['a','b','c','d','e']}", 400, "stop");
  EXPECT_ERR("{" BASE ",'stream_options':{'include_usage':true}}", 400,
             "stream_options");
  EXPECT_ERR("{" BASE ",'echo':'yes'}", 400, "echo");
  EXPECT_ERR("{" BASE ",'seed':0.5}", 400, "seed");

  TEST("max_completion_tokens is a chat field, ignored here");
  if (EXPECT_OK("{" BASE ",'max_completion_tokens':5}", &r) == 0) {
    CHECK_INT(r.base.has & HAS_MAX_TOKENS, 0);
    completion_request_free(&r);
  }

  TEST("unsupported: suffix, logprobs, best_of, logit_bias");
  EXPECT_ERR("{" BASE ",'suffix':' the end.'}", 400, "suffix");
  parse("{" BASE ",'suffix':'x'}", &r, &e);
  CHECK_STR(e.message, "suffix is not supported: DeepSeek V3.1 on Replicate has "
                       "no fill-in-the-middle input.");
  EXPECT_ERR("{" BASE ",'suffix':3}", 400, "suffix");
  if (EXPECT_OK("{" BASE ",'suffix':''}", &r) == 0)
    completion_request_free(&r);
  EXPECT_ERR("{" BASE ",'logprobs':0}", 400, "logprobs");
  EXPECT_ERR("{" BASE ",'logprobs':5}", 400, "logprobs");
  EXPECT_ERR("{" BASE ",'best_of':2}", 400, "best_of");
  EXPECT_ERR("{" BASE ",'n':2,'best_of':3}", 400, "best_of");
  EXPECT_ERR("{" BASE ",'n':3,'best_of':2}", 400, "best_of");
  EXPECT_ERR("{" BASE ",'best_of':0}", 400, "best_of");
  EXPECT_ERR("{" BASE ",'best_of':'1'}", 400, "best_of");
  parse("{" BASE ",'best_of':2}", &r, &e);
  CHECK(strstr(e.message, "best_of is not supported") != NULL);
  if (EXPECT_OK("{" BASE ",'best_of':1}", &r) == 0)
    completion_request_free(&r);
  if (EXPECT_OK("{" BASE ",'best_of':null}", &r) == 0)
    completion_request_free(&r);
  EXPECT_ERR("{" BASE ",'logit_bias':{'50256':-100}}", 400, "logit_bias");
  EXPECT_ERR("{" BASE ",'logit_bias':[]}", 400, "logit_bias");

  TEST("chat-only keys are ignored");
  if (EXPECT_OK("{" BASE ",'messages':5,'tools':'x','response_format':1,"
                "'reasoning_effort':7}", &r) == 0) {
    CHECK(r.base.messages == NULL && r.base.tools == NULL);
    completion_request_free(&r);
  }
}

static void test_limits_and_encoding(void) {
  struct completion_request r;
  struct oai_error e;
  const char *b;

  TEST("n above max_n is refused; best_of above it too (it must equal n)");
  b = q("{" BASE ",'n':9}");
  CHECK_INT(completion_request_parse(b, strlen(b), CONF, 8, &r, &e), -1);
  CHECK_STR(e.param, "n");
  CHECK(strstr(e.message, "maximum of 8") != NULL);
  CHECK(r.prompts == NULL);
  b = q("{" BASE ",'n':8,'best_of':8}");
  CHECK_INT(completion_request_parse(b, strlen(b), CONF, 8, &r, &e), 0);
  completion_request_free(&r);
  b = q("{" BASE ",'n':8,'best_of':9}");
  CHECK_INT(completion_request_parse(b, strlen(b), CONF, 8, &r, &e), -1);
  CHECK_STR(e.param, "best_of");

  TEST("a NUL in a prompt, string or array, names it");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':'a\\u0000b'}", 400, "prompt");
  EXPECT_ERR("{'model':'deepseek-v3.1','prompt':['a','b\\u0000']}", 400, "prompt[1]");

  TEST("invalid UTF-8 in a prompt");
  b = q("{'model':'deepseek-v3.1','prompt':['ok','\xc3\x28']}");
  CHECK_INT(completion_request_parse(b, strlen(b), CONF, 0, &r, &e), -1);
  CHECK_STR(e.code, "invalid_encoding");
  CHECK_STR(e.param, "prompt[1]");
}

void suite_completion_request(void) {
  test_basics();
  test_prompt();
  test_fields();
  test_limits_and_encoding();
}
