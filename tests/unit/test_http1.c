#include <stdlib.h>
#include <string.h>

#include "../../shared/http1.h"
#include "test.h"

static const struct http1_limits LIM = {1024, 512};

static struct http1_request req;
static struct http1_error err;

static int parse(const char *s) {
  memset(&err, 0, sizeof err);
  return http1_parse_head(s, strlen(s), &LIM, &req, &err);
}

/* The status a head is refused with (0 = accepted, -1 = needs more). */
static int status_of(const char *s) {
  int rc = parse(s);
  return rc == HTTP1_DONE ? 0 : rc == HTTP1_NEED_MORE ? -1 : err.status;
}

static void test_valid(void) {
  TEST("http1 valid head");
  const char *s = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
                  "Host: localhost:8080\r\n"
                  "Content-Type:application/json \r\n"
                  "X-Empty:\r\n"
                  "content-length: 12\r\n"
                  "\r\n{\"a\":1}xxxxx";
  CHECK_INT(parse(s), HTTP1_DONE);
  CHECK_MEM(req.method, req.method_len, "POST");
  CHECK_MEM(req.target, req.target_len, "/v1/chat/completions?x=1");
  CHECK_INT(req.minor_version, 1);
  CHECK_INT(req.n_headers, 4);
  CHECK_INT(req.head_len, strstr(s, "{") - s);
  CHECK_INT(req.has_length, 1);
  CHECK_INT(req.content_length, 12);
  CHECK_INT(req.chunked, 0);
  CHECK_INT(req.keep_alive, 1);
  CHECK_MEM(req.host, req.host_len, "localhost:8080");
  const struct http1_header *h = http1_find_header(&req, "CONTENT-TYPE");
  CHECK(h != NULL);
  if (h)
    CHECK_MEM(h->value, h->value_len, "application/json");
  h = http1_find_header(&req, "x-empty");
  CHECK(h && h->value_len == 0);
  CHECK(http1_find_header(&req, "x-missing") == NULL);

  /* every strict prefix needs more, never fails */
  size_t full = (size_t)(strstr(s, "{") - s);
  for (size_t n = 0; n < full; n++) {
    int rc = http1_parse_head(s, n, &LIM, &req, &err);
    if (rc != HTTP1_NEED_MORE) {
      CHECK_INT(n, -1);
      break;
    }
  }

  TEST("http1 HTTP/1.0 and Connection");
  CHECK_INT(parse("GET / HTTP/1.0\r\n\r\n"), HTTP1_DONE);
  CHECK_INT(req.minor_version, 0);
  CHECK_INT(req.keep_alive, 0);
  CHECK(req.host == NULL);
  CHECK_INT(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HTTP1_DONE);
  CHECK_INT(req.keep_alive, 1);
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"), HTTP1_DONE);
  CHECK_INT(req.keep_alive, 0);
  CHECK_INT(parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP1_DONE); /* leading CRLF ignored */
  CHECK_MEM(req.method, req.method_len, "GET");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n"), HTTP1_DONE); /* empty Host is a Host */

  TEST("http1 Expect and chunked");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"), HTTP1_DONE);
  CHECK_INT(req.expect_continue, 1);
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"), HTTP1_DONE);
  CHECK_INT(req.chunked, 1);
  CHECK_INT(req.has_length, 0);
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"), HTTP1_DONE); /* obs-text */

  TEST("http1 long header values (scanned sixteen bytes at a time)");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdefghij\tklmnopqrstuvwxyz0123 \t  \r\n\r\n"),
            HTTP1_DONE);
  {
    const struct http1_header *xh = http1_find_header(&req, "x");
    CHECK(xh != NULL);
    if (xh)
      CHECK_MEM(xh->value, xh->value_len, "0123456789abcdefghij\tklmnopqrstuvwxyz0123");
  }
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xff\x80\r\n\r\n"),
            HTTP1_DONE);
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdefghijklmnopqrstuvwxyz"), HTTP1_NEED_MORE);
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdefghijklmnopqrstuvwxyz\r"), HTTP1_NEED_MORE);
  {
    /* a control byte, DEL or bare CR at each place around the 16-byte steps */
    static const char bad_bytes[] = {'\x01', '\x7f', '\n', '\r', '\x1f'};
    for (size_t b = 0; b < sizeof bad_bytes; b++)
      for (size_t at = 0; at < 40; at++) {
        char head[128] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
        size_t n = strlen(head);
        for (size_t i = 0; i < 40; i++)
          head[n + i] = i == at ? bad_bytes[b] : (char)('a' + i % 26);
        memcpy(head + n + 40, "\r\n\r\n", 5);
        CHECK_INT(http1_parse_head(head, n + 44, &LIM, &req, &err), HTTP1_ERROR);
        CHECK_INT(err.status, 400);
      }
  }
}

