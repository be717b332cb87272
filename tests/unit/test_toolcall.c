#include "../../shared/toolcall.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/deepseek_tokens.h"
#include "test.h"

/* Event transcript, adjacent content merged: "C<text>\x01" per content run,
 * "T<index>|<name>|<arguments>\x01" per call. */
#define E "\x01"

struct rec {
  struct buf tr;
  struct buf pend; /* content not yet closed by a call or the end */
  int calls;
  int bad;        /* invariant violations seen by the callback */
  int stop_after; /* > 0: return 9 on that callback */
  int ncb;
};

static void rec_init(struct rec *r) {
  memset(r, 0, sizeof *r);
  buf_init(&r->tr);
  buf_init(&r->pend);
}

static void rec_free(struct rec *r) {
  buf_free(&r->tr);
  buf_free(&r->pend);
}

static void flush(struct rec *r) {
  if (r->pend.len) {
    buf_append_str(&r->tr, "C");
    buf_append(&r->tr, r->pend.data, r->pend.len);
    buf_append_str(&r->tr, E);
    buf_reset(&r->pend);
  }
}

static int valid_object(const char *s, size_t len) {
  char *z = malloc(len + 1);
  memcpy(z, s, len);
  z[len] = '\0';
  cJSON *v = cJSON_ParseWithOpts(z, NULL, 1);
  int ok = cJSON_IsObject(v);
  cJSON_Delete(v);
  free(z);
  return ok;
}

static int rec_cb(void *ud, const struct tc_event *ev) {
  struct rec *r = ud;
  r->ncb++;
  if (ev->kind == TC_CONTENT) {
    if (!ev->text || ev->len == 0)
      r->bad++;
    buf_append(&r->pend, ev->text, ev->len);
  } else {
    flush(r);
    if (ev->index != r->calls++ || !ev->name || !ev->name_len ||
        strlen(ev->name) != ev->name_len ||
        !valid_object(ev->arguments, ev->arguments_len))
      r->bad++;
    buf_printf(&r->tr, "T%d|%.*s|%.*s" E, ev->index, (int)ev->name_len,
               ev->name, (int)ev->arguments_len, ev->arguments);
  }
  return r->stop_after && r->ncb == r->stop_after ? 9 : 0;
}

static const char *const tools[] = {"get_weather", "get_time"};

/* Feed text cut at cuts (ascending), finish; the transcript goes to r.
 * Returns the number of violated invariants. */
static int run_tc(const char *const *names, size_t n, const char *text,
                  size_t len, const size_t *cuts, size_t ncuts,
                  struct rec *r) {
  struct tc_parser *p = tc_parser_new(names, n);
  int bad = 0;
  size_t from = 0;
  if (!p)
    return 1;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t to = i < ncuts ? cuts[i] : len;
    if (tc_parser_feed(p, text + from, to - from, rec_cb, r) != 0)
      bad++;
    from = to;
  }
  if (tc_parser_finish(p, rec_cb, r) != 0)
    bad++;
  flush(r);
  if (tc_parser_calls(p) != r->calls)
    bad++;
  tc_parser_free(p);
  return bad + r->bad;
}

static int same(const struct rec *r, const char *want) {
  return r->tr.len == strlen(want) &&
         (r->tr.len == 0 || !memcmp(r->tr.data, want, r->tr.len));
}

