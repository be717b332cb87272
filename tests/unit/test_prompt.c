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

/* Parse {"model":...,"messages":[<msgs>]<extra>} and render it; NULL on
 * failure. extra is more request fields, starting with ','. Malloc'd. */
static char *render_ex(enum prompt_format f, const char *msgs,
                       const char *extra, int thinking) {
  char body[8192];
  snprintf(body, sizeof body, "{'model':'deepseek-v3.1','messages':[%s]%s}",
           msgs, extra);
  const char *b = q(body);
  struct chat_request r;
  struct oai_error e;
  if (chat_request_parse(b, strlen(b), "deepseek-ai/deepseek-v3.1", 0, &r, &e) != 0) {
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

static char *render(enum prompt_format f, const char *msgs, int thinking) {
  return render_ex(f, msgs, "", thinking);
}

#define CHECK_RENDER_EX(f, msgs, extra, thinking, want)                        \
  do {                                                                         \
    char *got_ = render_ex((f), (msgs), (extra), (thinking));                  \
    CHECK_STR(got_, (want));                                                   \
    free(got_);                                                                \
  } while (0)

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
        "Assistant: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather"
        "<｜tool▁sep｜>{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n\n"
        "Tool (call_1): {\"temp\":18}\n\nAssistant: 18C.");
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'assistant','content':'Checking.','tool_calls':["
        "{'function':{'name':'a','arguments':'{}'}},"
        "{'function':{'name':'b','arguments':'{\\'x\\':1}'}}]}",
        "User: Go\n\nAssistant: Checking.<｜tool▁calls▁begin｜>"
        "<｜tool▁call▁begin｜>a<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
        "<｜tool▁call▁begin｜>b<｜tool▁sep｜>{\"x\":1}<｜tool▁call▁end｜>"
        "<｜tool▁calls▁end｜>");
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'assistant','content':'','tool_calls':["
        "{'function':{'name':'a','arguments':''}},"
        "{'function':{'name':'b','arguments':'{}'}}]}",
        "User: Go\n\nAssistant: <｜tool▁calls▁begin｜>"
        "<｜tool▁call▁begin｜>a<｜tool▁sep｜><｜tool▁call▁end｜>"
        "<｜tool▁call▁begin｜>b<｜tool▁sep｜>{}<｜tool▁call▁end｜>"
        "<｜tool▁calls▁end｜>");
  /* The deprecated assistant function_call replays the same way. */
  PLAIN("{'role':'user','content':'Go'},"
        "{'role':'assistant','content':null,'function_call':{'name':'lookup',"
        "'arguments':'{}'}},{'role':'function','name':'lookup','content':'42'}",
        "User: Go\n\nAssistant: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>lookup"
        "<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n\n"
        "Function (lookup): 42");
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

/* ---- tools and JSON mode ------------------------------------------------ */

/* The tool block's fixed text, typed out (not built from DS_* macros) so
 * the test checks the bytes independently. */
#define BLOCK_HEAD "## Tools\nYou have access to the following tools:\n\n"
#define BLOCK_TAIL                                                             \
  "\n\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n"          \
  "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>"    \
  "tool_call_arguments<｜tool▁call▁end｜>{additional_tool_calls}"             \
  "<｜tool▁calls▁end｜>\n\n"                                                   \
  "Where:\n"                                                                   \
  "- `tool_call_name` must be an exact match to one of the available tools\n" \
  "- `tool_call_arguments` must be valid JSON that strictly follows the "     \
  "tool's Parameters Schema\n"                                                 \
  "- For multiple tool calls, chain them directly without separators or "     \
  "spaces"

#define WEATHER_TOOL                                                           \
  ",'tools':[{'type':'function','function':{'name':'get_weather',"           \
  "'description':'Get the weather for a city','parameters':{'type':'object',"\
  "'properties':{'city':{'type':'string'}},'required':['city']}}}]"
#define WEATHER_DESC                                                           \
  "### get_weather\nDescription: Get the weather for a city\n\n"              \
  "Parameters: {\"type\": \"object\", \"properties\": {\"city\": {\"type\": "  \
  "\"string\"}}, \"required\": [\"city\"]}"
#define WEATHER_BLOCK BLOCK_HEAD WEATHER_DESC BLOCK_TAIL

/* ms-swift tests/test_align/test_template/test_agent.py::test_deepseek_v3_1
 * (function-calling-chatml sample 6, calls and outputs doubled), as an
 * OpenAI request: its expected input_ids text, byte for byte. */
static void test_ms_swift_vector(void) {
  TEST("deepseek: ms-swift two-tool vector");
  const char *tools =
      ",'tools':[{'type':'function','function':{'name':'convert_temperature',"
      "'description':'Convert temperature from one unit to another',"
      "'parameters':{'type':'object','properties':{'temperature':{'type':"
      "'number','description':'The temperature value'},'from_unit':{'type':"
      "'string','description':'The unit to convert from'},'to_unit':{'type':"
      "'string','description':'The unit to convert to'}},'required':"
      "['temperature','from_unit','to_unit']}}},"
      "{'type':'function','function':{'name':'get_current_date',"
      "'description':'Get the current date','parameters':{}}}]";
  const char *call =
      "{'type':'function','function':{'name':'convert_temperature',"
      "'arguments':'{\\'temperature\\': 30, \\'from_unit\\': \\'Celsius\\', "
      "\\'to_unit\\': \\'Fahrenheit\\'}'}}";
  char msgs[4096];
  snprintf(msgs, sizeof msgs,
           "{'role':'user','content':'Hi, I need to convert a temperature from "
           "Celsius to Fahrenheit. The temperature is 30 degrees Celsius.'},"
           "{'role':'assistant','content':null,'tool_calls':[%s,%s]},"
           "{'role':'tool','tool_call_id':'a','content':'{\\'converted_temperature\\': 86}'},"
           "{'role':'tool','tool_call_id':'b','content':'{\\'converted_temperature\\': 86}'},"
           "{'role':'assistant','content':'The converted temperature from 30 "
           "degrees Celsius to Fahrenheit is 86 degrees Fahrenheit.'}",
           call, call);
  CHECK_RENDER_EX(
      PROMPT_DEEPSEEK, msgs, tools, 0,
      "<｜begin▁of▁sentence｜>\n\n## Tools\n"
      "You have access to the following tools:\n\n"
      "### convert_temperature\n"
      "Description: Convert temperature from one unit to another\n\n"
      "Parameters: {\"type\": \"object\", \"properties\": {\"temperature\": {\"type\": \"number\", "
      "\"description\": \"The temperature value\"}, \"from_unit\": {\"type\": \"string\", \"description\": "
      "\"The unit to convert from\"}, \"to_unit\": {\"type\": \"string\", \"description\": \"The unit "
      "to convert to\"}}, \"required\": [\"temperature\", \"from_unit\", \"to_unit\"]}\n\n"
      "### get_current_date\n"
      "Description: Get the current date\n\n"
      "Parameters: {}\n\n"
      "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>tool_call_name<｜tool▁sep｜>tool_call_arguments<｜tool▁call▁end｜>"
      "{additional_tool_calls}<｜tool▁calls▁end｜>\n\n"
      "Where:\n"
      "- `tool_call_name` must be an exact match to one of the available tools\n"
      "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
      "- For multiple tool calls, chain them directly without separators or spaces<｜User｜>"
      "Hi, I need to convert a temperature from Celsius to Fahrenheit. The temperature is 30 degrees Celsius."
      "<｜Assistant｜></think><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>convert_temperature<｜tool▁sep｜>"
      "{\"temperature\": 30, \"from_unit\": \"Celsius\", \"to_unit\": \"Fahrenheit\"}<｜tool▁call▁end｜>"
      "<｜tool▁call▁begin｜>convert_temperature<｜tool▁sep｜>"
      "{\"temperature\": 30, \"from_unit\": \"Celsius\", \"to_unit\": \"Fahrenheit\"}<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
      "<｜tool▁output▁begin｜>{\"converted_temperature\": 86}<｜tool▁output▁end｜>"
      "<｜tool▁output▁begin｜>{\"converted_temperature\": 86}<｜tool▁output▁end｜>"
      "The converted temperature from 30 degrees Celsius to Fahrenheit is 86 degrees Fahrenheit.<｜end▁of▁sentence｜>");
}

static const char *const paris =
    "{'role':'system','content':'Be brief.'},"
    "{'role':'user','content':'Weather in Paris?'},"
    "{'role':'assistant','content':null,'tool_calls':[{'id':'call_1',"
    "'type':'function','function':{'name':'get_weather',"
    "'arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
    "{'role':'tool','tool_call_id':'call_1','content':'{\\'temp\\':18}'}";

static void test_deepseek_tools(void) {
  TEST("deepseek: §9 worked example with the tool block");
  CHECK_RENDER_EX(
      PROMPT_DEEPSEEK, paris, WEATHER_TOOL, 0,
      "<｜begin▁of▁sentence｜>Be brief.\n\n" WEATHER_BLOCK
      "<｜User｜>Weather in Paris?<｜Assistant｜></think>"
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
      "{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
      "<｜tool▁output▁begin｜>{\"temp\":18}<｜tool▁output▁end｜>");

  TEST("deepseek: first turn with tools; several systems; thinking kept");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, "{'role':'user','content':'Weather?'}",
                  WEATHER_TOOL, 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK,
                  "{'role':'system','content':'A'},{'role':'user','content':'u'},"
                  "{'role':'developer','content':'B'}",
                  WEATHER_TOOL, 1,
                  "<｜begin▁of▁sentence｜>A\n\nB\n\n" WEATHER_BLOCK
                  "<｜User｜>u<｜Assistant｜><think>");

  TEST("deepseek: tool_choice variants");
  const char *u = "{'role':'user','content':'Weather?'}";
  /* none: no block at all, as if no tools were offered. */
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u, WEATHER_TOOL ",'tool_choice':'none'", 0,
                  "<｜begin▁of▁sentence｜><｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u, WEATHER_TOOL ",'tool_choice':'auto'", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u, WEATHER_TOOL ",'tool_choice':'required'", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "\n\nYou must call at least one tool."
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  WEATHER_TOOL ",'tool_choice':{'type':'function','function':"
                  "{'name':'get_weather'}}", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "\n\nYou must call the tool `get_weather`."
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  WEATHER_TOOL ",'parallel_tool_calls':false", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "\n\nCall at most one tool."
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  WEATHER_TOOL ",'parallel_tool_calls':false,'tool_choice':'required'",
                  0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "\n\nYou must call at least one tool.\nCall at most one tool."
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  WEATHER_TOOL ",'parallel_tool_calls':true", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "<｜User｜>Weather?<｜Assistant｜></think>");
  /* allowed_tools narrows the block. */
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  ",'tools':[{'type':'function','function':{'name':'other'}},"
                  "{'type':'function','function':{'name':'get_weather',"
                  "'description':'Get the weather for a city','parameters':"
                  "{'type':'object','properties':{'city':{'type':'string'}},"
                  "'required':['city']}}}],'tool_choice':{'type':'allowed_tools',"
                  "'allowed_tools':{'mode':'auto','tools':[{'type':'function',"
                  "'function':{'name':'get_weather'}}]}}", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "<｜User｜>Weather?<｜Assistant｜></think>");

  TEST("deepseek: legacy functions (one call per answer)");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  ",'functions':[{'name':'get_weather','description':'Get the "
                  "weather for a city','parameters':{'type':'object','properties':"
                  "{'city':{'type':'string'}},'required':['city']}}],"
                  "'function_call':{'name':'get_weather'}", 0,
                  "<｜begin▁of▁sentence｜>\n\n" WEATHER_BLOCK
                  "\n\nYou must call the tool `get_weather`.\nCall at most one tool."
                  "<｜User｜>Weather?<｜Assistant｜></think>");

  TEST("deepseek: missing description and parameters");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  ",'tools':[{'type':'function','function':{'name':'ping'}},"
                  "{'type':'function','function':{'name':'pong','description':''}}]",
                  0,
                  "<｜begin▁of▁sentence｜>\n\n" BLOCK_HEAD
                  "### ping\nDescription: \n\nParameters: {}\n\n"
                  "### pong\nDescription: \n\nParameters: {}" BLOCK_TAIL
                  "<｜User｜>Weather?<｜Assistant｜></think>");
}

