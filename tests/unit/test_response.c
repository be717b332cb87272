#include "../../shared/response.h"

#include <cJSON.h>
#include <limits.h>
#include <stdlib.h>

#include "../../shared/prediction.h"
#include "test.h"

static const struct response_meta meta = {"chatcmpl-abc", 1700000000, "deepseek-v3.1"};

#define HEAD(obj)                                                              \
  "{\"id\":\"chatcmpl-abc\",\"object\":\"" obj "\",\"created\":1700000000,"   \
  "\"model\":\"deepseek-v3.1\",\"choices\":["
#define CHUNK "data: " HEAD("chat.completion.chunk")

/* Escape (ptr, len) with quotes and compare with the expected JSON text. */
static void check_quote(int line, const char *s, size_t len, const char *want) {
  struct buf b = BUF_INIT;
  if (json_quote_append(&b, s, len) != 0 || b.len != strlen(want) ||
      memcmp(b.data, want, b.len) != 0)
    test_fail(__FILE__, line, "escape: got \"%.*s\", want \"%s\"", (int)b.len,
              b.data ? b.data : "", want);
  else
    test_passed++;
  buf_free(&b);
}
#define QUOTE(lit, want) check_quote(__LINE__, lit, sizeof lit - 1, want)

static void test_escape(void) {
  TEST("json escaping: specials and control bytes");
  QUOTE("", "\"\"");
  QUOTE("plain text", "\"plain text\"");
  QUOTE("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
  QUOTE("l1\nl2\r\n\ttab", "\"l1\\nl2\\r\\n\\ttab\"");
  QUOTE("\b\f\x01\x1f\x7f", "\"\\b\\f\\u0001\\u001f\x7f\"");
  QUOTE("nul\0inside", "\"nul\\u0000inside\"");
  QUOTE("\0", "\"\\u0000\"");

  TEST("json escaping: UTF-8 passes through");
  QUOTE("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80 \xE2\x80\xA8 \xEF\xBF\xBF \xF4\x8F\xBF\xBF",
        "\"caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80 \xE2\x80\xA8 \xEF\xBF\xBF \xF4\x8F\xBF\xBF\"");
  QUOTE("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
        "\"<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>\"");

#define FFFD "\xEF\xBF\xBD"
  TEST("json escaping: ill-formed UTF-8 becomes U+FFFD");
  QUOTE("\xFF", "\"" FFFD "\"");
  QUOTE("a\x80" "b", "\"a" FFFD "b\"");                      /* lone continuation */
  QUOTE("\xC3", "\"" FFFD "\"");                             /* truncated at end */
  QUOTE("\xC3(", "\"" FFFD "(\"");                           /* bad continuation */
  QUOTE("\xE2\x82x", "\"" FFFD "x\"");                       /* maximal subpart */
  QUOTE("\xF0\x9F\x98", "\"" FFFD "\"");                     /* truncated 4-byte */
  QUOTE("\xC0\xAF", "\"" FFFD FFFD "\"");                    /* overlong */
  QUOTE("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");           /* overlong 3-byte */
  QUOTE("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");           /* surrogate */
  QUOTE("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");  /* > U+10FFFF */
  QUOTE("\xF5\xC1", "\"" FFFD FFFD "\"");
  QUOTE("ok\xC3\xA9\xC3\"", "\"ok\xC3\xA9" FFFD "\\\"\"");

  TEST("json escaping: every byte value at every place of a 20-byte run (word-at-a-time scan)");
  for (int c = 1; c < 256; c++) {
    char want[64];
    const char *sh = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                   : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                   : c == '\t' ? "\\t" : NULL;
    char one[8];
    if (sh)
      snprintf(one, sizeof one, "%s", sh);
    else if (c < 0x20)
      snprintf(one, sizeof one, "\\u%04x", (unsigned)c);
    else if (c >= 0x80)
      snprintf(one, sizeof one, "%s", FFFD); /* a lone byte is not UTF-8 */
    else
      snprintf(one, sizeof one, "%c", c);
    for (size_t at = 0; at < 20; at++) {
      char in[20];
      memset(in, 'a', sizeof in);
      in[at] = (char)c;
      snprintf(want, sizeof want, "\"%.*s%s%.*s\"", (int)at, "aaaaaaaaaaaaaaaaaaaa", one,
               (int)(19 - at), "aaaaaaaaaaaaaaaaaaaa");
      check_quote(__LINE__, in, sizeof in, want);
    }
  }

  TEST("escape without quotes appends in place");
  struct buf b = BUF_INIT;
  buf_append_str(&b, "x=");
  CHECK_INT(json_escape_append(&b, "\"q\"\n", 4), 0);
  CHECK_INT(json_escape_append(&b, NULL, 0), 0);
  CHECK_MEM(b.data, b.len, "x=\\\"q\\\"\\n");
  buf_free(&b);
}

/* An independent strict UTF-8 check (code point arithmetic, not tables). */
static int valid_utf8(const unsigned char *s, size_t n) {
  static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (k == 0 || c >= 0xF8 || i + k >= n)
      return 0;
    unsigned cp = c & (0x7Fu >> (k + 1));
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += k + 1;
  }
  return 1;
}