/* Whole, every 2- and 3-piece split and 1-byte pieces all give `want`. */
static void check_tc_n(const char *const *names, size_t n, const char *text,
                       const char *want, int line) {
  size_t len = strlen(text), bad = 0;
  struct rec r;
  rec_init(&r);
  int v = run_tc(names, n, text, len, NULL, 0, &r);
  if (v || !same(&r, want))
    test_fail(__FILE__, line, "whole \"%s\": got \"%.*s\" (%d bad)", text,
              (int)r.tr.len, r.tr.data ? r.tr.data : "", v);
  else
    test_passed++;
  rec_free(&r);
  for (size_t a = 0; a <= len; a++)
    for (size_t b = a; b <= len; b++) {
      size_t cuts[2] = {a, b};
      rec_init(&r);
      v = run_tc(names, n, text, len, cuts, 2, &r);
      if ((v || !same(&r, want)) && !bad++)
        test_fail(__FILE__, line, "\"%s\" cut at %zu,%zu: got \"%.*s\"", text,
                  a, b, (int)r.tr.len, r.tr.data ? r.tr.data : "");
      rec_free(&r);
    }
  size_t *cuts = malloc(len * sizeof *cuts + 1);
  for (size_t i = 0; i < len; i++)
    cuts[i] = i;
  rec_init(&r);
  v = run_tc(names, n, text, len, cuts, len, &r);
  if ((v || !same(&r, want)) && !bad++)
    test_fail(__FILE__, line, "\"%s\" byte by byte: got \"%.*s\"", text,
              (int)r.tr.len, r.tr.data ? r.tr.data : "");
  rec_free(&r);
  free(cuts);
  if (!bad)
    test_passed++;
}

#define check_tc(text, want) check_tc_n(tools, 2, text, want, __LINE__)

#define PARIS "{\"city\":\"Paris\"}"
#define CALL(name, args) DS_TC_B name DS_SEP args DS_TC_E
#define T0_PARIS "T0|get_weather|" PARIS E

static void native(void) {
  TEST("toolcall: the worked example");
  check_tc(DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E, T0_PARIS);
  TEST("toolcall: trailing end-of-sentence and whitespace dropped");
  check_tc(DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E DS_EOS, T0_PARIS);
  check_tc(DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E "\n " DS_EOS "\n",
           T0_PARIS);
  TEST("toolcall: content before the block");
  check_tc("Let me check." DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E,
           "CLet me check." E T0_PARIS);
  TEST("toolcall: whitespace-only content before the block is dropped");
  check_tc("\n\n " DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E, T0_PARIS);
  TEST("toolcall: two parallel calls");
  check_tc(DS_TCS_B CALL("get_weather", PARIS)
               CALL("get_time", "{\"tz\":\"CET\"}") DS_TCS_E,
           T0_PARIS "T1|get_time|{\"tz\":\"CET\"}" E);
  TEST("toolcall: whitespace before the call end and between calls");
  check_tc(DS_TCS_B "\n" DS_TC_B " get_weather\n" DS_SEP " " PARIS
                    "\n  " DS_TC_E "\n\n" DS_TC_B "get_time" DS_SEP
                    "{}" DS_TC_E "\n" DS_TCS_E,
           T0_PARIS "T1|get_time|{}" E);
  TEST("toolcall: '<' and marker-like text inside the arguments");
  check_tc(DS_TCS_B CALL("get_weather",
                         "{\"q\":\"<b>a</b> <\xEF\xBD\x9C x\"}") DS_TCS_E,
           "T0|get_weather|{\"q\":\"<b>a</b> <\xEF\xBD\x9C x\"}" E);
  TEST("toolcall: empty arguments are {}");
  check_tc(DS_TCS_B CALL("get_time", "") DS_TCS_E, "T0|get_time|{}" E);
  check_tc(DS_TCS_B CALL("get_time", " \n") DS_TCS_E, "T0|get_time|{}" E);
  TEST("toolcall: block without the outer marker");
  check_tc(CALL("get_weather", PARIS), T0_PARIS);
  check_tc("Sure." CALL("get_weather", PARIS) DS_TCS_E,
           "CSure." E T0_PARIS);
  TEST("toolcall: call without its begin marker");
  check_tc(DS_TCS_B "get_weather" DS_SEP PARIS DS_TC_E DS_TCS_E, T0_PARIS);
  TEST("toolcall: call end forgotten before the next call / the block end");
  check_tc(DS_TCS_B DS_TC_B "get_weather" DS_SEP PARIS DS_TC_B
                    "get_time" DS_SEP "{}" DS_TCS_E,
           T0_PARIS "T1|get_time|{}" E);
  TEST("toolcall: block ended by end-of-sentence");
  check_tc(DS_TCS_B CALL("get_weather", PARIS) DS_EOS, T0_PARIS);
  TEST("toolcall: text after the block is content");
  check_tc(DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E "\n\nDone.",
           T0_PARIS "CDone." E);
  check_tc("Hi" DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E " there",
           "CHi" E T0_PARIS "C there" E);
  TEST("toolcall: a second block later");
  check_tc("A" DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E "B" DS_TCS_B
               CALL("get_time", "{}") DS_TCS_E,
           "CA" E T0_PARIS "CB" E "T1|get_time|{}" E);
  TEST("toolcall: repeated block opener ignored");
  check_tc(DS_TCS_B DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E, T0_PARIS);
  TEST("toolcall: older V3 form function<sep>NAME + ```json fence");
  check_tc(DS_TCS_B DS_TC_B "function" DS_SEP "get_weather\n```json\n" PARIS
                    "\n```" DS_TC_E DS_TCS_E,
           T0_PARIS);
}

