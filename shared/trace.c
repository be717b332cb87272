#include "trace.h"

#include <stdio.h>
#include <string.h>

/* ---- W3C trace context ---- */

static int hex_val(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; /* upper case is invalid in traceparent */
}

/* n bytes from 2n lower-case hex digits; -1 on a bad digit or all zeros. */
static int hex_bytes(const char *s, unsigned char *out, size_t n) {
  unsigned char any = 0;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
    any |= out[i];
  }
  return any ? 0 : -1;
}

int traceparent_parse(const char *s, unsigned char trace_id[TRACE_ID_LEN],
                      unsigned char parent_id[SPAN_ID_LEN], unsigned char *flags) {
  if (!s)
    return -1;
  size_t len = strnlen(s, 512);
  unsigned char version, f;
  if (len < TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-' ||
      hex_val(s[0]) < 0 || hex_val(s[1]) < 0)
    return -1;
  version = (unsigned char)(hex_val(s[0]) << 4 | hex_val(s[1]));
  /* ff is forbidden; version 00 has exactly four fields; a later version
   * may append fields after a '-' (read as 00, as the spec says). */
  if (version == 0xff || (version == 0 && len != TRACEPARENT_LEN) ||
      (len > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-'))
    return -1;
  unsigned char t[TRACE_ID_LEN], p[SPAN_ID_LEN];
  if (hex_bytes(s + 3, t, TRACE_ID_LEN) != 0 || hex_bytes(s + 36, p, SPAN_ID_LEN) != 0 ||
      hex_val(s[53]) < 0 || hex_val(s[54]) < 0)
    return -1;
  f = (unsigned char)(hex_val(s[53]) << 4 | hex_val(s[54]));
  memcpy(trace_id, t, TRACE_ID_LEN);
  memcpy(parent_id, p, SPAN_ID_LEN);
  *flags = f;
  return 0;
}

static char *put_hex(char *o, const unsigned char *b, size_t n) {
  static const char HEX[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    *o++ = HEX[b[i] >> 4];
    *o++ = HEX[b[i] & 15];
  }
  return o;
}

void traceparent_format(char out[TRACEPARENT_LEN + 1], const unsigned char trace_id[TRACE_ID_LEN],
                        const unsigned char span_id[SPAN_ID_LEN], unsigned char flags) {
  char *o = out;
  memcpy(o, "00-", 3);
  o = put_hex(o + 3, trace_id, TRACE_ID_LEN);
  *o++ = '-';
  o = put_hex(o, span_id, SPAN_ID_LEN);
  *o++ = '-';
  o = put_hex(o, &flags, 1);
  *o = '\0';
}

int trace_url_redact(char *out, size_t len, const char *url) {
  const char *scheme_end = strstr(url, "://");
  const char *auth = scheme_end ? scheme_end + 3 : url;
  size_t end = strcspn(url, "?#");
  const char *host = auth;
  /* user:password@ ends before the path starts */
  size_t auth_len = strcspn(auth, "/?#");
  const char *at = memchr(auth, '@', auth_len);
  if (at)
    host = at + 1;
  size_t head = (size_t)(auth - url), rest = end - (size_t)(host - url);
  if (head + rest + 1 > len)
    return -1;
  memcpy(out, url, head);
  memcpy(out + head, host, rest);
  out[head + rest] = '\0';
  return 0;
}

/* ---- OTLP/HTTP JSON ---- */
/* No printf on this path: a span is encoded on a worker for every request,
 * and vsnprintf made most of its cost. */

static const char ESC_HEX[] = "0123456789abcdef";

/* Length of the UTF-8 sequence at p (NUL-terminated), or 0 when it is not
 * one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p) {
  unsigned c = p[0], cp;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) { /* a NUL fails here: no read past the end */
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

/* A JSON string: control bytes and quotes escaped, UTF-8 passed as it is,
 * and a byte that is not UTF-8 (a client's %FF in url.path) sent as U+FFFD:
 * a collector rejects a whole batch over one invalid string. */
static int json_str(struct buf *out, const char *s) {
  if (buf_append_char(out, '"') != 0)
    return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const unsigned char *run = p;
    for (size_t k; *p >= 0x20 && *p != '"' && *p != '\\'; p += k)
      if ((k = *p < 0x80 ? 1 : utf8_len(p)) == 0)
        break;
    if (p > run && buf_append(out, run, (size_t)(p - run)) != 0)
      return -1;
    if (!*p)
      break;
    if (*p >= 0x80) {
      if (buf_append_str(out, "\\ufffd") != 0)
        return -1;
      continue;
    }
    char esc[6] = {'\\', (char)*p, 0, 0, 0, 0};
    size_t n = 2;
    if (*p < 0x20) {
      memcpy(esc, "\\u00", 4);
      esc[4] = ESC_HEX[*p >> 4];
      esc[5] = ESC_HEX[*p & 15];
      n = 6;
    }
    if (buf_append(out, esc, n) != 0)
      return -1;
  }
  return buf_append_char(out, '"');
}

/* Decimal digits of v (with a '-' when negative) appended. */
static int put_ll(struct buf *out, long long v) {
  char d[24], *e = d + sizeof d, *p = e;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do
    *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0)
    *--p = '-';
  return buf_append(out, p, (size_t)(e - p));
}

