/* The dialects: the Responses and Messages parsers (into the internal
 * request), their encoders (event order, sequence numbers, whole answers),
 * Anthropic's error shape, the response store's bound and the pipeline's
 * matched stop. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/dialects/messages_encoder.h"
#include "../../shared/dialects/messages_request.h"
#include "../../shared/dialects/response_store.h"
#include "../../shared/dialects/responses_encoder.h"
#include "../../shared/dialects/responses_request.h"
#include "../../shared/pipeline.h"
#include "test.h"

#define MODEL "deepseek-ai/deepseek-v3.1"

static int rparse_in(const char *scope, const char *body, struct responses_request *r,
                     struct oai_error *e) {
  return responses_request_parse(body, strlen(body), MODEL, NULL, scope, r, e);
}

static int rparse(const char *body, struct responses_request *r, struct oai_error *e) {
  return rparse_in("", body, r, e);
}

static int mparse(const char *body, const struct str_list *routes, int count_only,
                  struct chat_request *r, struct oai_error *e) {
  return messages_request_parse(body, strlen(body), MODEL, routes, count_only, r, e);
}

static void responses_parsing(void) {
  struct responses_request r;
  struct oai_error e;
  TEST("responses: string input, instructions, max_output_tokens");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"instructions\":\"Be brief.\",\"input\":\"Hi\","
                   "\"max_output_tokens\":50,\"store\":false,\"include\":[\"x\"],\"metadata\":{}}",
                   &r, &e), 0);
  CHECK_INT(r.chat.n_messages, 2);
  CHECK_INT(r.chat.messages[0].role, ROLE_SYSTEM);
  CHECK_STR(r.chat.messages[0].content, "Be brief.");
  CHECK_STR(r.chat.messages[1].content, "Hi");
  CHECK(r.chat.has & HAS_MAX_TOKENS);
  CHECK_INT(r.chat.max_tokens, 50);
  CHECK_INT(r.store, 0);
  CHECK_INT(cJSON_GetArraySize(r.history), 1); /* instructions are not history */
  responses_request_free(&r);

  TEST("responses: function_call and function_call_output items");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                   "\"input_text\",\"text\":\"a\"},{\"type\":\"input_text\",\"text\":\"b\"}]},"
                   "{\"type\":\"reasoning\",\"summary\":[]},"
                   "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"f\",\"arguments\":\"{}\"},"
                   "{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"g\",\"arguments\":\"{}\"},"
                   "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"42\"},"
                   "{\"type\":\"item_reference\",\"id\":\"x\"}]}",
                   &r, &e), 0);
  CHECK_INT(r.chat.n_messages, 3);
  CHECK_STR(r.chat.messages[0].content, "ab");
  CHECK_INT(r.chat.messages[1].role, ROLE_ASSISTANT);
  CHECK_INT(cJSON_GetArraySize(r.chat.messages[1].tool_calls), 2);
  CHECK_INT(r.chat.messages[2].role, ROLE_TOOL);
  CHECK_STR(r.chat.messages[2].tool_call_id, "call_1");
  CHECK_STR(r.chat.messages[2].content, "42");
  responses_request_free(&r);

  TEST("responses: images refused naming them");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                   "\"input_image\",\"image_url\":\"x\"}]}]}", &r, &e), -1);
  CHECK_INT(e.status, 400);
  CHECK_STR(e.param, "input[0].content");
  CHECK(strstr(e.message, "input_image") != NULL);
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\"}", &r, &e), -1);
  CHECK_STR(e.param, "input");
  TEST("responses: errors the chat parser finds name the Responses parameter");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"max_output_tokens\":-5}", &r, &e), -1);
  CHECK_STR(e.param, "max_output_tokens");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"reasoning\":{\"effort\":\"huge\"}}", &r, &e), -1);
  CHECK_STR(e.param, "reasoning.effort");

  TEST("responses: tools flattened, thinking off while tools are in play");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"reasoning\":{\"effort\":\"high\"},"
                   "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"}},"
                   "{\"type\":\"namespace\",\"name\":\"ns\",\"tools\":[{\"type\":\"function\",\"name\":\"g\"}]},"
                   "{\"type\":\"web_search\"}]}", &r, &e), 0);
  CHECK_INT(r.chat.n_tools, 2);
  CHECK_STR(r.chat.tool_names[1], "g");
  CHECK_INT(r.chat.thinking, 0);
  responses_request_free(&r);
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"reasoning\":{\"effort\":\"high\"},"
                   "\"text\":{\"format\":{\"type\":\"json_object\"}}}", &r, &e), 0);
  CHECK_INT(r.chat.thinking, 1);
  CHECK_INT(r.chat.response_kind, RESPONSE_JSON_OBJECT);
  responses_request_free(&r);

  TEST("responses: previous_response_id from the store, unknown 404");
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"previous_response_id\":\"resp_t1\"}",
                   &r, &e), -1);
  CHECK_INT(e.status, 404);
  CHECK_STR(e.code, "previous_response_not_found");
  const char *old = "[{\"role\":\"user\",\"content\":\"old\"}]";
  CHECK_INT(response_store_put("", "resp_t1", old, strlen(old)), 0);
  CHECK_INT(rparse("{\"model\":\"deepseek-v3.1\",\"input\":\"new\",\"previous_response_id\":\"resp_t1\"}",
                   &r, &e), 0);
  CHECK_INT(r.chat.n_messages, 2);
  CHECK_STR(r.chat.messages[0].content, "old");
  CHECK_INT(cJSON_GetArraySize(r.history), 2);
  responses_request_free(&r);

  TEST("responses: another key's previous_response_id is not found (scoped store)");
  CHECK_INT(response_store_put("key-a", "resp_t2", old, strlen(old)), 0);
  CHECK_INT(rparse_in("key-b", "{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"previous_response_id\":\"resp_t2\"}", &r, &e), -1);
  CHECK_INT(e.status, 404);
  CHECK_INT(rparse_in("key-a", "{\"model\":\"deepseek-v3.1\",\"input\":\"x\",\"previous_response_id\":\"resp_t2\"}", &r, &e), 0);
  responses_request_free(&r);
}