static void test_rejections(void) {
  TEST("http1 400: malformed");
  CHECK_INT(status_of("\x16\x03\x01garbage\r\n\r\n"), 400);
  CHECK_INT(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET /\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / FTP/1.1\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.x\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\nHost: a\n\n"), 400);
  CHECK_INT(status_of("G\x01T / HTTP/1.1\r\n"), 400);
  CHECK_INT(status_of("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  CHECK_INT(status_of("AVERYVERYVERYVERYLONGMETHODNAMEX / HTTP/1.1\r\n"), 400);
  CHECK_STR(err.code, "bad_request");
  TEST("http1 400: header syntax");
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01" "b\r\n\r\n"), 400);
  {
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    CHECK_INT(http1_parse_head(nul, sizeof nul - 1, &LIM, &req, &err), HTTP1_ERROR);
    CHECK_INT(err.status, 400);
  }
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n"), 400);

  TEST("http1 400: Host");
  CHECK_INT(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  CHECK_INT(status_of("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400);

  TEST("http1 400: lengths");
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400);
  CHECK_STR(err.code, "bad_request");

  TEST("http1 501: transfer codings");
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  CHECK_STR(err.code, "unsupported_transfer_encoding");
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"), 501);
  CHECK_INT(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n"), 501);

  TEST("http1 505: versions");
  CHECK_INT(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
  CHECK_STR(err.code, "http_version_not_supported");
  CHECK_INT(status_of("GET / HTTP/1.2\r\n\r\n"), 505);
  CHECK_INT(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
  CHECK_INT(status_of("GET / HTTP/2.0\r\n"), 505); /* known before the head ends */

  TEST("http1 431 and 414");
  char big[2048];
  int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
  memset(big + n, 'a', sizeof big - (size_t)n - 1);
  big[sizeof big - 1] = '\0';
  CHECK_INT(status_of(big), 431); /* no end in sight beyond max_head */
  CHECK_STR(err.code, "request_header_fields_too_large");
  memcpy(big + 1030, "\r\n\r\n", 5);
  CHECK_INT(status_of(big), 431); /* complete, but 1034 bytes */
  memcpy(big + 990, "\r\n\r\n", 5);
  CHECK_INT(status_of(big), 0); /* 994 bytes: fits */
  memset(big, 0, sizeof big);
  memcpy(big, "GET /", 5);
  memset(big + 5, 'p', 600);
  CHECK_INT(status_of(big), 414); /* target over 512, line incomplete */
  CHECK_STR(err.code, "uri_too_long");
  memcpy(big + 605, " HTTP/1.1\r\nHost: a\r\n\r\n", 23);
  CHECK_INT(status_of(big), 414);
  memset(big, 0, sizeof big);
  n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; i < HTTP1_MAX_HEADERS; i++)
    n += snprintf(big + n, sizeof big - (size_t)n, "A:\r\n");
  snprintf(big + n, sizeof big - (size_t)n, "\r\n");
  CHECK_INT(status_of(big), 431); /* too many headers */
}

static void test_path(void) {
  char out[16];
  const char *q;
  size_t ql;
  TEST("http1 path decoding");
  const char *t = "/v1/a%20b?x=%41&y";
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);
  CHECK_STR(out, "/v1/a b");
  CHECK_MEM(q, ql, "x=%41&y");
  t = "/plain";
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);
  CHECK_INT(ql, 0);
  t = "http://example.com/health?z";
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);
  CHECK_STR(out, "/health");
  CHECK_MEM(q, ql, "z");
  t = "http://example.com";
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);
  CHECK_STR(out, "/");
  static const char *const bad_paths[] = {"/a%00", "/a%0A", "/a%0d", "/a%7f", "/a%1", "/a%zz",
                                          "a", "*", "/%"};
  for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
    err.status = 0;
    CHECK_INT(http1_decode_path(bad_paths[i], strlen(bad_paths[i]), out, sizeof out, &q, &ql, &err), -1);
    CHECK_INT(err.status, 400);
  }
  t = "/%C3%A9"; /* non-ASCII passes (escaped in logs) */
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);
  CHECK_STR(out, "/\xc3\xa9");
  t = "/0123456789abcde"; /* 16 bytes + NUL does not fit 16 */
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), -1);
  CHECK_INT(err.status, 414);
  t = "/0123456789abcd";
  CHECK_INT(http1_decode_path(t, strlen(t), out, sizeof out, &q, &ql, &err), 0);

  TEST("http1 query lookup");
  const char *query = "a=1&b=x%20y+z&empty=&flag&c%5B%5D=k&a=2";
  CHECK_INT(http1_query_get(query, strlen(query), "a", out, sizeof out), 1);
  CHECK_STR(out, "1");
  CHECK_INT(http1_query_get(query, strlen(query), "b", out, sizeof out), 5);
  CHECK_STR(out, "x y z");
  CHECK_INT(http1_query_get(query, strlen(query), "empty", out, sizeof out), 0);
  CHECK_INT(http1_query_get(query, strlen(query), "flag", out, sizeof out), 0);
  CHECK_INT(http1_query_get(query, strlen(query), "c[]", out, sizeof out), 1);
  CHECK_STR(out, "k");
  CHECK_INT(http1_query_get(query, strlen(query), "missing", out, sizeof out), -1);
  CHECK_INT(http1_query_get("x=%zz", 5, "x", out, sizeof out), -1);
  CHECK_INT(http1_query_get("x=0123456789abcdef", 18, "x", out, sizeof out), -1);
  CHECK_INT(http1_query_get("", 0, "x", out, sizeof out), -1);
}

