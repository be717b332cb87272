#include "../../shared/pipeline.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/deepseek_tokens.h"
#include "test.h"

static const struct response_meta META = {"chatcmpl-1", 1700000000, "deepseek-v3.1"};

struct run {
  struct buf out; /* stream chunks */
  int feed_rc;    /* last non-zero pipeline_feed result */
  int finish_rc;
  struct oai_error err;
  struct choice_result r;
  struct pipeline *p;
};

/* Feed `text` cut at the given positions (ascending, within the text). */
static void run_cuts(struct run *x, const struct pipeline_opts *o, const char *text,
                     const size_t *cuts, size_t n_cuts) {
  memset(x, 0, sizeof *x);
  buf_init(&x->out);
  x->p = pipeline_new(o);
  size_t len = strlen(text), from = 0;
  for (size_t i = 0; i <= n_cuts; i++) {
    size_t to = i < n_cuts ? cuts[i] : len;
    int rc = pipeline_feed(x->p, text + from, to - from, &x->out, &META);
    if (rc)
      x->feed_rc = rc;
    from = to;
  }
  x->finish_rc = pipeline_finish(x->p, &x->out, &META, &x->err);
  pipeline_result(x->p, &x->r);
}

static void run_whole(struct run *x, const struct pipeline_opts *o, const char *text) {
  run_cuts(x, o, text, NULL, 0);
}

static void run_free(struct run *x) {
  pipeline_free(x->p);
  buf_free(&x->out);
}

static struct chat_request tools_request(void) {
  struct chat_request r;
  memset(&r, 0, sizeof r);
  static char name0[] = "get_weather", name1[] = "get_time";
  static char *names[] = {name0, name1};
  r.tool_names = names;
  r.n_tools = 2;
  r.tool_choice = TOOL_CHOICE_AUTO;
  return r;
}

#define CALL(name, args)                                                       \
  DS_TC_B name DS_SEP args DS_TC_E

/* Same results for every split of the text into two and three pieces. */
static void check_every_chunking(const struct pipeline_opts *o, const char *text) {
  struct run whole;
  run_whole(&whole, o, text);
  size_t len = strlen(text);
  int mismatches = 0;
  for (size_t a = 0; a <= len; a++) {
    for (size_t b = a; b <= len; b += (len > 60 ? 7 : 1)) {
      size_t cuts[2] = {a, b};
      struct run x;
      run_cuts(&x, o, text, cuts, 2);
      int same = x.finish_rc == whole.finish_rc && x.r.content_len == whole.r.content_len &&
                 memcmp(x.r.content, whole.r.content, x.r.content_len) == 0 &&
                 x.r.reasoning_len == whole.r.reasoning_len &&
                 memcmp(x.r.reasoning, whole.r.reasoning, x.r.reasoning_len) == 0 &&
                 x.r.n_tool_calls == whole.r.n_tool_calls &&
                 pipeline_stop_matched(x.p) == pipeline_stop_matched(whole.p);
      for (size_t i = 0; same && i < x.r.n_tool_calls; i++)
        same = x.r.tool_calls[i].arguments_len == whole.r.tool_calls[i].arguments_len &&
               memcmp(x.r.tool_calls[i].arguments, whole.r.tool_calls[i].arguments,
                      x.r.tool_calls[i].arguments_len) == 0;
      if (!same)
        mismatches++;
      run_free(&x);
    }
  }
  CHECK_INT(mismatches, 0);
  run_free(&whole);
}

/* Concatenated delta.content / delta.reasoning_content of stream chunks. */
static void join_deltas(const struct buf *out, const char *field, struct buf *joined) {
  const char *s = out->data ? out->data : "";
  while ((s = strstr(s, "data: ")) != NULL) {
    s += 6;
    const char *end = strstr(s, "\n\n");
    cJSON *chunk = cJSON_ParseWithLength(s, end ? (size_t)(end - s) : strlen(s));
    const cJSON *choices = cJSON_GetObjectItem(chunk, "choices");
    const cJSON *delta = cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 0), "delta");
    const cJSON *v = cJSON_GetObjectItem(delta, field);
    if (cJSON_IsString(v))
      buf_append_str(joined, v->valuestring);
    cJSON_Delete(chunk);
  }
}