static void store_bound(void) {
  TEST("response store: bounded, the oldest goes first");
  response_store_clear();
  char id[32];
  for (int i = 0; i <= RESPONSE_STORE_MAX; i++) {
    snprintf(id, sizeof id, "resp_%d", i);
    CHECK_INT(response_store_put("", id, "[]", 2), 0);
  }
  int no_memory;
  char *got = response_store_get("", "resp_0", &no_memory);
  CHECK(got == NULL && !no_memory);
  got = response_store_get("", "resp_1", &no_memory);
  CHECK_STR(got, "[]");
  free(got);
  response_store_clear();
}

static void messages_parsing(void) {
  struct chat_request r;
  struct oai_error e;
  TEST("messages: system blocks, text, max_tokens, stop_sequences");
  CHECK_INT(mparse("{\"model\":\"deepseek-v3.1\",\"max_tokens\":10,\"system\":[{\"type\":\"text\","
                   "\"text\":\"S\",\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":"
                   "\"user\",\"content\":\"Hi\"}],\"stop_sequences\":[\"END\"],\"top_k\":3,"
                   "\"metadata\":{},\"context_management\":{},\"output_config\":{}}", NULL, 0, &r, &e), 0);
  CHECK_INT(r.n_messages, 2);
  CHECK_STR(r.messages[0].content, "S");
  CHECK_INT(r.max_tokens, 10);
  CHECK_INT(r.n_stop, 1);
  CHECK_STR(r.stop[0], "END");
  chat_request_free(&r);

  TEST("messages: max_tokens required (not for count_tokens)");
  const char *no_max = "{\"model\":\"deepseek-v3.1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
  CHECK_INT(mparse(no_max, NULL, 0, &r, &e), -1);
  CHECK_STR(e.param, "max_tokens");
  CHECK_INT(mparse(no_max, NULL, 1, &r, &e), 0);
  chat_request_free(&r);

  TEST("messages: tool_use and tool_result, thinking not replayed, tools off thinking");
  CHECK_INT(mparse("{\"model\":\"deepseek-v3.1\",\"max_tokens\":10,\"thinking\":{\"type\":\"adaptive\"},"
                   "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}},{\"type\":"
                   "\"web_search_20250305\",\"name\":\"web_search\"}],\"messages\":["
                   "{\"role\":\"user\",\"content\":\"q\"},"
                   "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\","
                   "\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"tool_use\","
                   "\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{\"a\":1}}]},"
                   "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
                   "\"content\":\"r\",\"is_error\":true},{\"type\":\"text\",\"text\":\"next\"}]}]}",
                   NULL, 0, &r, &e), 0);
  CHECK_INT(r.n_tools, 1);
  CHECK_INT(r.thinking, 0);
  CHECK_INT(r.n_messages, 4);
  CHECK_STR(r.messages[1].content, "ok");
  const cJSON *tc = cJSON_GetArrayItem(r.messages[1].tool_calls, 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments")),
            "{\"a\":1}");
  CHECK_INT(r.messages[2].role, ROLE_TOOL);
  CHECK_STR(r.messages[2].content, "Error: r");
  CHECK_STR(r.messages[3].content, "next");
  chat_request_free(&r);

  TEST("messages: images refused; extra_models globs");
  CHECK_INT(mparse("{\"model\":\"deepseek-v3.1\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
                   "\"content\":[{\"type\":\"document\",\"source\":{}}]}]}", NULL, 0, &r, &e), -1);
  CHECK_STR(e.param, "messages.0.content.0");
  const char *claude = "{\"model\":\"claude-opus-4\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"x\"}]}";
  CHECK_INT(mparse(claude, NULL, 0, &r, &e), -1);
  CHECK_INT(e.status, 404);
  char *items[] = {"gpt-x", "claude-*"};
  struct str_list routes = {items, 2};
  CHECK_INT(mparse(claude, &routes, 0, &r, &e), 0);
  CHECK_STR(r.model, "claude-opus-4");
  chat_request_free(&r);

  TEST("messages: error shape and statuses");
  static const struct {
    int in, out;
    const char *type;
  } rows[] = {{400, 400, "invalid_request_error"}, {401, 401, "authentication_error"},
              {404, 404, "not_found_error"},       {413, 413, "request_too_large"},
              {429, 429, "rate_limit_error"},      {502, 502, "api_error"},
              {503, 529, "overloaded_error"},      {500, 500, "api_error"}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    oai_error_set(&e, rows[i].in, "x", NULL, NULL, "m \"q\"");
    int status;
    char *json = messages_error_json(&e, &status);
    char want[160];
    snprintf(want, sizeof want, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"m \\\"q\\\"\"}}",
             rows[i].type);
    CHECK_STR(json, want);
    CHECK_INT(status, rows[i].out);
    free(json);
  }
}

