#include "http1.h"

#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* RFC 9110 tchar: what a method or a header name may hold. */
static const unsigned char TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
    ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int fail(struct http1_error *err, int status, const char *code, const char *message) {
  err->status = status;
  err->code = code;
  err->message = message;
  return HTTP1_ERROR;
}

static int bad(struct http1_error *err, const char *message) {
  return fail(err, 400, "bad_request", message);
}

static int too_large(struct http1_error *err) {
  return fail(err, 431, "request_header_fields_too_large",
              "The request line and headers are larger than the server accepts");
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ------------------------------------------------------------ request line */

/* Parse the request line at p (up to end). Sets *next past its CRLF. */
static int parse_request_line(const char *p, const char *end, const struct http1_limits *lim,
                              struct http1_request *req, const char **next,
                              struct http1_error *err) {
  const char *s = p;
  while (p < end && TCHAR[(unsigned char)*p])
    p++;
  if (p - s > HTTP1_METHOD_MAX)
    return bad(err, "The request method is too long");
  if (p == end)
    return HTTP1_NEED_MORE;
  if (*p != ' ' || p == s)
    return bad(err, "Malformed request line");
  req->method = s;
  req->method_len = (size_t)(p - s);
  s = ++p;
  while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
    p++;
  req->target = s;
  req->target_len = (size_t)(p - s);
  if (req->target_len > lim->max_target)
    return fail(err, 414, "uri_too_long", "The request target is longer than the server accepts");
  if (p == end)
    return HTTP1_NEED_MORE;
  if (*p != ' ' || p == s)
    return bad(err, "Malformed request line");
  p++;
  static const char proto[] = "HTTP/";
  for (size_t i = 0; i < 5; i++, p++) {
    if (p == end)
      return HTTP1_NEED_MORE;
    if (*p != proto[i])
      return bad(err, "Malformed request line: no HTTP version");
  }
  if (end - p < 5)
    return HTTP1_NEED_MORE;
  if (p[0] < '0' || p[0] > '9' || p[1] != '.' || p[2] < '0' || p[2] > '9')
    return bad(err, "Malformed HTTP version");
  if (p[3] != '\r' || p[4] != '\n')
    return bad(err, "Malformed request line");
  if (p[0] != '1' || p[2] > '1')
    return fail(err, 505, "http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1 are supported");
  req->minor_version = p[2] - '0';
  *next = p + 5;
  return HTTP1_DONE;
}

/* ------------------------------------------------------------------ headers */

/* Leading bytes of [p, end) that a header value holds as they are: no
 * control byte (CR ends the value) and no DEL. Sixteen at a time: values
 * (a key, a user agent) were most of the head's per-byte cost. */
static size_t value_run(const char *p, const char *end) {
  const char *s = p;
#ifdef __SSE2__
  for (; end - p >= 16; p += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v); /* unsigned v < 0x20 */
    __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, del));
    if (m)
      return (size_t)(p - s) + (size_t)__builtin_ctz(m);
  }
#endif
  while (p < end && (unsigned char)*p >= 0x20 && *p != 0x7f)
    p++;
  return (size_t)(p - s);
}

/* One header line at p; *next past its CRLF. NEED_MORE when incomplete. */
static int parse_header_line(const char *p, const char *end, struct http1_header *h,
                             const char **next, struct http1_error *err) {
  const char *s = p;
  if (*p == ' ' || *p == '\t')
    return bad(err, "Folded header lines (obs-fold) are not accepted");
  while (p < end && TCHAR[(unsigned char)*p])
    p++;
  if (p == end)
    return HTTP1_NEED_MORE;
  if (*p != ':' || p == s)
    return bad(err, "Malformed header line");
  h->name = s;
  h->name_len = (size_t)(p - s);
  p++;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  s = p;
  for (;;) { /* to the CR, past tabs: the only control byte a value may hold */
    p += value_run(p, end);
    if (p == end || *p != '\t')
      break;
    p++;
  }
  if (p < end && *p != '\r')
    return bad(err, "A header value holds a control character");
  if (end - p < 2)
    return HTTP1_NEED_MORE;
  if (p[1] != '\n')
    return bad(err, "A header value holds a bare CR");
  const char *last = p; /* one past the last non-whitespace byte */
  while (last > s && (last[-1] == ' ' || last[-1] == '\t'))
    last--;
  h->value = s;
  h->value_len = (size_t)(last - s);
  *next = p + 2;
  return HTTP1_DONE;
}