#define FW DS_FW
static void variants(void) {
  TEST("toolcall: block opener <｜tool_calls_begin｜>");
  check_tc("<" FW "tool_calls_begin" FW ">" CALL("get_weather", PARIS),
           T0_PARIS);
  TEST("toolcall: block opener <｜tool calls begin｜>");
  check_tc("<" FW "tool calls begin" FW ">" CALL("get_weather", PARIS),
           T0_PARIS);
  TEST("toolcall: block opener <｜tool\\_calls\\_begin｜>");
  check_tc("<" FW "tool\\_calls\\_begin" FW ">" CALL("get_weather", PARIS),
           T0_PARIS);
  TEST("toolcall: block opener <｜tool▁calls｜>");
  check_tc("<" FW "tool" DS_LB "calls" FW ">" CALL("get_weather", PARIS)
               DS_TCS_E,
           T0_PARIS);
  TEST("toolcall: call markers with '_', ' ' and '\\_' separators");
  check_tc("x<" FW "tool_calls_begin" FW "><" FW "tool_call_begin" FW
           ">get_weather<" FW "tool_sep" FW ">" PARIS "<" FW "tool_call_end" FW
           "><" FW "tool_calls_end" FW ">",
           "Cx" E T0_PARIS);
  check_tc("<" FW "tool call begin" FW ">get_weather<" FW "tool sep" FW
           ">" PARIS "<" FW "tool call end" FW ">",
           T0_PARIS);
  check_tc("<" FW "tool\\_call\\_begin" FW ">get_weather<" FW "tool\\_sep" FW
           ">" PARIS "<" FW "tool\\_call\\_end" FW "><" FW
           "tool\\_calls\\_end" FW ">" DS_EOS,
           T0_PARIS);
  TEST("toolcall: ASCII | is not a marker");
  check_tc("<|tool" DS_LB "calls" DS_LB "begin|>x", "C<|tool" DS_LB
                                                   "calls" DS_LB "begin|>x" E);
}