static void test_escape_random(void) {
  TEST("random bytes always give valid JSON; valid text round-trips exactly");
  unsigned seed = 12345;
  int bad_json = 0, bad_roundtrip = 0, roundtrips = 0;
  for (int iter = 0; iter < 3000; iter++) {
    unsigned char in[64];
    size_t n = (size_t)(iter % 64);
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      unsigned r = seed >> 16;
      /* Mostly interesting bytes: ASCII controls, quotes, UTF-8 leads. */
      static const unsigned char pick[] = {0, '"', '\\', '\n', 'a', 0x1f, 0x7f, 0x80, 0xBF,
                                           0xC2, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xFF};
      in[i] = (r & 1) ? (unsigned char)(r >> 1) : pick[(r >> 1) % sizeof pick];
    }
    struct buf b = BUF_INIT;
    buf_append_str(&b, "{\"id\":\"r\",\"output\":");
    size_t start = b.len;
    if (json_quote_append(&b, (const char *)in, n) != 0) {
      bad_json++;
      buf_free(&b);
      continue;
    }
    for (size_t i = start; i < b.len; i++)
      if ((unsigned char)b.data[i] < 0x20)
        bad_json++;
    if (!valid_utf8((const unsigned char *)b.data, b.len))
      bad_json++;
    buf_append_str(&b, "}");
    struct prediction p;
    if (prediction_parse(b.data, b.len, &p) != 0) {
      bad_json++;
    } else if (valid_utf8(in, n)) {
      roundtrips++;
      if (p.output_len != n || memcmp(p.output, in, n) != 0)
        bad_roundtrip++;
    }
    prediction_free(&p);
    buf_free(&b);
  }
  CHECK_INT(bad_json, 0);
  CHECK_INT(bad_roundtrip, 0);
  CHECK(roundtrips > 100);
}