static int ieq(const char *s, size_t len, const char *lit) {
  return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* Does a comma-separated list value hold token (case-insensitive)? */
static int list_has(const char *v, size_t len, const char *token) {
  const char *end = v + len;
  while (v < end) {
    while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
      v++;
    const char *s = v;
    while (v < end && *v != ',')
      v++;
    const char *e = v;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (e > s && ieq(s, (size_t)(e - s), token))
      return 1;
  }
  return 0;
}

/* What the headers say about framing and the connection; the smuggling
 * checks live here. */
static int interpret(struct http1_request *req, struct http1_error *err) {
  int n_length = 0, n_te = 0, n_host = 0, close = 0, keep = 0;
  const struct http1_header *te = NULL;
  for (size_t i = 0; i < req->n_headers; i++) {
    const struct http1_header *h = &req->headers[i];
    if (ieq(h->name, h->name_len, "content-length")) {
      if (++n_length > 1)
        return bad(err, "More than one Content-Length header");
      if (h->value_len == 0 || h->value_len > 18)
        return bad(err, "Invalid Content-Length");
      uint64_t n = 0;
      for (size_t k = 0; k < h->value_len; k++) {
        if (h->value[k] < '0' || h->value[k] > '9')
          return bad(err, "Invalid Content-Length");
        n = n * 10 + (uint64_t)(h->value[k] - '0');
      }
      req->has_length = 1;
      req->content_length = n;
    } else if (ieq(h->name, h->name_len, "transfer-encoding")) {
      n_te++;
      te = h;
    } else if (ieq(h->name, h->name_len, "host")) {
      n_host++;
      req->host = h->value;
      req->host_len = h->value_len;
    } else if (ieq(h->name, h->name_len, "connection")) {
      close |= list_has(h->value, h->value_len, "close");
      keep |= list_has(h->value, h->value_len, "keep-alive");
    } else if (ieq(h->name, h->name_len, "expect")) {
      req->expect_continue = ieq(h->value, h->value_len, "100-continue");
    }
  }
  if (te) {
    if (req->has_length)
      return bad(err, "Both Content-Length and Transfer-Encoding are present");
    if (n_te > 1 || !ieq(te->value, te->value_len, "chunked"))
      return fail(err, 501, "unsupported_transfer_encoding",
                  "Only Transfer-Encoding: chunked is supported");
    req->chunked = 1;
  }
  if (n_host > 1 || (req->minor_version == 1 && n_host == 0))
    return bad(err, n_host ? "More than one Host header" : "HTTP/1.1 requests need a Host header");
  req->keep_alive = req->minor_version == 1 ? !close : keep && !close;
  return HTTP1_DONE;
}

int http1_parse_head(const char *buf, size_t len, const struct http1_limits *lim,
                     struct http1_request *req, struct http1_error *err) {
  memset(req, 0, sizeof *req);
  const char *p = buf, *end = buf + len;
  /* RFC 9112 2.2: ignore empty lines before the request line. */
  while (end - p >= 2 && p[0] == '\r' && p[1] == '\n' && p - buf < 8)
    p += 2;
  if (end - p == 1 && *p == '\r' && p - buf < 8)
    return HTTP1_NEED_MORE;
  if (len > lim->max_head)
    end = buf + lim->max_head; /* whatever is beyond cannot be in the head */
  int rc = parse_request_line(p, end, lim, req, &p, err);
  if (rc == HTTP1_NEED_MORE && len > lim->max_head) /* the request line alone is too long */
    return fail(err, 414, "uri_too_long", "The request line is longer than the server accepts");
  if (rc != HTTP1_DONE)
    return rc;
  for (;;) {
    if (end - p < 2)
      return len > lim->max_head ? too_large(err) : HTTP1_NEED_MORE;
    if (p[0] == '\r') {
      if (p[1] != '\n')
        return bad(err, "Malformed header line");
      p += 2;
      break;
    }
    if (req->n_headers == HTTP1_MAX_HEADERS)
      return too_large(err);
    rc = parse_header_line(p, end, &req->headers[req->n_headers], &p, err);
    if (rc == HTTP1_NEED_MORE)
      return len > lim->max_head ? too_large(err) : rc;
    if (rc != HTTP1_DONE)
      return rc;
    req->n_headers++;
  }
  req->head_len = (size_t)(p - buf);
  return interpret(req, err);
}

const struct http1_header *http1_find_header(const struct http1_request *req, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->n_headers; i++)
    if (req->headers[i].name_len == n && strncasecmp(req->headers[i].name, name, n) == 0)
      return &req->headers[i];
  return NULL;
}