/* Parameters are printed as Python's json.dumps(ensure_ascii=False); the
 * expected text below is what Python 3 prints for the same parameters. */
static void test_python_json(void) {
  TEST("tool parameters as Python json.dumps");
  CHECK_RENDER_EX(
      PROMPT_DEEPSEEK, "{'role':'user','content':'x'}",
      ",'tools':[{'type':'function','function':{'name':'f','description':"
      "'caf\xC3\xA9 \\u2192 \\'q\\' back\\\\slash','parameters':{'z':1,'a':"
      "[true,false,null,[],{}],'n':[0,-3,0.5,1e-05,2.5e-7,100000000000000000000,"
      "123456.789,0,3],'s':'tab\\there\\nnl \\u0001 \\u001f / \\u00e9\xE6\x97\xA5 "
      "\\'q\\' \\\\'}}}]", 0,
      "<｜begin▁of▁sentence｜>\n\n" BLOCK_HEAD
      "### f\nDescription: caf\xC3\xA9 \xE2\x86\x92 \"q\" back\\slash\n\n"
      "Parameters: {\"z\": 1, \"a\": [true, false, null, [], {}], "
      "\"n\": [0, -3, 0.5, 1e-05, 2.5e-07, 100000000000000000000, "
      "123456.789, 0, 3], "
      "\"s\": \"tab\\there\\nnl \\u0001 \\u001f / \xC3\xA9\xE6\x97\xA5 "
      "\\\"q\\\" \\\\\"}" BLOCK_TAIL
      "<｜User｜>x<｜Assistant｜></think>");
  /* Known difference: cJSON keeps no int/float distinction, so whole
   * floats print as integers (Python: 3.0, -0.0, 1e+20). */
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, "{'role':'user','content':'x'}",
                  ",'tools':[{'type':'function','function':{'name':'f',"
                  "'parameters':{'n':[3.0,-0.0,1e20,1e300]}}}]", 0,
                  "<｜begin▁of▁sentence｜>\n\n" BLOCK_HEAD
                  "### f\nDescription: \n\nParameters: {\"n\": [3, 0, "
                  "100000000000000000000, 1e+300]}" BLOCK_TAIL
                  "<｜User｜>x<｜Assistant｜></think>");
}