/* Decode s fed in pieces of `step` bytes; returns the body or NULL on error;
 * *rest is what followed the body. */
static char *dechunk(const char *s, size_t step, const char **rest) {
  static char body[4096];
  struct http1_chunked c;
  http1_chunked_init(&c);
  size_t len = strlen(s), body_len = 0;
  char piece[4096];
  for (size_t off = 0; off < len;) {
    size_t n = len - off < step ? len - off : step, out;
    memcpy(piece, s + off, n);
    long rc = http1_chunked_decode(&c, piece, n, &out);
    if (rc == HTTP1_CHUNKED_ERROR)
      return NULL;
    memcpy(body + body_len, piece, out);
    body_len += out;
    if (rc >= 0) {
      body[body_len] = '\0';
      *rest = s + off + (size_t)rc;
      return body;
    }
    off += n;
  }
  *rest = NULL; /* incomplete */
  body[body_len] = '\0';
  return body;
}

static void test_chunked(void) {
  TEST("http1 chunked");
  const char *body = "5\r\nhello\r\n6;ext=1;q=\"x\"\r\n world\r\n0\r\nTrailer: t\r\nX: y\r\n\r\nGET /";
  for (size_t step = 1; step <= strlen(body); step++) {
    const char *rest = NULL;
    char *out = dechunk(body, step, &rest);
    CHECK(out && strcmp(out, "hello world") == 0);
    CHECK(rest && strcmp(rest, "GET /") == 0);
  }
  const char *rest;
  CHECK_STR(dechunk("A\r\n0123456789\r\n0\r\n\r\n", 7, &rest), "0123456789");
  CHECK_STR(rest, "");
  CHECK_STR(dechunk("0\r\n\r\n", 100, &rest), "");
  CHECK_STR(dechunk("3 \r\nabc\r\n0\r\n\r\n", 100, &rest), "abc");
  CHECK_STR(dechunk("3\r\nabc\r\n", 100, &rest), "abc");
  CHECK(rest == NULL);
  static const char *const bad_bodies[] = {
      "x\r\n",                  /* not hex */
      "\r\n",                   /* no size */
      "3\nabc\r\n0\r\n\r\n",    /* bare LF */
      "3\r\nabcd\r\n",          /* data longer than the size */
      "3\r\nabc\n0\r\n\r\n",    /* data not ended by CRLF */
      "1000000000000000\r\n",   /* size overflows */
      "-1\r\n",
      "0\r\n: bad\r\n\r\n",     /* trailer without a name */
      "0\r\nX: a\rb\r\n\r\n",   /* bare CR in a trailer */
      "3;a\x01\r\nabc\r\n",     /* control character in an extension */
      "0\r\n\rX",               /* final CRLF broken */
  };
  for (size_t i = 0; i < sizeof bad_bodies / sizeof *bad_bodies; i++) {
    test_current = bad_bodies[i];
    CHECK(dechunk(bad_bodies[i], 100, &rest) == NULL);
  }
  TEST("http1 chunked caps");
  char line[HTTP1_CHUNK_LINE_MAX + 16];
  memset(line, 0, sizeof line);
  line[0] = '1';
  line[1] = ';';
  memset(line + 2, 'e', HTTP1_CHUNK_LINE_MAX);
  CHECK(dechunk(line, 100, &rest) == NULL); /* extension too long */
  static char trailers[6 * HTTP1_CHUNK_LINE_MAX];
  size_t n = (size_t)snprintf(trailers, sizeof trailers, "0\r\n");
  while (n + 600 < sizeof trailers)
    n += (size_t)snprintf(trailers + n, sizeof trailers - n, "X: %0500d\r\n", 0);
  CHECK(dechunk(trailers, 100, &rest) == NULL); /* trailers too long in all */
}

void suite_http1(void) {
  test_valid();
  test_rejections();
  test_path();
  test_chunked();
}