/* ------------------------------------------------------------ path, query */

int http1_decode_path(const char *target, size_t target_len, char *out, size_t outlen,
                      const char **query, size_t *query_len, struct http1_error *err) {
  const char *p = target, *end = target + target_len;
  /* absolute-form (RFC 9112 3.2.2): the path starts after the authority */
  if (target_len >= 7 && (strncasecmp(p, "http://", 7) == 0 ||
                          (target_len >= 8 && strncasecmp(p, "https://", 8) == 0))) {
    p = memchr(p, '/', target_len) + 2; /* past "//" */
    while (p < end && *p != '/' && *p != '?')
      p++;
    if (p == end || *p == '?') {
      if (outlen < 2)
        return fail(err, 414, "uri_too_long", "The request path is too long");
      out[0] = '/';
      out[1] = '\0';
      *query = p < end ? p + 1 : end;
      *query_len = (size_t)(end - *query);
      return 0;
    }
  } else if (p == end || *p != '/') {
    return bad(err, "The request target must be a path starting with /");
  }
  size_t n = 0;
  for (; p < end && *p != '?'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '%') {
      int hi = end - p > 2 ? hexval((unsigned char)p[1]) : -1;
      int lo = hi >= 0 ? hexval((unsigned char)p[2]) : -1;
      if (lo < 0)
        return bad(err, "Malformed percent-escape in the request path");
      c = (unsigned char)(hi * 16 + lo);
      p += 2;
      if (c < 0x20 || c == 0x7f)
        return bad(err, "The request path holds an escaped control character");
    }
    if (n + 1 >= outlen)
      return fail(err, 414, "uri_too_long", "The request path is too long");
    out[n++] = (char)c;
  }
  out[n] = '\0';
  *query = p < end ? p + 1 : end;
  *query_len = (size_t)(end - *query);
  return 0;
}

/* Decode a query component into out (NUL-terminated). -1: bad or too long. */
static long decode_component(const char *s, size_t len, char *out, size_t outlen) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
      if (lo < 0)
        return -1;
      c = (unsigned char)(hi * 16 + lo);
      i += 2;
    }
    if (n + 1 >= outlen)
      return -1;
    out[n++] = (char)c;
  }
  if (outlen == 0)
    return -1;
  out[n] = '\0';
  return (long)n;
}

long http1_query_get(const char *query, size_t query_len, const char *name, char *out,
                     size_t outlen) {
  const char *p = query, *end = query + query_len;
  size_t name_len = strlen(name);
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    const char *ke = eq ? eq : pe;
    char key[128];
    long kl = decode_component(p, (size_t)(ke - p), key, sizeof key);
    if (kl >= 0 && (size_t)kl == name_len && memcmp(key, name, name_len) == 0)
      return decode_component(eq ? eq + 1 : pe, eq ? (size_t)(pe - eq - 1) : 0, out, outlen);
    p = amp ? amp + 1 : end;
  }
  return -1;
}