void suite_pipeline(void) {
  struct run x;
  const char *stops[] = {"STOP", DS_EOS};

  TEST("plain content, non-streaming");
  struct pipeline_opts o = {.kind = PIPE_CHAT, .stops = stops, .n_stops = 2};
  run_whole(&x, &o, "Hello\nworld");
  CHECK_MEM(x.r.content, x.r.content_len, "Hello\nworld");
  CHECK_INT(x.finish_rc, 0);
  CHECK_INT(x.out.len, 0);
  CHECK(!x.r.content_null && x.r.n_tool_calls == 0 && !x.r.has_reasoning);
  run_free(&x);

  TEST("stop cuts before the match and asks for the rest to be dropped");
  run_whole(&x, &o, "Hello STOP world");
  CHECK_MEM(x.r.content, x.r.content_len, "Hello ");
  CHECK_INT(x.feed_rc, 1);
  CHECK(pipeline_stop_matched(x.p));
  run_free(&x);
  check_every_chunking(&o, "Hello STOP world, STOP again");

  TEST("the end-of-sentence marker never reaches the client");
  run_whole(&x, &o, "Done." DS_EOS);
  CHECK_MEM(x.r.content, x.r.content_len, "Done.");
  run_free(&x);

  TEST("streaming chat: content chunks as text arrives");
  o.stream = 1;
  run_whole(&x, &o, "Hi there");
  CHECK_STR(x.out.data, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                        "\"created\":1700000000,\"model\":\"deepseek-v3.1\",\"choices\":[{"
                        "\"index\":0,\"delta\":{\"content\":\"Hi there\"},\"logprobs\":null,"
                        "\"finish_reason\":null}]}\n\n");
  run_free(&x);

  TEST("streaming text completion chunks");
  struct pipeline_opts t = {.kind = PIPE_TEXT, .stream = 1, .index = 1};
  run_whole(&x, &t, "abc");
  CHECK(x.out.data && strstr(x.out.data, "\"object\":\"text_completion\"") &&
        strstr(x.out.data, "\"text\":\"abc\",\"index\":1"));
  run_free(&x);

  TEST("thinking: reasoning then content");
  struct pipeline_opts th = {.kind = PIPE_CHAT, .thinking = 1, .stops = stops, .n_stops = 2};
  run_whole(&x, &th, "Let me think.</think>The answer is 4.");
  CHECK_MEM(x.r.reasoning, x.r.reasoning_len, "Let me think.");
  CHECK_MEM(x.r.content, x.r.content_len, "The answer is 4.");
  CHECK(x.r.has_reasoning);
  CHECK_INT(pipeline_reasoning_bytes(x.p), strlen("Let me think."));
  run_free(&x);
  check_every_chunking(&th, "<think>Hmm, STOP?</think>Yes. STOP no");
  th.stream = 1;
  run_whole(&x, &th, "Let me think.</think>The answer is 4.");
  struct buf joined = BUF_INIT;
  join_deltas(&x.out, "reasoning_content", &joined);
  CHECK_STR(joined.data, "Let me think.");
  buf_reset(&joined);
  join_deltas(&x.out, "content", &joined);
  CHECK_STR(joined.data, "The answer is 4.");
  run_free(&x);

  TEST("tool calls: parsed, content null, finish reason");
  struct chat_request tr = tools_request();
  struct pipeline_opts tool = {.kind = PIPE_CHAT, .stops = stops, .n_stops = 2, .req = &tr,
                               .id_seed = 42};
  run_whole(&x, &tool,
            DS_TCS_B CALL("get_weather", "{\"city\":\"Paris\"}")
                CALL("get_time", "{\"tz\":\"CET\"}") DS_TCS_E DS_EOS);
  CHECK_INT(x.r.n_tool_calls, 2);
  CHECK(x.r.content_null);
  CHECK_STR(pipeline_call_finish_reason(x.p), "tool_calls");
  if (x.r.n_tool_calls == 2) {
    CHECK_MEM(x.r.tool_calls[0].name, x.r.tool_calls[0].name_len, "get_weather");
    CHECK_MEM(x.r.tool_calls[0].arguments, x.r.tool_calls[0].arguments_len, "{\"city\":\"Paris\"}");
    CHECK_MEM(x.r.tool_calls[1].name, x.r.tool_calls[1].name_len, "get_time");
    CHECK(strncmp(x.r.tool_calls[0].id, "call_", 5) == 0 && strlen(x.r.tool_calls[0].id) == 29);
    CHECK(strcmp(x.r.tool_calls[0].id, x.r.tool_calls[1].id) != 0);
  }
  run_free(&x);
  check_every_chunking(&tool, "Let me check." DS_TCS_B CALL("get_weather", "{\"city\":\"Oslo\"}")
                                  DS_TCS_E);

  TEST("an invented tool name stays text");
  run_whole(&x, &tool, DS_TCS_B CALL("launch_rockets", "{}") DS_TCS_E);
  CHECK_INT(x.r.n_tool_calls, 0);
  CHECK(!x.r.content_null && x.r.content_len > 0);
  CHECK(pipeline_call_finish_reason(x.p) == NULL);
  run_free(&x);

  TEST("streamed tool call: one delta with id/type/name, then arguments");
  tool.stream = 1;
  run_whole(&x, &tool, "Sure." DS_TCS_B CALL("get_weather", "{\"city\":\"Paris\"}") DS_TCS_E);
  CHECK(x.out.data && strstr(x.out.data, "\"delta\":{\"content\":\"Sure.\"}"));
  CHECK(x.out.data && strstr(x.out.data, "\"tool_calls\":[{\"index\":0,\"id\":\"call_") &&
        strstr(x.out.data, "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                           "\"arguments\":\"\"}}]"));
  CHECK(x.out.data && strstr(x.out.data, "{\"index\":0,\"function\":{\"arguments\":"
                                         "\"{\\\"city\\\":\\\"Paris\\\"}\"}}"));
  CHECK(x.out.data && !strstr(x.out.data, "tool" DS_LB "calls"));
  run_free(&x);

  TEST("legacy functions answer with function_call");
  tr.legacy_functions = 1;
  tool.stream = 0;
  run_whole(&x, &tool, DS_TCS_B CALL("get_weather", "{}") DS_TCS_E);
  CHECK_STR(pipeline_call_finish_reason(x.p), "function_call");
  CHECK(x.r.legacy_function_call);
  run_free(&x);
  tr.legacy_functions = 0;

  TEST("JSON mode: fences and prose stripped; broken JSON is an error");
  struct chat_request jr;
  memset(&jr, 0, sizeof jr);
  jr.response_kind = RESPONSE_JSON_OBJECT;
  struct pipeline_opts js = {.kind = PIPE_CHAT, .stops = stops, .n_stops = 2, .req = &jr};
  run_whole(&x, &js, "Here you go:\n```json\n{\"a\": 1}\n```\nEnjoy!");
  CHECK_INT(x.finish_rc, 0);
  CHECK_MEM(x.r.content, x.r.content_len, "{\"a\": 1}");
  run_free(&x);
  run_whole(&x, &js, "{\"a\": ");
  CHECK_INT(x.finish_rc, -2);
  CHECK_INT(x.err.status, 502);
  CHECK_STR(x.err.code, "invalid_json_output");
  run_free(&x);
  js.stream = 1;
  run_whole(&x, &js, "```json\n{\"a\": [1, 2]}\n```");
  buf_reset(&joined);
  join_deltas(&x.out, "content", &joined);
  CHECK_STR(joined.data, "{\"a\": [1, 2]}");
  run_free(&x);
  buf_free(&joined);
}