static void invalid(void) {
  TEST("toolcall: invented tool name is content, not a call");
  check_tc(DS_TCS_B CALL("get_wether", PARIS) DS_TCS_E,
           "Cget_wether " PARIS E);
  check_tc("Checking." DS_TCS_B CALL("get_wether", PARIS) DS_TCS_E,
           "CChecking.\nget_wether " PARIS E);
  TEST("toolcall: invalid JSON arguments are content");
  check_tc(DS_TCS_B CALL("get_weather", "{\"city\":}") DS_TCS_E,
           "Cget_weather {\"city\":}" E);
  check_tc(DS_TCS_B CALL("get_weather", "{\"a\":1} {\"b\":2}") DS_TCS_E,
           "Cget_weather {\"a\":1} {\"b\":2}" E);
  TEST("toolcall: non-object arguments are content");
  check_tc(DS_TCS_B CALL("get_weather", "[1,2]") DS_TCS_E,
           "Cget_weather [1,2]" E);
  check_tc(DS_TCS_B CALL("get_weather", "\"Paris\"") DS_TCS_E,
           "Cget_weather \"Paris\"" E);
  TEST("toolcall: valid and invalid calls mixed keep indexes dense");
  check_tc(DS_TCS_B CALL("nope", "{}") CALL("get_weather", PARIS)
               CALL("get_time", "{") CALL("get_time", "{}") DS_TCS_E,
           "Cnope {}" E T0_PARIS "C\nget_time {" E "T1|get_time|{}" E);
  TEST("toolcall: call without separator is content");
  check_tc(DS_TCS_B DS_TC_B "just text" DS_TC_E DS_TCS_E, "Cjust text" E);
  check_tc(DS_TCS_B "Sorry, I can't." DS_TCS_E, "CSorry, I can't." E);
  TEST("toolcall: empty call reports nothing");
  check_tc(DS_TCS_B DS_TC_B DS_TC_E DS_TCS_E, "");
  TEST("toolcall: V3 form with an unknown name is content");
  check_tc(DS_TCS_B DS_TC_B "function" DS_SEP "nope\n```json\n{}\n```" DS_TC_E,
           "Cfunction nope\n```json\n{}\n```" E);
}

static void unterminated(void) {
  TEST("toolcall: unterminated block, complete call: accepted");
  check_tc(DS_TCS_B DS_TC_B "get_weather" DS_SEP PARIS, T0_PARIS);
  check_tc(DS_TCS_B DS_TC_B "get_weather" DS_SEP PARIS "\n", T0_PARIS);
  TEST("toolcall: cut inside the end marker: accepted");
  check_tc(DS_TCS_B DS_TC_B "get_weather" DS_SEP PARIS "<\xEF\xBD\x9Ctool",
           T0_PARIS);
  check_tc(DS_TCS_B CALL("get_weather", PARIS) "<\xEF\xBD\x9C", T0_PARIS);
  TEST("toolcall: unterminated, incomplete JSON: content");
  check_tc(DS_TCS_B DS_TC_B "get_weather" DS_SEP "{\"city\":\"Par",
           "Cget_weather {\"city\":\"Par" E);
  TEST("toolcall: unterminated before the separator: content");
  check_tc(DS_TCS_B DS_TC_B "get_wea", "Cget_wea" E);
  check_tc("Hi" DS_TCS_B DS_TC_B "get_weather<\xEF\xBD\x9Ctool", "CHi\nget_weather" E);
  TEST("toolcall: output ends right after the opener");
  check_tc("Hi" DS_TCS_B, "CHi" E);
  check_tc("Hi" DS_TCS_B "\n", "CHi" E);
}