/* ------------------------------------------------------------ chunked body */

enum {
  CH_SIZE,        /* first hex digit of a size line */
  CH_SIZE_MORE,   /* more hex digits, or the end of the size */
  CH_EXT,         /* chunk extensions, ignored up to CR */
  CH_SIZE_LF,
  CH_DATA,
  CH_DATA_CR,
  CH_DATA_LF,
  CH_TRAILER_START, /* a trailer line, or the final empty line */
  CH_TRAILER,
  CH_TRAILER_LF,
  CH_END_LF,
};

void http1_chunked_init(struct http1_chunked *c) { memset(c, 0, sizeof *c); }

long http1_chunked_decode(struct http1_chunked *c, char *buf, size_t len, size_t *out_len) {
  size_t in = 0, out = 0;
  while (in < len) {
    unsigned char ch = (unsigned char)buf[in];
    switch (c->state) {
    case CH_SIZE:
    case CH_SIZE_MORE: {
      int v = hexval(ch);
      if (v >= 0) {
        if (c->remaining >> 56) /* 15 hex digits at most: no overflow */
          return HTTP1_CHUNKED_ERROR;
        c->remaining = c->remaining * 16 + (uint64_t)v;
        c->state = CH_SIZE_MORE;
      } else if (c->state == CH_SIZE) {
        return HTTP1_CHUNKED_ERROR;
      } else if (ch == '\r') {
        c->state = CH_SIZE_LF;
      } else if (ch == ';' || ch == ' ' || ch == '\t') {
        c->state = CH_EXT;
      } else {
        return HTTP1_CHUNKED_ERROR;
      }
      if (++c->line_len > HTTP1_CHUNK_LINE_MAX)
        return HTTP1_CHUNKED_ERROR;
      in++;
      break;
    }
    case CH_EXT:
      if (ch == '\r')
        c->state = CH_SIZE_LF;
      else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return HTTP1_CHUNKED_ERROR;
      if (++c->line_len > HTTP1_CHUNK_LINE_MAX)
        return HTTP1_CHUNKED_ERROR;
      in++;
      break;
    case CH_SIZE_LF:
      if (ch != '\n')
        return HTTP1_CHUNKED_ERROR;
      c->line_len = 0;
      c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
      in++;
      break;
    case CH_DATA: {
      size_t n = len - in;
      if (n > c->remaining)
        n = (size_t)c->remaining;
      memmove(buf + out, buf + in, n);
      out += n;
      in += n;
      c->remaining -= n;
      if (!c->remaining)
        c->state = CH_DATA_CR;
      break;
    }
    case CH_DATA_CR:
    case CH_DATA_LF:
      if (ch != (c->state == CH_DATA_CR ? '\r' : '\n'))
        return HTTP1_CHUNKED_ERROR;
      c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
      in++;
      break;
    case CH_TRAILER_START:
      if (ch == '\r') {
        c->state = CH_END_LF;
      } else if (TCHAR[ch]) {
        c->state = CH_TRAILER;
      } else {
        return HTTP1_CHUNKED_ERROR;
      }
      c->line_len = 1;
      in++;
      break;
    case CH_TRAILER:
      if (ch == '\r')
        c->state = CH_TRAILER_LF;
      else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return HTTP1_CHUNKED_ERROR;
      if (++c->line_len > HTTP1_CHUNK_LINE_MAX || ++c->trailer_len > 4 * HTTP1_CHUNK_LINE_MAX)
        return HTTP1_CHUNKED_ERROR;
      in++;
      break;
    case CH_TRAILER_LF:
      if (ch != '\n')
        return HTTP1_CHUNKED_ERROR;
      c->state = CH_TRAILER_START;
      in++;
      break;
    case CH_END_LF:
      if (ch != '\n')
        return HTTP1_CHUNKED_ERROR;
      *out_len = out;
      return (long)(in + 1);
    default:
      return HTTP1_CHUNKED_ERROR;
    }
  }
  *out_len = out;
  return HTTP1_CHUNKED_MORE;
}