/* Event names of an SSE text, space-separated. */
static void names(const struct buf *b, struct buf *out) {
  const char *p = b->data;
  while (p && (p = strstr(p, "event: ")) != NULL) {
    p += 7;
    size_t n = strcspn(p, "\n");
    if (out->len)
      buf_append_char(out, ' ');
    buf_append(out, p, n);
  }
}

static void encoders(void) {
  struct response_meta m = {"resp_abc", 1700000000, "deepseek-v3.1"};
  struct usage u = {3, 2, -1, 0, 0};
  struct encoder e;
  struct buf out = BUF_INIT, got = BUF_INIT;
  const struct tool_call call = {"call_x", "f", 1, "{}", 2};

  TEST("responses encoder: event order and sequence numbers");
  CHECK_INT(encoder_responses(&e, NULL, 0, ""), 0);
  CHECK_INT(e.ops->open(e.st, &out, &m, 0), 0);
  CHECK_INT(e.ops->reasoning(e.st, &out, &m, 0, "r", 1), 0);
  CHECK_INT(e.ops->text(e.st, &out, &m, 0, "a", 1), 0);
  CHECK_INT(e.ops->text(e.st, &out, &m, 0, "b", 1), 0);
  CHECK_INT(e.ops->call_start(e.st, &out, &m, 0, &call, 0), 0);
  CHECK_INT(e.ops->call_args(e.st, &out, &m, 0, 0, "{}", 2), 0);
  CHECK_INT(e.ops->call_end(e.st, &out, &m, 0, 0), 0);
  CHECK_INT(e.ops->finish(e.st, &out, &m, 0, "tool_calls", NULL), 0);
  CHECK_INT(e.ops->end(e.st, &out, &m, &u), 0);
  names(&out, &got);
  CHECK_STR(got.data,
            "response.created response.in_progress response.output_item.added "
            "response.reasoning_summary_part.added response.reasoning_summary_text.delta "
            "response.reasoning_summary_text.done response.reasoning_summary_part.done "
            "response.output_item.done response.output_item.added response.content_part.added "
            "response.output_text.delta response.output_text.delta response.output_text.done "
            "response.content_part.done response.output_item.done response.output_item.added "
            "response.function_call_arguments.delta response.function_call_arguments.done "
            "response.output_item.done response.completed");
  CHECK(strstr(out.data, "\"sequence_number\":19}") == NULL); /* not last: more fields follow */
  CHECK(strstr(out.data, "\"type\":\"response.completed\",\"sequence_number\":19,") != NULL);
  CHECK(strstr(out.data, "\"item_id\":\"msg_abc_1\"") != NULL);
  CHECK(strstr(out.data, "\"id\":\"fc_abc_2\",\"type\":\"function_call\",\"status\":\"completed\","
                         "\"arguments\":\"{}\",\"call_id\":\"call_x\",\"name\":\"f\"}") != NULL);
  encoder_free(&e);

  TEST("responses encoder: whole answer, incomplete at the token limit");
  CHECK_INT(encoder_responses(&e, NULL, 0, ""), 0);
  struct choice_result c = {.content = "hi", .content_len = 2, .finish_reason = "length"};
  char *whole = e.ops->whole(e.st, &m, &c, 1, &u);
  cJSON *j = cJSON_Parse(whole);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "incomplete");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "incomplete_details"), "reason")),
            "max_output_tokens");
  CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "total_tokens")->valueint, 5);
  cJSON_Delete(j);
  free(whole);
  encoder_free(&e);

  TEST("responses encoder: failed mid-stream");
  buf_reset(&out);
  CHECK_INT(encoder_responses(&e, NULL, 0, ""), 0);
  struct oai_error err;
  oai_error_set(&err, 502, "server_error", "upstream_error", NULL, "boom");
  CHECK_INT(e.ops->open(e.st, &out, &m, 0), 0);
  CHECK_INT(e.ops->fail(e.st, &out, &m, &err), 0);
  CHECK(strstr(out.data, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":2,") != NULL);
  CHECK(strstr(out.data, "\"error\":{\"code\":\"upstream_error\",\"message\":\"boom\"}") != NULL);
  encoder_free(&e);

  TEST("messages encoder: event order");
  struct response_meta mm = {"msg_abc", 1700000000, "claude-x"};
  buf_reset(&out);
  buf_reset(&got);
  CHECK_INT(encoder_messages(&e), 0);
  CHECK_INT(e.ops->open(e.st, &out, &mm, 0), 0);
  CHECK_INT(e.ops->reasoning(e.st, &out, &mm, 0, "r", 1), 0);
  CHECK_INT(e.ops->text(e.st, &out, &mm, 0, "a", 1), 0);
  CHECK_INT(e.ops->call_start(e.st, &out, &mm, 0, &call, 0), 0);
  CHECK_INT(e.ops->call_args(e.st, &out, &mm, 0, 0, "{}", 2), 0);
  CHECK_INT(e.ops->call_end(e.st, &out, &mm, 0, 0), 0);
  CHECK_INT(e.ops->finish(e.st, &out, &mm, 0, "tool_calls", NULL), 0);
  CHECK_INT(e.ops->end(e.st, &out, &mm, &u), 0);
  names(&out, &got);
  CHECK_STR(got.data, "message_start ping content_block_start content_block_delta content_block_stop "
                      "content_block_start content_block_delta content_block_stop content_block_start "
                      "content_block_delta content_block_stop message_delta message_stop");
  CHECK(strstr(out.data, "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
                         "\"input_json_delta\",\"partial_json\":\"{}\"}}") != NULL);
  CHECK(strstr(out.data, "\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
                         "\"usage\":{\"input_tokens\":3,\"output_tokens\":2}") != NULL);
  encoder_free(&e);

  TEST("messages encoder: whole answer names the stop sequence");
  CHECK_INT(encoder_messages(&e), 0);
  struct choice_result s = {.content = "x", .content_len = 1, .finish_reason = "stop", .stop_sequence = "END"};
  whole = e.ops->whole(e.st, &mm, &s, 1, &u);
  CHECK_STR(whole, "{\"id\":\"msg_abc\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
                   "\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":\"stop_sequence\","
                   "\"stop_sequence\":\"END\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}");
  free(whole);
  encoder_free(&e);
  buf_free(&out);
  buf_free(&got);
}