static void test_plain_tools(void) {
  TEST("plain: tool block after the system blocks");
  CHECK_RENDER_EX(
      PROMPT_PLAIN, paris, WEATHER_TOOL, 0,
      "System: Be brief.\n\n" WEATHER_BLOCK "\n\n"
      "User: Weather in Paris?\n\n"
      "Assistant: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather"
      "<｜tool▁sep｜>{\"city\":\"Paris\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n\n"
      "Tool (call_1): {\"temp\":18}");

  TEST("plain: a lone user message with tools is not verbatim");
  CHECK_RENDER_EX(PROMPT_PLAIN, "{'role':'user','content':'Weather?'}",
                  WEATHER_TOOL, 0, WEATHER_BLOCK "\n\nUser: Weather?");
  CHECK_RENDER_EX(PROMPT_PLAIN, "{'role':'user','content':'Weather?'}",
                  WEATHER_TOOL ",'tool_choice':'none'", 0, "Weather?");

  TEST("plain: choice lines; later system messages stay in place");
  CHECK_RENDER_EX(PROMPT_PLAIN,
                  "{'role':'system','content':'A'},{'role':'developer','content':'B'},"
                  "{'role':'user','content':'u'},{'role':'system','content':'C'}",
                  WEATHER_TOOL ",'tool_choice':'required','parallel_tool_calls':false",
                  0,
                  "System: A\n\nSystem: B\n\n" WEATHER_BLOCK
                  "\n\nYou must call at least one tool.\nCall at most one tool."
                  "\n\nUser: u\n\nSystem: C");
  CHECK_RENDER_EX(PROMPT_PLAIN, "{'role':'user','content':'u'}",
                  WEATHER_TOOL ",'tool_choice':{'type':'function','function':"
                  "{'name':'get_weather'}}", 0,
                  WEATHER_BLOCK "\n\nYou must call the tool `get_weather`."
                  "\n\nUser: u");
}