static void test_completion(void) {
  TEST("chat.completion, one choice");
  struct choice_result c1 = {.content = "Hello! How can I help?", .content_len = 22, .finish_reason = "stop"};
  struct usage u = {19, 10, -1, 0, 0};
  char *s = response_chat_completion(&meta, &c1, 1, &u);
  CHECK_STR(s, HEAD("chat.completion")
            "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I help?\","
            "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
            "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29}}");
  free(s);

  TEST("chat.completion, two choices, reasoning tokens, escaping");
  static const char tricky[] = "line\n\"quoted\" \\ \xE4\xB8\xAD\0end\xFF";
  struct choice_result cs[2] = {
      {.content = tricky, .content_len = sizeof tricky - 1, .finish_reason = "length"},
      {.content = NULL},
  };
  struct usage ur = {5, 7, 3, 0, 0};
  s = response_chat_completion(&meta, cs, 2, &ur);
  CHECK_STR(s, HEAD("chat.completion")
            "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            "\"line\\n\\\"quoted\\\" \\\\ \xE4\xB8\xAD\\u0000end" FFFD "\","
            "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"length\"},"
            "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"\","
            "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
            "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12,"
            "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
  free(s);

  TEST("chat.completion without usage; odd meta");
  struct response_meta odd = {"id\"1", -42, "m\\\n"};
  struct usage uz = {-1, -5, 0, 0, 0};
  s = response_chat_completion(&odd, NULL, 0, NULL);
  CHECK_STR(s, "{\"id\":\"id\\\"1\",\"object\":\"chat.completion\",\"created\":-42,"
               "\"model\":\"m\\\\\\n\",\"choices\":[]}");
  free(s);
  s = response_chat_completion(&odd, NULL, 0, &uz);
  CHECK(s && strstr(s, "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0,"
                       "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}"));
  free(s);

  TEST("extreme numbers");
  struct response_meta big = {"x", LONG_MIN, "m"};
  struct usage ubig = {LONG_MAX, 1, -1, 0, 0};
  s = response_chat_completion(&big, NULL, 0, &ubig);
  char want[256];
  snprintf(want, sizeof want,
           "{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":\"m\",\"choices\":[],"
           "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":1,\"total_tokens\":%ld}}",
           LONG_MIN, LONG_MAX, LONG_MAX);
  CHECK_STR(s, want);
  free(s);

  TEST("usage.cost");
  struct usage uc = {12, 3, -1, 1, usage_cost(12, 3, 0.672, 2.016)};
  s = response_chat_completion(&big, NULL, 0, &uc);
  CHECK(s && strstr(s, "\"total_tokens\":15,\"cost\":1.4112e-05}}"));
  free(s);
  CHECK(usage_cost(-1, 1000000, 0.672, 2.016) == 2.016);

  TEST("a large completion");
  size_t n = 3 << 20;
  char *text = malloc(n);
  for (size_t i = 0; i < n; i++)
    text[i] = (char)('a' + i % 26);
  text[n / 2] = '\n';
  struct choice_result cb = {.content = text, .content_len = n, .finish_reason = "stop"};
  s = response_chat_completion(&meta, &cb, 1, &u);
  static const char pre[] = HEAD("chat.completion")
      "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"";
  static const char post[] = "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29}}";
  size_t plen = sizeof pre - 1;
  CHECK(s && strlen(s) == plen + n + 1 + sizeof post - 1);
  CHECK(s && memcmp(s, pre, plen) == 0 && memcmp(s + plen, text, n / 2) == 0 &&
        memcmp(s + plen + n / 2, "\\n", 2) == 0 &&
        memcmp(s + plen + n / 2 + 2, text + n / 2 + 1, n - n / 2 - 1) == 0 &&
        strcmp(s + plen + n + 1, post) == 0);
  free(s);
  free(text);
}

static void test_chunks(void) {
  struct buf b = BUF_INIT;
  TEST("role chunk");
  CHECK_INT(response_chunk_role(&b, &meta, 0), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                           "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  buf_reset(&b);

  TEST("content chunk");
  CHECK_INT(response_chunk_content(&b, &meta, 2, "Hi \"there\"\n\0x", 13), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":2,\"delta\":{\"content\":\"Hi \\\"there\\\"\\n\\u0000x\"},"
                           "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  buf_reset(&b);
  CHECK_INT(response_chunk_content(&b, &meta, 0, "", 0), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"content\":\"\"},"
                           "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  buf_reset(&b);

  TEST("finish chunk");
  CHECK_INT(response_chunk_finish(&b, &meta, 0, "length"), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n");
  buf_reset(&b);
  CHECK_INT(response_chunk_finish(&b, &meta, 1, NULL), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":1,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");
  buf_reset(&b);

  TEST("usage chunk");
  struct usage u = {9, 2, -1, 0, 0};
  CHECK_INT(response_chunk_usage(&b, &meta, &u), 0);
  CHECK_MEM(b.data, b.len, CHUNK "],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n");
  buf_reset(&b);
  u.reasoning_tokens = 4;
  CHECK_INT(response_chunk_usage(&b, &meta, &u), 0);
  CHECK_MEM(b.data, b.len, CHUNK "],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11,"
                           "\"completion_tokens_details\":{\"reasoning_tokens\":4}}}\n\n");
  buf_reset(&b);

  TEST("done");
  CHECK_INT(response_done(&b), 0);
  CHECK_MEM(b.data, b.len, "data: [DONE]\n\n");
  buf_reset(&b);

  TEST("a whole stream appends in order");
  u.reasoning_tokens = -1;
  CHECK_INT(response_chunk_role(&b, &meta, 0) || response_chunk_content(&b, &meta, 0, "Hello", 5) ||
                response_chunk_finish(&b, &meta, 0, "stop") || response_chunk_usage(&b, &meta, &u) ||
                response_done(&b),
            0);
  CHECK_MEM(b.data, b.len,
            CHUNK "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
            CHUNK "{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
            CHUNK "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
            CHUNK "],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
            "data: [DONE]\n\n");
  buf_free(&b);
}

static void test_estimate(void) {
  TEST("usage estimate");
  CHECK_INT(usage_estimate_tokens("", 0), 0);
  CHECK_INT(usage_estimate_tokens(NULL, 0), 0);
  CHECK_INT(usage_estimate_tokens("a", 1), 1);
  CHECK_INT(usage_estimate_tokens("abcd", 4), 1);
  CHECK_INT(usage_estimate_tokens("abcde", 5), 2);
  CHECK_INT(usage_estimate_tokens("abcdefgh", 8), 2);
  CHECK_INT(usage_estimate_tokens(NULL, 4001), 1001);
}

#define MSG_HEAD "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
#define USAGE_1_2 "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}"

/* Arguments with every kind of thing that needs escaping. */
static const char tricky_args[] = "{\"q\": \"a\\\"b\\\\c\",\n\t\"s\": \"\xE4\xB8\xAD</x>\"}";
#define TRICKY_ARGS_JSON "\"{\\\"q\\\": \\\"a\\\\\\\"b\\\\\\\\c\\\",\\n\\t\\\"s\\\": \\\"\xE4\xB8\xAD</x>\\\"}\""

static void test_completion_tools(void) {
  struct usage u = {1, 2, -1, 0, 0};
  char *s;

  TEST("chat.completion: reasoning_content after content");
  struct choice_result r = {.content = "Paris.", .content_len = 6, .finish_reason = "stop",
                            .reasoning = "The capital\nof France.", .reasoning_len = 22,
                            .has_reasoning = 1};
  s = response_chat_completion(&meta, &r, 1, &u);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "\"Paris.\","
            "\"reasoning_content\":\"The capital\\nof France.\",\"refusal\":null},"
            "\"logprobs\":null,\"finish_reason\":\"stop\"}]," USAGE_1_2 "}");
  free(s);

  TEST("chat.completion: has_reasoning with NULL or empty reasoning sends \"\"");
  struct choice_result r0 = {.has_reasoning = 1};
  s = response_chat_completion(&meta, &r0, 1, NULL);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "\"\",\"reasoning_content\":\"\","
            "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
  free(s);

  TEST("chat.completion: reasoning text is not sent without has_reasoning");
  struct choice_result rn = {.content = "x", .content_len = 1, .reasoning = "hidden", .reasoning_len = 6};
  s = response_chat_completion(&meta, &rn, 1, NULL);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "\"x\",\"refusal\":null},"
            "\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
  free(s);

  TEST("chat.completion: content null + one tool call (OpenAI's example)");
  static const char boston[] = "{\n\"location\": \"Boston, MA\"\n}";
  struct tool_call one = {"call_abc123", "get_current_weather", 19, boston, sizeof boston - 1};
  struct choice_result t1 = {.finish_reason = "tool_calls", .content_null = 1,
                             .tool_calls = &one, .n_tool_calls = 1};
  s = response_chat_completion(&meta, &t1, 1, &u);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "null,\"refusal\":null,"
            "\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":\"function\",\"function\":"
            "{\"name\":\"get_current_weather\",\"arguments\":\"{\\n\\\"location\\\": \\\"Boston, MA\\\"\\n}\"}}]},"
            "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]," USAGE_1_2 "}");
  /* The arguments decode back to the exact JSON text. */
  cJSON *root = cJSON_Parse(s);
  cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0), "message");
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(msg, "content")));
  cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "tool_calls"), 0), "function");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments")), boston);
  cJSON_Delete(root);
  free(s);

  TEST("chat.completion: parallel calls, reasoning, text, escaping in arguments");
  struct tool_call two[3] = {
      {"call_A", "get_weather", 11, "{\"city\":\"Paris\"}", 16},
      {"call_B", "na\"me", 5, tricky_args, sizeof tricky_args - 1},
      {NULL, NULL, 0, NULL, 0},
  };
  struct choice_result t2 = {.content = "Checking both.", .content_len = 14,
                             .finish_reason = "tool_calls", .reasoning = "r", .reasoning_len = 1,
                             .has_reasoning = 1, .tool_calls = two, .n_tool_calls = 3};
  s = response_chat_completion(&meta, &t2, 1, NULL);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "\"Checking both.\",\"reasoning_content\":\"r\","
            "\"refusal\":null,\"tool_calls\":["
            "{\"id\":\"call_A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
            "{\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":\"na\\\"me\","
            "\"arguments\":" TRICKY_ARGS_JSON "}},"
            "{\"id\":\"\",\"type\":\"function\",\"function\":{\"name\":\"\",\"arguments\":\"\"}}]},"
            "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}");
  root = cJSON_Parse(s);
  msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0), "message");
  fn = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "tool_calls"), 1), "function");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments")), tricky_args);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "name")), "na\"me");
  cJSON_Delete(root);
  free(s);

  TEST("chat.completion: legacy function_call from the first call only");
  struct choice_result lf = {.finish_reason = "function_call", .content_null = 1,
                             .tool_calls = two, .n_tool_calls = 2, .legacy_function_call = 1};
  s = response_chat_completion(&meta, &lf, 1, NULL);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "null,\"refusal\":null,"
            "\"function_call\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
            "\"logprobs\":null,\"finish_reason\":\"function_call\"}]}");
  free(s);

  TEST("chat.completion: no calls means no tool_calls/function_call key");
  struct choice_result z[2] = {
      {.content = "a", .content_len = 1, .tool_calls = two, .n_tool_calls = 0},
      {.content_null = 1, .tool_calls = NULL, .n_tool_calls = 2, .legacy_function_call = 1},
  };
  s = response_chat_completion(&meta, z, 2, NULL);
  CHECK_STR(s, HEAD("chat.completion") MSG_HEAD "\"a\",\"refusal\":null},"
            "\"logprobs\":null,\"finish_reason\":\"stop\"},"
            "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null},"
            "\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
  free(s);

  TEST("chat.completion: n=2, calls in one choice, text in the other");
  struct choice_result mix[2] = {
      {.content_null = 1, .finish_reason = "tool_calls", .tool_calls = &one, .n_tool_calls = 1},
      {.content = "No tools.", .content_len = 9},
  };
  s = response_chat_completion(&meta, mix, 2, &u);
  root = cJSON_Parse(s);
  cJSON *ch = cJSON_GetObjectItem(root, "choices");
  CHECK(cJSON_GetArraySize(ch) == 2);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "finish_reason")),
            "tool_calls");
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 1), "message"), "tool_calls") == NULL);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 1), "message"), "content")), "No tools.");
  cJSON_Delete(root);
  free(s);
}

