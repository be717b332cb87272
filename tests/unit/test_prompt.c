#include "../../shared/prompt.h"

#include <stdlib.h>

#include "../../shared/deepseek_tokens.h"
#include "test.h"

/* Messages are written with ' for " (see test_chat_request.c). */
static const char *q(const char *s) {
  static char b[8192];
  size_t i = 0;
  for (; s[i] && i + 1 < sizeof b; i++)
    b[i] = s[i] == '\'' ? '"' : s[i];
  b[i] = '\0';
  return b;
}

/* Parse {"model":...,"messages":[<msgs>]} and render it; NULL on failure.
 * Malloc'd. */
static char *render(enum prompt_format f, const char *msgs, int thinking) {
  char body[8192];
  snprintf(body, sizeof body, "{'model':'deepseek-v3.1','messages':[%s]}", msgs);
  const char *b = q(body);
  struct chat_request r;
  struct oai_error e;
  if (chat_request_parse(b, strlen(b), "deepseek-ai/deepseek-v3.1", &r, &e) != 0) {
    fprintf(stderr, "render: %s (%s)\n", e.message, e.param);
    return NULL;
  }
  r.thinking = thinking;
  struct buf out = BUF_INIT;
  char *s = NULL;
  if (prompt_render(f, &r, &out) == 0)
    s = buf_take(&out);
  buf_free(&out);
  chat_request_free(&r);
  return s;
}

#define CHECK_RENDER(f, msgs, thinking, want)                                  \
  do {                                                                         \
    char *got_ = render((f), (msgs), (thinking));                              \
    CHECK_STR(got_, (want));                                                   \
    free(got_);                                                                \
  } while (0)

#define PLAIN(msgs, want) CHECK_RENDER(PROMPT_PLAIN, msgs, 0, want)
#define DS(msgs, thinking, want) CHECK_RENDER(PROMPT_DEEPSEEK, msgs, thinking, want)

static void test_formats(void) {
  enum prompt_format f = PROMPT_DEEPSEEK;
  TEST("format names");
  CHECK_INT(prompt_format_parse("plain", &f), 0);
  CHECK_INT(f, PROMPT_PLAIN);
  CHECK_INT(prompt_format_parse("deepseek", &f), 0);
  CHECK_INT(f, PROMPT_DEEPSEEK);
  CHECK_INT(prompt_format_parse("Plain", &f), -1);
  CHECK_INT(prompt_format_parse("", &f), -1);
  CHECK_INT(prompt_format_parse(NULL, &f), -1);
  CHECK_STR(prompt_format_names(), "plain|deepseek");
  struct chat_request empty;
  memset(&empty, 0, sizeof empty);
  struct buf b = BUF_INIT;
  CHECK_INT(prompt_render((enum prompt_format)99, &empty, &b), -1);
  buf_free(&b);
}

static void test_plain(void) {
  TEST("plain: a single user message is verbatim");
  PLAIN("{'role':'user','content':'Hi'}", "Hi");
  PLAIN("{'role':'user','content':'User: line1\\n\\nline2 \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC\\n'}",
        "User: line1\n\nline2 \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC\n");
  PLAIN("{'role':'user','content':''}", "");
  PLAIN("{'role':'user','name':'alice','content':'Hi'}", "Hi");
  PLAIN("{'role':'user','content':[{'type':'text','text':'a'},{'type':'text','text':'b'}]}",
        "a\nb");

  TEST("plain: labelled blocks");
  PLAIN("{'role':'system','content':'Be brief.'},{'role':'user','content':'Hi'}",
        "System: Be brief.\n\nUser: Hi");
  PLAIN("{'role':'developer','content':'Dev.'},{'role':'user','content':'Hi'}",
        "System: Dev.\n\nUser: Hi");
  PLAIN("{'role':'system','content':'Only system'}", "System: Only system");
  PLAIN("{'role':'assistant','content':'Only assistant'}",
        "Assistant: Only assistant");
  PLAIN("{'role':'user','content':'1+1?'},{'role':'assistant','content':'2'},"
        "{'role':'user','content':'and 2+2?'}",
        "User: 1+1?\n\nAssistant: 2\n\nUser: and 2+2?");
  PLAIN("{'role':'user','content':'Hi'},{'role':'user','content':'there'}",
        "User: Hi\n\nUser: there");

  TEST("plain: names, parts, null content");
  PLAIN("{'role':'system','name':'rules','content':'s'},"
        "{'role':'user','name':'alice','content':'Hi'},"
        "{'role':'assistant','name':'bot','content':'Hello'}",
        "System (rules): s\n\nUser (alice): Hi\n\nAssistant (bot): Hello");
  PLAIN("{'role':'system','content':[{'type':'text','text':'p1'},{'type':'text','text':'p2'}]},"
        "{'role':'user','content':[{'type':'text','text':'q1'},{'type':'text','text':'q2'}]}",
        "System: p1\np2\n\nUser: q1\nq2");
  PLAIN("{'role':'user','content':'Hi'},{'role':'assistant','content':null}",
        "User: Hi\n\nAssistant: ");

  TEST("plain: tool calls and results");
  PLAIN("{'role':'system','content':'Be brief.'},"
        "{'role':'user','name':'alice','content':'Weather in Paris?'},"
        "{'role':'assistant','content':null,'tool_calls':[{'id':'call_1',"
        "'type':'function','function':{'name':'get_weather',"
        "'arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'{\\'temp\\':18}'},"
        "{'role':'assistant','content':'18C.'}",
        "System: Be brief.\n\nUser (alice): Weather in Paris?\n\n"
        "Assistant: [called get_weather with {\"city\":\"Paris\"}]\n\n"
        "Tool (call_1): {\"temp\":18}\n\nAssistant: 18C.");
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'assistant','content':'Checking.','tool_calls':["
        "{'function':{'name':'a','arguments':'{}'}},"
        "{'function':{'name':'b','arguments':'{\\'x\\':1}'}}]}",
        "User: Go\n\nAssistant: Checking.\n[called a with {}]\n"
        "[called b with {\"x\":1}]");
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'assistant','content':'','tool_calls':["
        "{'function':{'name':'a','arguments':''}},"
        "{'function':{'name':'b','arguments':'{}'}}]}",
        "User: Go\n\nAssistant: [called a with ]\n[called b with {}]");
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'function','name':'lookup','content':'42'},"
        "{'role':'function','name':'lookup','content':null}",
        "User: Go\n\nFunction (lookup): 42\n\nFunction (lookup): ");
  PLAIN("{'role':'tool','tool_call_id':'c9','name':'ignored','content':'out'}",
        "Tool (c9): out");
}