#define JSON_OBJ                                                               \
  "Respond with a single valid JSON object and nothing else: no prose, no "   \
  "code fences."

static void test_json_mode(void) {
  const char *u = "{'role':'user','content':'Hi'}";
  const char *su = "{'role':'system','content':'Be brief.'},"
                   "{'role':'user','content':'Hi'}";
  const char *jo = ",'response_format':{'type':'json_object'}";

  TEST("json mode: deepseek, joined into the system part");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u, jo, 0,
                  "<｜begin▁of▁sentence｜>" JSON_OBJ "<｜User｜>Hi<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, su, jo, 0,
                  "<｜begin▁of▁sentence｜>Be brief.\n\n" JSON_OBJ
                  "<｜User｜>Hi<｜Assistant｜></think>");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, su,
                  ",'response_format':{'type':'text'}", 0,
                  "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜></think>");
  /* With tools: system, instruction, then the tool block. */
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, su, WEATHER_TOOL ",'response_format':"
                  "{'type':'json_object'}", 0,
                  "<｜begin▁of▁sentence｜>Be brief.\n\n" JSON_OBJ "\n\n" WEATHER_BLOCK
                  "<｜User｜>Hi<｜Assistant｜></think>");

  TEST("json mode: deepseek, json_schema");
  CHECK_RENDER_EX(PROMPT_DEEPSEEK, u,
                  ",'response_format':{'type':'json_schema','json_schema':"
                  "{'name':'answer','description':'The answer.','strict':true,"
                  "'schema':{'type':'object','properties':{'a':{'type':'integer'}},"
                  "'required':['a'],'additionalProperties':false}}}", 0,
                  "<｜begin▁of▁sentence｜>" JSON_OBJ "\nFormat name: answer\n"
                  "Format description: The answer.\n"
                  "The JSON must conform to this JSON schema:\n"
                  "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                  "\"required\":[\"a\"],\"additionalProperties\":false}"
                  "<｜User｜>Hi<｜Assistant｜></think>");

  TEST("json mode: plain, a System block after the system messages");
  CHECK_RENDER_EX(PROMPT_PLAIN, u, jo, 0, "System: " JSON_OBJ "\n\nUser: Hi");
  CHECK_RENDER_EX(PROMPT_PLAIN, su, jo, 0,
                  "System: Be brief.\n\nSystem: " JSON_OBJ "\n\nUser: Hi");
  CHECK_RENDER_EX(PROMPT_PLAIN, su, WEATHER_TOOL ",'response_format':"
                  "{'type':'json_object'}", 0,
                  "System: Be brief.\n\nSystem: " JSON_OBJ "\n\n" WEATHER_BLOCK
                  "\n\nUser: Hi");
  CHECK_RENDER_EX(PROMPT_PLAIN, u, ",'response_format':{'type':'text'}", 0, "Hi");
}

void suite_prompt(void) {
  test_formats();
  test_plain();
  test_deepseek();
  test_ms_swift_vector();
  test_deepseek_tools();
  test_python_json();
  test_plain_tools();
  test_json_mode();
}