static void matched_stop(void) {
  TEST("pipeline: the stop that matched, across chunks");
  static const char *const stops[] = {"END", "STOP"};
  struct pipeline_opts o = {.kind = PIPE_CHAT, .stops = stops, .n_stops = 2};
  struct pipeline *p = pipeline_new(&o);
  struct buf out = BUF_INIT;
  struct response_meta m = {"chatcmpl-1", 1, "x"};
  CHECK_INT(pipeline_feed(p, "abc ST", 6, &out, &m), 0);
  CHECK_INT(pipeline_feed(p, "OP more", 7, &out, &m), 1);
  CHECK(pipeline_matched_stop(p) == stops[1]);
  pipeline_free(p);
  p = pipeline_new(&o);
  CHECK_INT(pipeline_feed(p, "no stop here", 12, &out, &m), 0);
  CHECK(pipeline_matched_stop(p) == NULL);
  pipeline_free(p);
  buf_free(&out);
}

/* The chat encoder keeps each stream's chunk prefix: its bytes must be
 * response_chunk_content's (and _reasoning's) for every token, and follow
 * the meta and index when they change, even in the same storage. */
static void chat_encoder_prefix(void) {
  TEST("chat encoder: text chunks byte-equal to response.c's, kept prefix follows meta and index");
  char id[] = "chatcmpl-aaa", model[] = "model-one";
  struct response_meta m = {id, 1700000000, model};
  struct encoder e;
  struct buf got = BUF_INIT, want = BUF_INIT;
  static const char *const texts[] = {"a", "Hi \"there\"\n", "", "caf\xC3\xA9 \xFF", "x\\y"};
  CHECK_INT(encoder_chat(&e, 0, 0), 0);
  for (int round = 0; round < 4; round++) {
    if (round == 1)
      id[10] = 'b'; /* same pointer, other bytes */
    if (round == 2)
      m.created++;
    if (round == 3)
      model[6] = '2';
    for (int index = 0; index < 2; index++) {
      for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = strlen(texts[i]);
        buf_reset(&got);
        buf_reset(&want);
        CHECK_INT(e.ops->text(e.st, &got, &m, index, texts[i], n), 0);
        CHECK_INT(response_chunk_content(&want, &m, index, texts[i], n), 0);
        CHECK_MEM(got.data, got.len, want.data);
        buf_reset(&got);
        buf_reset(&want);
        CHECK_INT(e.ops->reasoning(e.st, &got, &m, index, texts[i], n), 0);
        CHECK_INT(response_chunk_reasoning(&want, &m, index, texts[i], n), 0);
        CHECK_MEM(got.data, got.len, want.data);
      }
    }
  }
  encoder_free(&e);
  buf_free(&got);
  buf_free(&want);
}

void suite_dialects(void) {
  responses_parsing();
  store_bound();
  messages_parsing();
  encoders();
  chat_encoder_prefix();
  matched_stop();
}