/* The §9 vectors and the template's rules, byte for byte. */
static void test_deepseek(void) {
  TEST("deepseek: token bytes");
  CHECK_INT(strlen(DS_BOS), 29);
  CHECK_INT(strlen(DS_EOS), 27);
  CHECK_INT(strlen(DS_USER), 12);
  CHECK_INT(strlen(DS_ASST), 17);
  CHECK_INT(strlen(DS_TCS_B), 28);
  CHECK_INT(strlen(DS_TCS_E), 26);
  CHECK_INT(strlen(DS_TC_B), 27);
  CHECK_INT(strlen(DS_TC_E), 25);
  CHECK_INT(strlen(DS_SEP), 18);
  CHECK_INT(strlen(DS_TO_B), 29);
  CHECK_INT(strlen(DS_TO_E), 27);
  /* The same tokens typed as UTF-8 text. */
  CHECK_STR(DS_BOS, "<｜begin▁of▁sentence｜>");
  CHECK_STR(DS_EOS, "<｜end▁of▁sentence｜>");
  CHECK_STR(DS_USER, "<｜User｜>");
  CHECK_STR(DS_ASST, "<｜Assistant｜>");
  CHECK_STR(DS_TCS_B, "<｜tool▁calls▁begin｜>");
  CHECK_STR(DS_TCS_E, "<｜tool▁calls▁end｜>");
  CHECK_STR(DS_TC_B, "<｜tool▁call▁begin｜>");
  CHECK_STR(DS_TC_E, "<｜tool▁call▁end｜>");
  CHECK_STR(DS_SEP, "<｜tool▁sep｜>");
  CHECK_STR(DS_TO_B, "<｜tool▁output▁begin｜>");
  CHECK_STR(DS_TO_E, "<｜tool▁output▁end｜>");

  const char *vector =
      "{'role':'system','content':'You are a helpful assistant'},"
      "{'role':'user','content':'Who are you?'},"
      "{'role':'assistant','content':'<think>Hmm</think>I am DeepSeek'},"
      "{'role':'user','content':'1+1=?'}";
  TEST("deepseek: model card vector, thinking");
  DS(vector, 1,
     "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Who are you?"
     "<｜Assistant｜></think>I am DeepSeek<｜end▁of▁sentence｜><｜User｜>1+1=?"
     "<｜Assistant｜><think>");
  TEST("deepseek: model card vector, non-thinking");
  DS(vector, 0,
     "<｜begin▁of▁sentence｜>You are a helpful assistant<｜User｜>Who are you?"
     "<｜Assistant｜></think>I am DeepSeek<｜end▁of▁sentence｜><｜User｜>1+1=?"
     "<｜Assistant｜></think>");

  TEST("deepseek: first turn, no system");
  DS("{'role':'user','content':'Hi'}", 0,
     "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>");
  DS("{'role':'user','content':'Hi'}", 1,
     "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>");

  TEST("deepseek: system and developer messages gathered up front");
  DS("{'role':'system','content':'A'},{'role':'user','content':'u1'},"
     "{'role':'developer','content':'B'},{'role':'assistant','content':'a1'},"
     "{'role':'system','content':'C'},{'role':'user','content':'u2'}", 0,
     "<｜begin▁of▁sentence｜>A\n\nB\n\nC<｜User｜>u1<｜Assistant｜></think>a1"
     "<｜end▁of▁sentence｜><｜User｜>u2<｜Assistant｜></think>");
  /* A system message between user and assistant does not end the user turn. */
  DS("{'role':'user','content':'u'},{'role':'system','content':'S'},"
     "{'role':'assistant','content':'a'}", 0,
     "<｜begin▁of▁sentence｜>S<｜User｜>u<｜Assistant｜></think>a"
     "<｜end▁of▁sentence｜>");
  DS("{'role':'system','content':''},{'role':'user','content':'u'}", 0,
     "<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜></think>");

  TEST("deepseek: old reasoning dropped, consecutive assistants");
  DS("{'role':'user','content':'u'},"
     "{'role':'assistant','content':'r1</think>x</think>y'},"
     "{'role':'assistant','content':'plain'}", 0,
     "<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜></think>x</think>y"
     "<｜end▁of▁sentence｜>plain<｜end▁of▁sentence｜>");
  /* Ending on an assistant turn: no generation prompt. */
  DS("{'role':'user','content':'u'},{'role':'assistant','content':null}", 1,
     "<｜begin▁of▁sentence｜><｜User｜>u<｜Assistant｜></think><｜end▁of▁sentence｜>");

  TEST("deepseek: tool call round trip (§9 worked example, no tool block)");
  const char *tools =
      "{'role':'system','content':'Be brief.'},"
      "{'role':'user','content':'Weather in Paris?'},"
      "{'role':'assistant','content':null,'tool_calls':[{'id':'call_1',"
      "'type':'function','function':{'name':'get_weather',"
      "'arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
      "{'role':'tool','tool_call_id':'call_1','content':'{\\'temp\\':18}'}";
  DS(tools, 0,
     "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Weather in Paris?<｜Assistant｜></think>"
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
     "{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
     "<｜tool▁output▁begin｜>{\"temp\":18}<｜tool▁output▁end｜>");
  DS(tools, 1,
     "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Weather in Paris?<｜Assistant｜></think>"
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
     "{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
     "<｜tool▁output▁begin｜>{\"temp\":18}<｜tool▁output▁end｜>");

  TEST("deepseek: answer after tool output, then a new user turn");
  {
    char msgs[4096];
    snprintf(msgs, sizeof msgs, "%s,{'role':'assistant','content':'x</think>18C.'},"
             "{'role':'user','content':'Thanks'}", tools);
    /* After tool output the template keeps the answer as is (no </think>
     * split) and adds no <｜Assistant｜>. */
    DS(msgs, 0,
       "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Weather in Paris?<｜Assistant｜></think>"
       "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
       "{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
       "<｜tool▁output▁begin｜>{\"temp\":18}<｜tool▁output▁end｜>"
       "x</think>18C.<｜end▁of▁sentence｜><｜User｜>Thanks<｜Assistant｜></think>");
  }

  TEST("deepseek: content before several calls, several outputs");
  DS("{'role':'user','content':'Go'},"
     "{'role':'assistant','content':'Checking.','tool_calls':["
     "{'function':{'name':'a','arguments':'{}'}},"
     "{'function':{'name':'b','arguments':'{\\'x\\':1}'}}]},"
     "{'role':'tool','tool_call_id':'1','content':'A'},"
     "{'role':'tool','tool_call_id':'2','content':'B'},"
     "{'role':'function','name':'old','content':'C'}", 0,
     "<｜begin▁of▁sentence｜><｜User｜>Go<｜Assistant｜></think>Checking."
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>a<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
     "<｜tool▁call▁begin｜>b<｜tool▁sep｜>{\"x\":1}<｜tool▁call▁end｜>"
     "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
     "<｜tool▁output▁begin｜>A<｜tool▁output▁end｜>"
     "<｜tool▁output▁begin｜>B<｜tool▁output▁end｜>"
     "<｜tool▁output▁begin｜>C<｜tool▁output▁end｜>");
  /* Tool calls not right after a user turn get no <｜Assistant｜>. */
  DS("{'role':'user','content':'Go'},{'role':'assistant','content':'a'},"
     "{'role':'assistant','tool_calls':[{'function':{'name':'f','arguments':'1'}}]}",
     0,
     "<｜begin▁of▁sentence｜><｜User｜>Go<｜Assistant｜></think>a<｜end▁of▁sentence｜>"
     "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>1<｜tool▁call▁end｜>"
     "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>");
  /* A user turn after tool output gets the generation prompt again. */
  DS("{'role':'tool','tool_call_id':'1','content':'A'},{'role':'user','content':'u'}",
     1,
     "<｜begin▁of▁sentence｜><｜tool▁output▁begin｜>A<｜tool▁output▁end｜>"
     "<｜User｜>u<｜Assistant｜><think>");
}

void suite_prompt(void) {
  test_formats();
  test_plain();
  test_deepseek();
}