#define NULL_END ",\"logprobs\":null,\"finish_reason\":null}]}\n\n"

static void test_chunks_tools(void) {
  struct buf b = BUF_INIT;

  TEST("reasoning chunk");
  CHECK_INT(response_chunk_reasoning(&b, &meta, 1, "Let me \"think\"\n", 15), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":1,\"delta\":{\"reasoning_content\":\"Let me \\\"think\\\"\\n\"}" NULL_END);
  buf_reset(&b);
  CHECK_INT(response_chunk_reasoning(&b, &meta, 0, NULL, 5), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"reasoning_content\":\"\"}" NULL_END);
  buf_reset(&b);

  TEST("tool call first chunk: id, type, name, empty arguments");
  struct tool_call c = {"call_Ab12", "get_weather", 11, "{\"ignored\":1}", 13};
  CHECK_INT(response_chunk_tool_call(&b, &meta, 0, &c, 0), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_Ab12\","
            "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}" NULL_END);
  buf_reset(&b);
  struct tool_call odd = {"c\"1", "a\nb", 3, NULL, 0};
  CHECK_INT(response_chunk_tool_call(&b, &meta, 3, &odd, 7), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":3,\"delta\":{\"tool_calls\":[{\"index\":7,\"id\":\"c\\\"1\","
            "\"type\":\"function\",\"function\":{\"name\":\"a\\nb\",\"arguments\":\"\"}}]}" NULL_END);
  buf_reset(&b);

  TEST("tool call argument fragments");
  CHECK_INT(response_chunk_tool_args(&b, &meta, 0, 1, "{\"city\":", 8), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
            "\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}" NULL_END);
  buf_reset(&b);
  CHECK_INT(response_chunk_tool_args(&b, &meta, 2, 0, tricky_args, sizeof tricky_args - 1), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":2,\"delta\":{\"tool_calls\":[{\"index\":0,"
            "\"function\":{\"arguments\":" TRICKY_ARGS_JSON "}}]}" NULL_END);
  buf_reset(&b);
  CHECK_INT(response_chunk_tool_args(&b, &meta, 0, 0, "", 0), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
            "\"function\":{\"arguments\":\"\"}}]}" NULL_END);
  buf_reset(&b);

  TEST("legacy function_call chunks");
  CHECK_INT(response_chunk_function_call(&b, &meta, 0, "get_weather", 11, "", 0), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"function_call\":{\"name\":\"get_weather\","
            "\"arguments\":\"\"}}" NULL_END);
  buf_reset(&b);
  CHECK_INT(response_chunk_function_call(&b, &meta, 0, NULL, 0, "{\"a\":\n1}", 8), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":0,\"delta\":{\"function_call\":{"
            "\"arguments\":\"{\\\"a\\\":\\n1}\"}}" NULL_END);
  buf_reset(&b);
  CHECK_INT(response_chunk_function_call(&b, &meta, 1, "f", 1, NULL, 3), 0);
  CHECK_MEM(b.data, b.len, CHUNK "{\"index\":1,\"delta\":{\"function_call\":{\"name\":\"f\","
            "\"arguments\":\"\"}}" NULL_END);
  buf_reset(&b);

  TEST("a whole tool-call stream: two parallel calls");
  struct tool_call c2 = {"call_Cd34", "get_time", 8, NULL, 0};
  struct usage u = {9, 2, -1, 0, 0};
  CHECK_INT(response_chunk_role(&b, &meta, 0) || response_chunk_reasoning(&b, &meta, 0, "hm", 2) ||
                response_chunk_tool_call(&b, &meta, 0, &c, 0) ||
                response_chunk_tool_args(&b, &meta, 0, 0, "{\"city\":", 8) ||
                response_chunk_tool_args(&b, &meta, 0, 0, " \"Paris\"}", 9) ||
                response_chunk_tool_call(&b, &meta, 0, &c2, 1) ||
                response_chunk_tool_args(&b, &meta, 0, 1, "{}", 2) ||
                response_chunk_finish(&b, &meta, 0, "tool_calls") ||
                response_chunk_usage(&b, &meta, &u) || response_done(&b),
            0);
  CHECK_MEM(b.data, b.len,
            CHUNK "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"reasoning_content\":\"hm\"}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_Ab12\",\"type\":\"function\","
                  "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\" \\\"Paris\\\"}\"}}]}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_Cd34\",\"type\":\"function\","
                  "\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}" NULL_END
            CHUNK "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}\n\n"
            CHUNK "],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
            "data: [DONE]\n\n");

  /* Every event is JSON; the fragments concatenate to the arguments. */
  struct buf args = BUF_INIT;
  int events = 0, bad = 0;
  for (const char *p = b.data; (p = strstr(p, "data: ")) != NULL;) {
    const char *end = strstr(p, "\n\n");
    if (!end)
      break;
    if (strncmp(p, "data: [DONE]", 12) != 0) {
      cJSON *ev = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
      cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "choices"), 0), "delta"), "tool_calls"), 0);
      const char *a = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments"));
      if (a && cJSON_GetNumberValue(cJSON_GetObjectItem(tc, "index")) == 0)
        buf_append_str(&args, a);
      bad += ev == NULL;
      events++;
      cJSON_Delete(ev);
    }
    p = end + 2;
  }
  CHECK_INT(events, 9);
  CHECK_INT(bad, 0);
  CHECK_MEM(args.data, args.len, "{\"city\": \"Paris\"}");
  buf_free(&args);
  buf_free(&b);
}

