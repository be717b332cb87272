#include "../../shared/response.h"

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
  struct choice_result c1 = {"Hello! How can I help?", 22, "stop"};
  struct usage u = {19, 10, -1};
  char *s = response_chat_completion(&meta, &c1, 1, &u);
  CHECK_STR(s, HEAD("chat.completion")
            "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I help?\","
            "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
            "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29}}");
  free(s);

  TEST("chat.completion, two choices, reasoning tokens, escaping");
  static const char tricky[] = "line\n\"quoted\" \\ \xE4\xB8\xAD\0end\xFF";
  struct choice_result cs[2] = {
      {tricky, sizeof tricky - 1, "length"},
      {NULL, 0, NULL},
  };
  struct usage ur = {5, 7, 3};
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
  struct usage uz = {-1, -5, 0};
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
  struct usage ubig = {LONG_MAX, 1, -1};
  s = response_chat_completion(&big, NULL, 0, &ubig);
  char want[256];
  snprintf(want, sizeof want,
           "{\"id\":\"x\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":\"m\",\"choices\":[],"
           "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":1,\"total_tokens\":%ld}}",
           LONG_MIN, LONG_MAX, LONG_MAX);
  CHECK_STR(s, want);
  free(s);

  TEST("a large completion");
  size_t n = 3 << 20;
  char *text = malloc(n);
  for (size_t i = 0; i < n; i++)
    text[i] = (char)('a' + i % 26);
  text[n / 2] = '\n';
  struct choice_result cb = {text, n, "stop"};
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
  struct usage u = {9, 2, -1};
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

void suite_response(void) {
  test_escape();
  test_escape_random();
  test_completion();
  test_chunks();
  test_estimate();
}