static int put_u64(struct buf *out, uint64_t v) {
  char d[24], *e = d + sizeof d, *p = e;
  do
    *--p = (char)('0' + v % 10);
  while (v /= 10);
  return buf_append(out, p, (size_t)(e - p));
}

static int hex_field(struct buf *out, const char *key, const unsigned char *b, size_t n) {
  char hex[2 * TRACE_ID_LEN];
  put_hex(hex, b, n);
  return buf_append_str(out, key) || buf_append(out, hex, 2 * n) || buf_append_char(out, '"');
}

static int attr_value(struct buf *out, const struct span_attr *a) {
  switch (a->type) {
  case SA_STRING:
    return buf_append_str(out, "{\"stringValue\":") || json_str(out, a->s) ||
           buf_append_char(out, '}');
  case SA_STRINGS:
    return buf_append_str(out, "{\"arrayValue\":{\"values\":[{\"stringValue\":") ||
           json_str(out, a->s) || buf_append_str(out, "}]}}");
  case SA_INT: /* int64 is a JSON string in OTLP (proto3 JSON mapping) */
    return buf_append_str(out, "{\"intValue\":\"") || put_ll(out, a->i) ||
           buf_append_str(out, "\"}");
  case SA_DOUBLE:
    return buf_printf(out, "{\"doubleValue\":%.17g}", a->d);
  case SA_BOOL:
    return buf_append_str(out, a->i ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
  }
  return -1;
}

static int attrs_json(struct buf *out, const struct span_attr *attrs, size_t n) {
  int first = 1;
  if (buf_append_str(out, "\"attributes\":[") != 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    const struct span_attr *a = &attrs[i];
    if (a->skip || ((a->type == SA_STRING || a->type == SA_STRINGS) && !a->s))
      continue;
    if ((!first && buf_append_char(out, ',') != 0) || buf_append_str(out, "{\"key\":") != 0 ||
        json_str(out, a->key) != 0 || buf_append_str(out, ",\"value\":") != 0 ||
        attr_value(out, a) != 0 || buf_append_char(out, '}') != 0)
      return -1;
    first = 0;
  }
  return buf_append_char(out, ']');
}

static int is_zero(const unsigned char *b, size_t n) {
  unsigned char any = 0;
  for (size_t i = 0; i < n; i++)
    any |= b[i];
  return !any;
}

int span_json(struct buf *out, const struct span *s) {
  size_t mark = out->len;
  const struct trace_ctx *c = s->ctx;
  static const char *const KINDS[] = {"0", "1", "2", "3", "4", "5"};
  int rc = buf_reserve(out, 2048) || buf_append_str(out, "{\"kind\":") ||
           buf_append_str(out, KINDS[(unsigned)s->kind < 6 ? s->kind : 0]) ||
           hex_field(out, ",\"traceId\":\"", c->trace_id, TRACE_ID_LEN) ||
           hex_field(out, ",\"spanId\":\"", c->span_id, SPAN_ID_LEN) ||
           (!is_zero(c->parent_id, SPAN_ID_LEN) &&
            hex_field(out, ",\"parentSpanId\":\"", c->parent_id, SPAN_ID_LEN)) ||
           buf_append_str(out, ",\"name\":") || json_str(out, s->name) ||
           buf_append_str(out, ",\"startTimeUnixNano\":\"") || put_u64(out, c->start_ns) ||
           buf_append_str(out, "\",\"endTimeUnixNano\":\"") ||
           put_u64(out, s->end_ns > c->start_ns ? s->end_ns : c->start_ns) ||
           buf_append_str(out, "\",") || attrs_json(out, s->attrs, s->n_attrs) ||
           /* status code 2 = ERROR; UNSET is the empty status */
           (s->error ? buf_append_str(out, ",\"status\":{\"code\":2") ||
                           (s->status_message && (buf_append_str(out, ",\"message\":") ||
                                                  json_str(out, s->status_message))) ||
                           buf_append_char(out, '}')
                     : buf_append_str(out, ",\"status\":{}")) ||
           buf_append_char(out, '}');
  if (rc) {
    out->len = mark; /* never half a span */
    if (out->data)
      out->data[mark] = '\0';
    return -1;
  }
  return 0;
}

int otlp_batch_open(struct buf *out, const char *service_name, const char *version) {
  struct span_attr res[] = {SPAN_STR("service.name", service_name),
                            SPAN_STR("service.version", version),
                            SPAN_STR("telemetry.sdk.language", "c")};
  return buf_append_str(out, "{\"resourceSpans\":[{\"resource\":{") ||
                 attrs_json(out, res, sizeof res / sizeof res[0]) ||
                 buf_append_str(out, "},\"scopeSpans\":[{\"scope\":{\"name\":\"replicate-proxy\""
                                     "},\"spans\":[")
             ? -1
             : 0;
}

int otlp_batch_close(struct buf *out) { return buf_append_str(out, "]}]}]}"); }