#define TEXT_HEAD(id) "{\"id\":\"" id "\",\"object\":\"text_completion\",\"created\":1700000000," \
                      "\"model\":\"deepseek-v3.1\",\"choices\":["

static void test_text_completion(void) {
  static const struct response_meta tm = {"cmpl-xyz", 1700000000, "deepseek-v3.1"};
  struct usage u = {4, 7, -1, 0, 0};
  char *s;

  TEST("text_completion, n=2");
  struct choice_result cs[2] = {
      {.content = "\n\nThis is a \"test\".", .content_len = 19, .finish_reason = "stop"},
      {.content = "\tcut", .content_len = 4, .finish_reason = "length"},
  };
  s = response_text_completion(&tm, cs, 2, &u);
  CHECK_STR(s, TEXT_HEAD("cmpl-xyz")
            "{\"text\":\"\\n\\nThis is a \\\"test\\\".\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"},"
            "{\"text\":\"\\tcut\",\"index\":1,\"logprobs\":null,\"finish_reason\":\"length\"}],"
            "\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":7,\"total_tokens\":11}}");
  free(s);

  TEST("text_completion: NULL text, default finish_reason, no usage; other fields ignored");
  struct tool_call tc = {"call_x", "f", 1, "{}", 2};
  struct choice_result c0 = {.content_null = 1, .has_reasoning = 1, .reasoning = "r", .reasoning_len = 1,
                             .tool_calls = &tc, .n_tool_calls = 1};
  s = response_text_completion(&tm, &c0, 1, NULL);
  CHECK_STR(s, TEXT_HEAD("cmpl-xyz") "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
  free(s);
  s = response_text_completion(&tm, NULL, 0, NULL);
  CHECK_STR(s, TEXT_HEAD("cmpl-xyz") "]}");
  free(s);

  TEST("text_completion stream: chunks, finish, usage");
  struct buf b = BUF_INIT;
  CHECK_INT(response_text_chunk(&b, &tm, 0, "Hel\"lo", 6, NULL) ||
                response_text_chunk(&b, &tm, 1, "Bye\n", 4, NULL) ||
                response_text_chunk(&b, &tm, 0, "", 0, "stop") ||
                response_text_chunk(&b, &tm, 1, NULL, 0, "length") ||
                response_text_usage(&b, &tm, &u) || response_done(&b),
            0);
  CHECK_MEM(b.data, b.len,
            "data: " TEXT_HEAD("cmpl-xyz") "{\"text\":\"Hel\\\"lo\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n"
            "data: " TEXT_HEAD("cmpl-xyz") "{\"text\":\"Bye\\n\",\"index\":1,\"logprobs\":null,\"finish_reason\":null}]}\n\n"
            "data: " TEXT_HEAD("cmpl-xyz") "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
            "data: " TEXT_HEAD("cmpl-xyz") "{\"text\":\"\",\"index\":1,\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n"
            "data: " TEXT_HEAD("cmpl-xyz") "],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":7,\"total_tokens\":11}}\n\n"
            "data: [DONE]\n\n");
  buf_reset(&b);
  u.reasoning_tokens = 2;
  CHECK_INT(response_text_usage(&b, &tm, &u), 0);
  CHECK_MEM(b.data, b.len, "data: " TEXT_HEAD("cmpl-xyz") "],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":7,"
            "\"total_tokens\":11,\"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n\n");
  buf_free(&b);
}

