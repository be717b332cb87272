#include <string.h>

#include "../../shared/trace.h"
#include "test.h"

static const char TID[] = "4bf92f3577b34da6a3ce929d0e0e4736";
static const char PID[] = "00f067aa0ba902b7";

static int parses(const char *s) {
  unsigned char t[TRACE_ID_LEN], p[SPAN_ID_LEN], f;
  return traceparent_parse(s, t, p, &f) == 0;
}

static void check_traceparent(void) {
  TEST("traceparent: valid");
  unsigned char t[TRACE_ID_LEN], p[SPAN_ID_LEN], f = 0;
  char s[128];
  snprintf(s, sizeof s, "00-%s-%s-01", TID, PID);
  CHECK_INT(traceparent_parse(s, t, p, &f), 0);
  CHECK_INT(t[0], 0x4b);
  CHECK_INT(t[15], 0x36);
  CHECK_INT(p[0], 0x00);
  CHECK_INT(p[7], 0xb7);
  CHECK_INT(f, 1);
  char out[TRACEPARENT_LEN + 1];
  traceparent_format(out, t, p, f);
  CHECK_STR(out, s);
  snprintf(s, sizeof s, "00-%s-%s-00", TID, PID);
  CHECK_INT(traceparent_parse(s, t, p, &f), 0);
  CHECK_INT(f, 0);
  /* a later version may add fields after a dash */
  snprintf(s, sizeof s, "01-%s-%s-01-what-comes-next", TID, PID);
  CHECK(parses(s));
  snprintf(s, sizeof s, "01-%s-%s-01", TID, PID);
  CHECK(parses(s));

  TEST("traceparent: invalid (a new trace starts)");
  CHECK(!parses(NULL));
  CHECK(!parses(""));
  CHECK(!parses("garbage"));
  snprintf(s, sizeof s, "00-%s-%s-01-x", TID, PID); /* 00 has exactly four fields */
  CHECK(!parses(s));
  snprintf(s, sizeof s, "ff-%s-%s-01", TID, PID);
  CHECK(!parses(s));
  snprintf(s, sizeof s, "01-%s-%s-01x", TID, PID); /* more, but not after a dash */
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00-%s-%s-01", "00000000000000000000000000000000", PID);
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00-%s-%s-01", TID, "0000000000000000");
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00-%s-%s-01", "4BF92F3577B34DA6A3CE929D0E0E4736", PID);
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00-%s-%s-0g", TID, PID);
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00_%s-%s-01", TID, PID);
  CHECK(!parses(s));
  snprintf(s, sizeof s, "00-%.31s-%s-01", TID, PID); /* short trace id */
  CHECK(!parses(s));
  snprintf(s, sizeof s, "0-%s-%s-01", TID, PID);
  CHECK(!parses(s));
  /* nothing is written on failure */
  memset(t, 0xaa, sizeof t);
  CHECK_INT(traceparent_parse("00-zz", t, p, &f), -1);
  CHECK_INT(t[0], 0xaa);
}

static void check_redact(void) {
  TEST("url redaction");
  static const struct {
    const char *url, *redacted;
  } cases[] = {
      {"https://api.replicate.com/v1/predictions/abc", "https://api.replicate.com/v1/predictions/abc"},
      {"https://h.example/p?token=secret#frag", "https://h.example/p"},
      {"http://user:pass@h.example:81/x?y", "http://h.example:81/x"},
      /* all of a password holding an '@' */
      {"http://user:p@ss@h.example/x", "http://h.example/x"},
      /* an @ in the path is no userinfo */
      {"http://h.example/a@b", "http://h.example/a@b"},
      /* "://" only past the path: no scheme, and nothing read or written
       * past the query's start */
      {"https://h.example/p?next=https://u:p@x/", "https://h.example/p"},
      {"h.example/p?next=https://x/", "h.example/p"},
      {"h#a://b@c", "h"},
  };
  char out[128];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CHECK_INT(trace_url_redact(out, sizeof out, cases[i].url), 0);
    CHECK_STR(out, cases[i].redacted);
  }
  CHECK_INT(trace_url_redact(out, 8, "http://h.example/"), -1);
}