static void fallback(void) {
  TEST("toolcall: fenced JSON fallback");
  check_tc("```json\n{\"name\":\"get_weather\",\"arguments\":" PARIS "}\n```",
           T0_PARIS);
  check_tc("```json {\"name\": \"get_weather\", \"arguments\": {\"city\": "
           "\"Paris\"}} ```",
           T0_PARIS);
  check_tc("\n ```\n{\"name\":\"get_weather\",\"arguments\":" PARIS
           "}\n```\n",
           T0_PARIS);
  check_tc("```JSON\n{\"name\":\"get_weather\",\"arguments\":" PARIS "}```",
           T0_PARIS);
  TEST("toolcall: bare JSON fallback");
  check_tc("{\"name\":\"get_weather\",\"arguments\":" PARIS "}", T0_PARIS);
  check_tc("  {\"name\":\"get_weather\",\"parameters\":" PARIS "}  ",
           T0_PARIS);
  TEST("toolcall: fallback shapes");
  check_tc("{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": "
           "\\\"Paris\\\"}\"}",
           T0_PARIS);
  check_tc("{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
           "\"arguments\":" PARIS "}}",
           T0_PARIS);
  check_tc("{\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":" PARIS
           "},{\"name\":\"get_time\"}]}",
           T0_PARIS "T1|get_time|{}" E);
  check_tc("[{\"name\":\"get_time\",\"arguments\":null},{\"name\":\"get_"
           "weather\",\"arguments\":{ \"city\" : \"Paris\" }}]",
           "T0|get_time|{}" E "T1|get_weather|" PARIS E);
  TEST("toolcall: fallback with an unknown name stays content");
  check_tc("```json\n{\"name\":\"get_wether\",\"arguments\":{}}\n```",
           "C```json\n{\"name\":\"get_wether\",\"arguments\":{}}\n```" E);
  check_tc("[{\"name\":\"get_time\"},{\"name\":\"nope\"}]",
           "C[{\"name\":\"get_time\"},{\"name\":\"nope\"}]" E);
  TEST("toolcall: fallback needs exactly a call shape");
  check_tc("{\"answer\":42}", "C{\"answer\":42}" E);
  check_tc("{\"name\":\"get_time\",\"extra\":1}",
           "C{\"name\":\"get_time\",\"extra\":1}" E);
  check_tc("{\"name\":\"get_time\",\"arguments\":[1]}",
           "C{\"name\":\"get_time\",\"arguments\":[1]}" E);
  check_tc("{\"name\":\"get_time\",\"arguments\":{},\"parameters\":{}}",
           "C{\"name\":\"get_time\",\"arguments\":{},\"parameters\":{}}" E);
  check_tc("[]", "C[]" E);
  check_tc("{\"name\":\"get_time\"} and more", "C{\"name\":\"get_time\"} and more" E);
  check_tc("```json\n{\"name\":\"get_time\"}", "C```json\n{\"name\":\"get_time\"}" E);
  TEST("toolcall: a non-JSON fence is content (released before finish)");
  check_tc("```python\nprint(1)\n```", "C```python\nprint(1)\n```" E);
  check_tc("``x", "C``x" E);
  check_tc("```json\n[1, 2]\n```", "C```json\n[1, 2]\n```" E);
  check_tc("[1] First point", "C[1] First point" E);
  check_tc("{}", "C{}" E);
  check_tc("``", "C``" E);
  TEST("toolcall: native block after held JSON-looking text");
  check_tc("{\"a\":1}\n" DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E,
           "C{\"a\":1}\n" E T0_PARIS);
}

static void plain(void) {
  TEST("toolcall: plain text passes unchanged");
  check_tc("Hello, world! a < b <> c", "CHello, world! a < b <> c" E);
  check_tc("\n\nHello", "C\n\nHello" E);
  check_tc("  ", "C  " E);
  check_tc("", "");
  TEST("toolcall: partial marker at the end is content");
  check_tc("x <\xEF\xBD\x9Ctool" DS_LB "ca", "Cx <\xEF\xBD\x9Ctool" DS_LB "ca" E);
  check_tc("<", "C<" E);
  TEST("toolcall: other markers in content pass");
  check_tc("a" DS_TCS_E "b", "Ca" DS_TCS_E "b" E);
  TEST("toolcall: no tools offered: everything is content");
  check_tc_n(NULL, 0, DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E,
             "C" DS_TCS_B CALL("get_weather", PARIS) DS_TCS_E E, __LINE__);
  check_tc_n(NULL, 0, "{\"name\":\"get_weather\",\"arguments\":{}}",
             "C{\"name\":\"get_weather\",\"arguments\":{}}" E, __LINE__);
  static const char *const empty[] = {"", NULL};
  check_tc_n(empty, 2, "{\"name\":\"\"}", "C{\"name\":\"\"}" E, __LINE__);
}

struct cnt {
  struct buf content;
  int calls;
};

static int cnt_cb(void *ud, const struct tc_event *ev) {
  struct cnt *c = ud;
  if (ev->kind == TC_CONTENT)
    buf_append(&c->content, ev->text, ev->len);
  else
    c->calls++;
  return 0;
}