static void test_make_id(void) {
  TEST("ids from random bytes");
  static const unsigned char rnd[RESPONSE_CALL_ID_RANDOM] = {0, 1, 25, 26, 51, 52, 61, 62, 63, 124, 247, 248, 255,
                                                             100, 200, 30, 31, 32, 33, 34, 35, 36, 37, 38};
  char id[RESPONSE_CALL_ID_CAP];
  response_make_id(id, sizeof id, "call_", rnd, sizeof rnd);
  CHECK_STR(id, "call_ABZaz09ABA9AHmOefghijklm");
  CHECK_INT(strlen(id), 29);

  TEST("ids: every byte maps into [A-Za-z0-9]");
  unsigned char all[256];
  char wide[300];
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  response_make_id(wide, sizeof wide, NULL, all, sizeof all);
  int ok = strlen(wide) == 256;
  for (int i = 0; i < 256; i++)
    ok &= (wide[i] >= 'A' && wide[i] <= 'Z') || (wide[i] >= 'a' && wide[i] <= 'z') ||
          (wide[i] >= '0' && wide[i] <= '9');
  CHECK(ok);

  TEST("ids: truncated to cap, always terminated");
  char small[8];
  memset(small, 'x', sizeof small);
  response_make_id(small, sizeof small, "call_", rnd, sizeof rnd);
  CHECK_STR(small, "call_AB");
  response_make_id(small, 4, "chatcmpl-", rnd, 3);
  CHECK_STR(small, "cha");
  small[0] = 'x';
  response_make_id(small, 1, "call_", rnd, 3);
  CHECK_STR(small, "");
  small[0] = 'x';
  response_make_id(small, 0, "call_", rnd, 3);
  CHECK(small[0] == 'x');
  response_make_id(NULL, 0, "call_", rnd, 3);
  response_make_id(small, sizeof small, "p-", NULL, 5);
  CHECK_STR(small, "p-");
  response_make_id(small, sizeof small, "", rnd, 2);
  CHECK_STR(small, "AB");
}

void suite_response(void) {
  test_escape();
  test_escape_random();
  test_completion();
  test_completion_tools();
  test_chunks();
  test_chunks_tools();
  test_text_completion();
  test_make_id();
  test_estimate();
}