static void check_span_json(void) {
  TEST("span json");
  struct trace_ctx c = {.start_ns = 1700000000000000001ull, .flags = 1};
  for (int i = 0; i < TRACE_ID_LEN; i++)
    c.trace_id[i] = (unsigned char)(0x10 + i);
  for (int i = 0; i < SPAN_ID_LEN; i++)
    c.span_id[i] = (unsigned char)(0xa0 + i);
  const struct span_attr attrs[] = {
      SPAN_STR("s", "a\"b\\c\n\x01"),
      SPAN_STR("absent", NULL),
      SPAN_INT("i", -42),
      SPAN_INT_IF("skipped", 7, 0),
      SPAN_DOUBLE("d", 0.5),
      SPAN_BOOL("b", 1),
      {.key = "arr", .type = SA_STRINGS, .s = "stop"},
  };
  struct span s = {.ctx = &c, .name = "chat m", .kind = SPAN_SERVER,
                   .end_ns = 1700000000000000009ull, .attrs = attrs,
                   .n_attrs = sizeof attrs / sizeof attrs[0]};
  struct buf b = BUF_INIT;
  CHECK_INT(span_json(&b, &s), 0);
  CHECK_STR(b.data,
            "{\"kind\":2,\"traceId\":\"101112131415161718191a1b1c1d1e1f\","
            "\"spanId\":\"a0a1a2a3a4a5a6a7\",\"name\":\"chat m\","
            "\"startTimeUnixNano\":\"1700000000000000001\","
            "\"endTimeUnixNano\":\"1700000000000000009\",\"attributes\":["
            "{\"key\":\"s\",\"value\":{\"stringValue\":\"a\\\"b\\\\c\\u000a\\u0001\"}},"
            "{\"key\":\"i\",\"value\":{\"intValue\":\"-42\"}},"
            "{\"key\":\"d\",\"value\":{\"doubleValue\":0.5}},"
            "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
            "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"stop\"}]}}}"
            "],\"status\":{}}");

  TEST("span json: bytes that are not UTF-8 become U+FFFD");
  buf_reset(&b);
  struct span u = {.ctx = &c, .name = "GET /\xff\xc3\xa9\xe2\x82\xac\xc3\xed\xa0\x80\xc3",
                   .kind = SPAN_SERVER, .end_ns = 1700000000000000009ull};
  CHECK_INT(span_json(&b, &u), 0);
  CHECK(strstr(b.data, "\"name\":\"GET /\\ufffd\xc3\xa9\xe2\x82\xac\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\",") != NULL);

  TEST("span json: child with an error status");
  buf_reset(&b);
  memcpy(c.parent_id, c.span_id, SPAN_ID_LEN);
  c.span_id[0] = 0xff;
  struct span e = {.ctx = &c, .name = "replicate create", .kind = SPAN_CLIENT,
                   .end_ns = 1, /* before the start: clamped to it */
                   .error = 1, .status_message = "connection refused"};
  CHECK_INT(span_json(&b, &e), 0);
  CHECK_STR(b.data,
            "{\"kind\":3,\"traceId\":\"101112131415161718191a1b1c1d1e1f\","
            "\"spanId\":\"ffa1a2a3a4a5a6a7\",\"parentSpanId\":\"a0a1a2a3a4a5a6a7\","
            "\"name\":\"replicate create\",\"startTimeUnixNano\":\"1700000000000000001\","
            "\"endTimeUnixNano\":\"1700000000000000001\",\"attributes\":[],"
            "\"status\":{\"code\":2,\"message\":\"connection refused\"}}");

  TEST("batch envelope");
  buf_reset(&b);
  CHECK_INT(otlp_batch_open(&b, "svc", "1.0"), 0);
  CHECK_INT(otlp_batch_close(&b), 0);
  CHECK_STR(b.data,
            "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
            "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc\"}},"
            "{\"key\":\"service.version\",\"value\":{\"stringValue\":\"1.0\"}},"
            "{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}}]},"
            "\"scopeSpans\":[{\"scope\":{\"name\":\"replicate-proxy\"},\"spans\":[]}]}]}");
  buf_free(&b);
}

/* The exporter's JSON from a packed record is span_json's, byte for byte,
 * and the record owns its strings (the caller's may change after). */