static void streaming(void) {
  struct cnt c = {BUF_INIT, 0};
  struct tc_parser *p = tc_parser_new(tools, 2);

  TEST("toolcall: content released up to a possible marker");
  static const char part1[] = "Hello <" DS_FW "tool" DS_LB "ca";
  static const char part2[] = "lls" DS_LB "begin" DS_FW ">";
  CHECK_INT(tc_parser_feed(p, part1, sizeof part1 - 1, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "Hello ");
  CHECK_INT(tc_parser_feed(p, part2, sizeof part2 - 1, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "Hello ");
  static const char call[] = CALL("get_weather", PARIS);
  CHECK_INT(tc_parser_feed(p, call, sizeof call - 1, cnt_cb, &c), 0);
  CHECK_INT(c.calls, 1);
  CHECK_INT(tc_parser_calls(p), 1);
  CHECK_INT(tc_parser_finish(p, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "Hello ");
  tc_parser_free(p);

  TEST("toolcall: a false start is released at once");
  buf_reset(&c.content);
  p = tc_parser_new(tools, 2);
  CHECK_INT(tc_parser_feed(p, "a<\xEF\xBD\x9C", 5, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "a");
  CHECK_INT(tc_parser_feed(p, "x", 1, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "a<\xEF\xBD\x9Cx");
  tc_parser_free(p);

  TEST("toolcall: a call is reported as soon as its end marker arrives");
  buf_reset(&c.content);
  c.calls = 0;
  p = tc_parser_new(tools, 2);
  static const char blk[] = DS_TCS_B CALL("get_weather", PARIS);
  CHECK_INT(tc_parser_feed(p, blk, sizeof blk - 1, cnt_cb, &c), 0);
  CHECK_INT(c.calls, 1);
  tc_parser_free(p);

  TEST("toolcall: leading whitespace is held, then released with text");
  buf_reset(&c.content);
  p = tc_parser_new(tools, 2);
  CHECK_INT(tc_parser_feed(p, "\n\n", 2, cnt_cb, &c), 0);
  CHECK_INT(c.content.len, 0);
  CHECK_INT(tc_parser_feed(p, "Hi", 2, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "\n\nHi");
  tc_parser_free(p);

  TEST("toolcall: JSON-looking output is held to finish");
  buf_reset(&c.content);
  p = tc_parser_new(tools, 2);
  CHECK_INT(tc_parser_feed(p, "{\"answer\": 1", 12, cnt_cb, &c), 0);
  CHECK_INT(c.content.len, 0);
  CHECK_INT(tc_parser_feed(p, "}", 1, cnt_cb, &c), 0);
  CHECK_INT(c.content.len, 0);
  CHECK_INT(tc_parser_finish(p, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "{\"answer\": 1}");
  tc_parser_free(p);

  TEST("toolcall: a python fence is released before finish");
  buf_reset(&c.content);
  p = tc_parser_new(tools, 2);
  CHECK_INT(tc_parser_feed(p, "```py", 5, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "```py");
  tc_parser_free(p);

  TEST("toolcall: text that cannot be a call object is released early");
  static const char *const early[] = {"[1] See", "{} x", "```json\n[1,",
                                      "```JSON {\n  x", " \n[ {  1"};
  for (size_t k = 0; k < sizeof early / sizeof early[0]; k++) {
    buf_reset(&c.content);
    p = tc_parser_new(tools, 2);
    CHECK_INT(tc_parser_feed(p, early[k], strlen(early[k]), cnt_cb, &c), 0);
    CHECK_MEM(c.content.data, c.content.len, early[k]);
    tc_parser_free(p);
  }
  TEST("toolcall: call-shaped starts are held");
  static const char *const held[] = {"{\"", "[ {\n\"", "```json\n{\"",
                                     "```\n[{\"", "```js", " [ "};
  for (size_t k = 0; k < sizeof held / sizeof held[0]; k++) {
    buf_reset(&c.content);
    p = tc_parser_new(tools, 2);
    CHECK_INT(tc_parser_feed(p, held[k], strlen(held[k]), cnt_cb, &c), 0);
    CHECK_INT(c.content.len, 0);
    tc_parser_free(p);
  }

  TEST("toolcall: no tools: content passes at once");
  buf_reset(&c.content);
  p = tc_parser_new(NULL, 0);
  CHECK_INT(tc_parser_feed(p, "<\xEF\xBD\x9C", 4, cnt_cb, &c), 0);
  CHECK_MEM(c.content.data, c.content.len, "<\xEF\xBD\x9C");
  tc_parser_free(p);

  TEST("toolcall: names are copied");
  char name[] = "get_time";
  const char *one[] = {name};
  buf_reset(&c.content);
  c.calls = 0;
  p = tc_parser_new(one, 1);
  memcpy(name, "xxxxxxxx", 8);
  static const char t2[] = CALL("get_time", "{}");
  CHECK_INT(tc_parser_feed(p, t2, sizeof t2 - 1, cnt_cb, &c), 0);
  CHECK_INT(c.calls, 1);
  tc_parser_free(p);
  buf_free(&c.content);

  TEST("toolcall: callback stop is returned and sticks");
  struct rec r;
  rec_init(&r);
  r.stop_after = 1;
  p = tc_parser_new(tools, 2);
  static const char two[] = "Hi" DS_TCS_B CALL("get_time", "{}");
  CHECK_INT(tc_parser_feed(p, two, sizeof two - 1, rec_cb, &r), 9);
  CHECK_INT(tc_parser_feed(p, "x", 1, rec_cb, &r), 9);
  CHECK_INT(tc_parser_finish(p, rec_cb, &r), 9);
  CHECK_INT(r.ncb, 1);
  tc_parser_free(p);
  rec_free(&r);
  rec_init(&r);
  r.stop_after = 1;
  p = tc_parser_new(tools, 2);
  static const char fb[] = "[{\"name\":\"get_time\"},{\"name\":\"get_time\"}]";
  CHECK_INT(tc_parser_feed(p, fb, sizeof fb - 1, rec_cb, &r), 0);
  CHECK_INT(tc_parser_finish(p, rec_cb, &r), 9);
  CHECK_INT(r.ncb, 1);
  tc_parser_free(p);
  rec_free(&r);

  TEST("toolcall: free(NULL), finish twice, feed after finish");
  tc_parser_free(NULL);
  p = tc_parser_new(tools, 2);
  rec_init(&r);
  CHECK_INT(tc_parser_feed(p, "ab", 2, rec_cb, &r), 0);
  CHECK_INT(tc_parser_finish(p, rec_cb, &r), 0);
  CHECK_INT(tc_parser_finish(p, rec_cb, &r), 0);
  CHECK_INT(tc_parser_feed(p, "cd", 2, rec_cb, &r), 0);
  flush(&r);
  CHECK_MEM(r.tr.data, r.tr.len, "Cab" E);
  tc_parser_free(p);
  rec_free(&r);
}

static void long_text(void) {
  /* A long call fed in small pieces: no quadratic rescans (this would be
   * slow, not wrong, so just check the result). */
  TEST("toolcall: long arguments in small pieces");
  struct buf text = BUF_INIT, want = BUF_INIT;
  buf_append_str(&text, "Intro " DS_TCS_B DS_TC_B "get_weather" DS_SEP
                        "{\"text\":\"");
  for (int i = 0; i < 20000; i++)
    buf_append_str(&text, "abc <b> ");
  buf_append_str(&text, "\"}" DS_TC_E DS_TCS_E);
  struct rec r;
  rec_init(&r);
  size_t ncuts = text.len / 7;
  size_t *cuts = malloc(ncuts * sizeof *cuts + 1);
  for (size_t i = 0; i < ncuts; i++)
    cuts[i] = i * 7;
  CHECK_INT(run_tc(tools, 2, text.data, text.len, cuts, ncuts, &r), 0);
  CHECK_INT(r.calls, 1);
  CHECK(r.tr.len > 160000 && !memcmp(r.tr.data, "CIntro " E "T0|", 11));
  free(cuts);
  rec_free(&r);
  buf_free(&text);
  buf_free(&want);
}

void suite_toolcall(void) {
  native();
  variants();
  invalid();
  unterminated();
  fallback();
  plain();
  streaming();
  long_text();
}