static void check_span_pack(void) {
  TEST("span pack: two records encode as span_json does");
  struct trace_ctx c = {.start_ns = 5, .flags = 1};
  memset(c.trace_id, 0xab, TRACE_ID_LEN);
  memset(c.span_id, 0x01, SPAN_ID_LEN);
  memset(c.parent_id, 0x02, SPAN_ID_LEN);
  char value[] = "v\"1\n\xc3\xa9";
  char name[] = "chat deepseek";
  char url[] = "https://user:secret@api.example/v1/predictions?token=secret#frag";
  char long_url[1200]; /* past what redaction takes: left out */
  memset(long_url, 'a', sizeof long_url - 1);
  memcpy(long_url, "https://", 8);
  long_url[sizeof long_url - 1] = '\0';
  const struct span_attr attrs[] = {
      SPAN_STR("s", value), SPAN_STR("absent", NULL), SPAN_INT("i", -7),
      SPAN_INT_IF("skipped", 3, 0), SPAN_DOUBLE("d", 0.000123), SPAN_BOOL("b", 0),
      {.key = "arr", .type = SA_STRINGS, .s = "length"},
      SPAN_LIT("lit", "replicate"), SPAN_STR("empty", ""), SPAN_LIT("lit absent", NULL),
      SPAN_LIT_LEN("lit len", "POST", 4),
      SPAN_URL("url", url), SPAN_URL("url absent", NULL), SPAN_URL("url too long", long_url),
      SPAN_STRINGS("arr2", value),
  };
  struct span a = {.ctx = &c, .name = name, .kind = SPAN_SERVER, .end_ns = 9, .error = 1,
                   .status_message = "500", .attrs = attrs,
                   .n_attrs = sizeof attrs / sizeof attrs[0]};
  struct span b2 = {.ctx = &c, .name = "replicate create", .name_len = 16, .kind = SPAN_CLIENT,
                    .end_ns = 1};
  struct buf want = BUF_INIT, packed = BUF_INIT, got = BUF_INIT;
  CHECK_INT(span_json(&want, &a), 0);
  CHECK_INT(buf_append_char(&want, ','), 0);
  CHECK_INT(span_json(&want, &b2), 0);
  CHECK_INT(span_pack(&packed, &a), 0);
  CHECK_INT(span_pack(&packed, &b2), 0);
  value[0] = 'X'; /* the record holds its own copy */
  name[0] = 'X';
  url[8] = 'X';
  size_t used = 0, at = 0;
  CHECK_INT(span_packed_json(&got, packed.data, packed.len, &used), 0);
  at += used;
  CHECK_INT(buf_append_char(&got, ','), 0);
  CHECK_INT(span_packed_json(&got, packed.data + at, packed.len - at, &used), 0);
  at += used;
  CHECK_INT((int)(at == packed.len), 1);
  CHECK_STR(got.data, want.data);

  TEST("span pack: literals, empty strings, URLs redacted when encoded");
  CHECK(strstr(got.data, "{\"key\":\"lit\",\"value\":{\"stringValue\":\"replicate\"}}") != NULL);
  CHECK(strstr(got.data, "{\"key\":\"lit len\",\"value\":{\"stringValue\":\"POST\"}}") != NULL);
  CHECK(strstr(got.data, "\"name\":\"replicate create\"") != NULL);
  CHECK(strstr(got.data, "{\"key\":\"empty\",\"value\":{\"stringValue\":\"\"}}") != NULL);
  CHECK(strstr(got.data,
               "{\"key\":\"url\",\"value\":{\"stringValue\":\"https://api.example/v1/predictions\"}}") !=
        NULL);
  CHECK(strstr(got.data, "secret") == NULL);
  CHECK(strstr(got.data, "absent") == NULL);
  CHECK(strstr(got.data, "too long") == NULL);
  CHECK(strstr(got.data, "{\"key\":\"arr2\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":"
                         "\"v\\\"1\\u000a\xc3\xa9\"}]}}}") != NULL);

  TEST("span pack: the record holds only the attributes present");
  struct span v;
  struct trace_ctx vc;
  const char *values;
  size_t values_len;
  CHECK_INT(span_view(packed.data, packed.len, &v, &vc, &values, &values_len, &used), 0);
  CHECK_INT((int)v.n_attrs, 11); /* absent, skipped, lit absent, url absent: left out */
  for (size_t i = 0; i < v.n_attrs; i++)
    CHECK(!v.attrs[i].skip && strstr(v.attrs[i].key, "absent") == NULL);

  TEST("span pack: a cut record is refused");
  buf_reset(&got);
  CHECK_INT(span_packed_json(&got, packed.data, 8, &used), -1);
  CHECK_INT((int)got.len, 0);
  buf_free(&want);
  buf_free(&packed);
  buf_free(&got);
}

static void check_header_lines(void) {
  TEST("otlp_headers: lines, blanks trimmed, values %-decoded");
  struct buf b = BUF_INIT;
  size_t n = 99;
  char err[128] = "";
  CHECK_INT(otlp_header_lines(" Authorization = Bearer s3cr3t ,X-Tenant=team%2Ca,,x-e=", &b, &n, err,
                              sizeof err),
            0);
  CHECK_INT((int)n, 3);
  CHECK_STR(b.data, "Authorization: Bearer s3cr3t");
  CHECK_STR(b.data + strlen(b.data) + 1, "X-Tenant: team,a");
  CHECK_STR(b.data + strlen(b.data) + 1 + strlen("X-Tenant: team,a") + 1, "x-e: ");
  buf_free(&b);

  TEST("otlp_headers: empty is none");
  CHECK_INT(otlp_header_lines("", &b, &n, err, sizeof err), 0);
  CHECK_INT((int)n, 0);

  TEST("otlp_headers: refused, naming the item, never the value");
  static const char *const BAD[] = {"Authorization", "=s3cr3t", "Bad Name=s3cr3t",
                                    "X=s3cr3t%0d%0aInjected: 1", "X=s3cr3t\n"};
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    struct buf e = BUF_INIT;
    err[0] = '\0';
    CHECK_INT(otlp_header_lines(BAD[i], &e, &n, err, sizeof err), -1);
    CHECK(strncmp(err, "otlp_headers: item 1 ", 21) == 0);
    CHECK(strstr(err, "s3cr3t") == NULL);
    CHECK(e.len == 0);
    buf_free(&e);
  }
  CHECK_INT(otlp_header_lines("A=1,B", &b, &n, err, sizeof err), -1);
  CHECK_STR(err, "otlp_headers: item 2 is not name=value");
  buf_free(&b);
}

/* Every byte at every place of a word: the eight-at-a-time scan escapes
 * what the byte-by-byte rule does (a lone byte >= 0x80 is U+FFFD). */
static void check_span_escapes(void) {
  TEST("span json: any byte anywhere in a string");
  struct trace_ctx c = {.start_ns = 1};
  int all_ok = 1;
  struct buf b = BUF_INIT;
  for (int ch = 1; ch < 256 && all_ok; ch++)
    for (int len = 1; len <= 40 && all_ok; len++) /* words, sixteen bytes, and their tails */
    for (int at = 0; at < len && all_ok; at++) {
      char v[48], want[300];
      memset(v, 'a', (size_t)len);
      v[len] = '\0';
      v[at] = (char)ch;
      size_t w = (size_t)snprintf(want, sizeof want, "{\"stringValue\":\"");
      for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
          want[w++] = '\\';
          want[w++] = (char)*p;
        } else if (*p < 0x20) {
          w += (size_t)snprintf(want + w, 7, "\\u%04x", *p);
        } else if (*p >= 0x80) { /* alone among 'a's: never UTF-8 */
          memcpy(want + w, "\\ufffd", 6);
          w += 6;
        } else {
          want[w++] = (char)*p;
        }
      }
      memcpy(want + w, "\"}", 3);
      const struct span_attr attrs[] = {SPAN_STR("k", v)};
      struct span s = {.ctx = &c, .name = "n", .kind = SPAN_SERVER, .attrs = attrs, .n_attrs = 1};
      buf_reset(&b);
      all_ok = span_json(&b, &s) == 0 && strstr(b.data, want) != NULL;
    }
  CHECK_INT(all_ok, 1);
  buf_free(&b);
}

void suite_trace(void) {
  check_span_escapes();
  check_traceparent();
  check_redact();
  check_span_json();
  check_span_pack();
  check_header_lines();
}
