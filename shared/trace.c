#include "trace.h"

#include <stdio.h>
#include <string.h>

#include "json_plain.h"
#include "num_text.h"

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
  size_t end = strcspn(url, "?#");
  /* a "://" in the query or fragment (a URL passed as a parameter) is no
   * scheme's: taken as one, the host would start past end */
  const char *scheme_end = strstr(url, "://");
  if (scheme_end && (size_t)(scheme_end - url) >= end)
    scheme_end = NULL;
  const char *auth = scheme_end ? scheme_end + 3 : url;
  const char *host = auth;
  /* user:password@ ends before the path starts, at its last '@' (a
   * password may hold one unescaped, and none of it may stay) */
  size_t auth_len = strcspn(auth, "/?#");
  const char *at = memrchr(auth, '@', auth_len);
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
/* No printf and no per-token append on this path: a span is encoded for
 * every request, so span_json bounds its size once, reserves it, and writes
 * with a cursor (the per-token buf_append calls made most of its cost). */

/* Bytes json_str may write for s: every byte escaped as \u00XX, and quotes. */
static size_t str_bound(const char *s) { return 6 * strlen(s) + 2; }

static char *put_lit(char *o, const char *lit, size_t n) {
  memcpy(o, lit, n);
  return o + n;
}
#define PUT(o, lit) put_lit((o), (lit), sizeof(lit) - 1)

/* A JSON string: control bytes and quotes escaped, UTF-8 passed as it is,
 * and a byte that is not UTF-8 (a client's %FF in url.path) sent as U+FFFD:
 * a collector rejects a whole batch over one invalid string. */
static char *json_str(char *o, const char *s) {
  return json_quote(o, s, JQ_UTF8);
}


/* A string value: a literal copied as it is, else quoted. */
static char *attr_str(char *o, const struct span_attr *a, const char *s, size_t n) {
  if (!a->lit)
    return json_quote_n(o, s, n, JQ_UTF8);
  *o++ = '"';
  o = put_lit(o, s, n);
  *o++ = '"';
  return o;
}

static char *attr_value(char *o, const struct span_attr *a, const char *url) {
  switch (a->type) {
  case SA_STRING:
    o = attr_str(PUT(o, "{\"stringValue\":"), a, a->s, span_attr_slen(a));
    *o++ = '}';
    return o;
  case SA_URL:
    o = json_quote(PUT(o, "{\"stringValue\":"), url, JQ_UTF8);
    *o++ = '}';
    return o;
  case SA_STRINGS:
    o = attr_str(PUT(o, "{\"arrayValue\":{\"values\":[{\"stringValue\":"), a, a->s, span_attr_slen(a));
    return PUT(o, "}]}}");
  case SA_INT: /* int64 is a JSON string in OTLP (proto3 JSON mapping) */
    o = num_i64(PUT(o, "{\"intValue\":\""), a->i);
    return PUT(o, "\"}");
  case SA_DOUBLE: {
    char d[NUM_G_MAX];
    size_t n = num_g(d, a->d, 17); /* %.17g's text: round-trips */
    o = PUT(o, "{\"doubleValue\":");
    o = put_lit(o, d, n);
    *o++ = '}';
    return o;
  }
  case SA_BOOL:
    return a->i ? PUT(o, "{\"boolValue\":true}") : PUT(o, "{\"boolValue\":false}");
  }
  return o;
}

/* The most attrs_json writes: the longest value wrapper is SA_STRINGS'. */
static size_t attrs_bound(const struct span_attr *attrs, size_t n) {
  size_t b = sizeof "\"attributes\":[]";
  for (size_t i = 0; i < n; i++) {
    const struct span_attr *a = &attrs[i];
    if (span_attr_present(a))
      b += sizeof ",{\"key\":\"\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":}]}}}}" +
           span_attr_klen(a) + NUM_G_MAX +
           (span_attr_stringy(a) ? 6 * span_attr_slen(a) + 2 : 0);
  }
  return b;
}

static char *attrs_json(char *o, const struct span_attr *attrs, size_t n) {
  int first = 1;
  o = PUT(o, "\"attributes\":[");
  for (size_t i = 0; i < n; i++) {
    const struct span_attr *a = &attrs[i];
    char url[SPAN_URL_MAX];
    if (!span_attr_present(a) || (a->type == SA_URL && trace_url_redact(url, sizeof url, a->s) != 0))
      continue;
    if (!first)
      *o++ = ',';
    /* keys are our literals, JSON-safe: copied, not escaped */
    o = put_lit(PUT(o, "{\"key\":\""), a->key, span_attr_klen(a));
    o = PUT(o, "\",\"value\":");
    o = attr_value(o, a, url);
    *o++ = '}';
    first = 0;
  }
  *o++ = ']';
  return o;
}

int trace_has_parent(const struct trace_ctx *c) {
  _Static_assert(SPAN_ID_LEN == 8, "a span id is one word");
  uint64_t id;
  memcpy(&id, c->parent_id, SPAN_ID_LEN); /* one load, not a byte loop */
  return id != 0;
}

int span_json(struct buf *out, const struct span *s) {
  const struct trace_ctx *c = s->ctx;
  size_t bound = 320 + str_bound(s->name) + attrs_bound(s->attrs, s->n_attrs) +
                 (s->error && s->status_message ? str_bound(s->status_message) : 0);
  if (buf_reserve(out, bound) != 0)
    return -1; /* never half a span: nothing written */
  char *o = out->data + out->len;
  o = PUT(o, "{\"kind\":");
  *o++ = (char)('0' + ((unsigned)s->kind < 6 ? s->kind : 0));
  o = put_hex(PUT(o, ",\"traceId\":\""), c->trace_id, TRACE_ID_LEN);
  o = put_hex(PUT(o, "\",\"spanId\":\""), c->span_id, SPAN_ID_LEN);
  *o++ = '"';
  if (trace_has_parent(c)) {
    o = put_hex(PUT(o, ",\"parentSpanId\":\""), c->parent_id, SPAN_ID_LEN);
    *o++ = '"';
  }
  o = json_str(PUT(o, ",\"name\":"), s->name);
  o = num_u64(PUT(o, ",\"startTimeUnixNano\":\""), c->start_ns);
  o = num_u64(PUT(o, "\",\"endTimeUnixNano\":\""), s->end_ns > c->start_ns ? s->end_ns : c->start_ns);
  o = attrs_json(PUT(o, "\","), s->attrs, s->n_attrs);
  /* status code 2 = ERROR; UNSET is the empty status */
  if (s->error) {
    o = PUT(o, ",\"status\":{\"code\":2");
    if (s->status_message)
      o = json_str(PUT(o, ",\"message\":"), s->status_message);
    *o++ = '}';
  } else {
    o = PUT(o, ",\"status\":{}");
  }
  *o++ = '}';
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

/* ---- packed spans: the worker copies, the exporter encodes ---- */

#define PACK_NONE UINT32_MAX
#define PACK_MAX_ATTRS SPAN_PACK_MAX_ATTRS

struct packed_head {
  size_t size; /* the whole record's bytes */
  struct trace_ctx ctx;
  uint64_t end_ns;
  int kind, error;
  uint32_t n_attrs, name, status_message; /* string offsets, or PACK_NONE */
  uint32_t values;                        /* where the attributes' strings start */
};

/* The record: the head, the attributes shown (n_attrs of them: skipped
 * ones and those whose string is absent are left out), then the copied
 * strings in attribute order, each NUL-terminated. In the record an
 * attribute with a copied string has s = NULL and slen set; literals keep
 * their pointer. */
static int attr_copied(const struct span_attr *a) { return span_attr_stringy(a) && !a->lit; }

static uint32_t pack_str(char *strings, size_t *at, const char *v, size_t n) {
  uint32_t off = (uint32_t)*at;
  memcpy(strings + *at, v, n);
  strings[*at + n] = '\0';
  *at += n + 1;
  return off;
}

int span_pack(struct buf *out, const struct span *s) {
  size_t n = s->n_attrs;
  if (n > PACK_MAX_ATTRS)
    return -1;
  /* The attributes kept (their index), and those whose string is copied
   * (their place in the record, and its length): the second pass visits
   * only these. */
  unsigned char keep[PACK_MAX_ATTRS], copy[PACK_MAX_ATTRS];
  uint32_t lens[PACK_MAX_ATTRS];
  size_t k = 0, n_copy = 0;
  size_t nn = s->name ? span_name_len(s) : 0;
  size_t nm = s->status_message ? strlen(s->status_message) : 0;
  size_t str = (s->name ? nn + 1 : 0) + (s->status_message ? nm + 1 : 0);
  for (size_t i = 0; i < n; i++) {
    const struct span_attr *a = &s->attrs[i];
    if (!span_attr_present(a))
      continue;
    if (attr_copied(a)) {
      size_t l = span_attr_slen(a);
      if (l >= PACK_NONE)
        return -1;
      copy[n_copy] = (unsigned char)k;
      lens[n_copy++] = (uint32_t)l;
      str += l + 1;
    }
    keep[k++] = (unsigned char)i;
  }
  size_t fixed = sizeof(struct packed_head) + k * sizeof(struct span_attr);
  /* whole multiples of 8: the next record's head and attributes stay aligned */
  size_t size = (fixed + str + 7) & ~(size_t)7;
  if (size >= PACK_NONE || buf_reserve(out, size) != 0)
    return -1;
  char *rec = out->data + out->len, *strings = rec + fixed;
  memset(strings + str, 0, size - fixed - str);
  size_t at = 0;
  struct packed_head h = {.size = size, .ctx = *s->ctx, .end_ns = s->end_ns, .kind = s->kind,
                          .error = s->error, .n_attrs = (uint32_t)k};
  h.name = s->name ? pack_str(strings, &at, s->name, nn) : PACK_NONE;
  h.status_message = s->status_message ? pack_str(strings, &at, s->status_message, nm) : PACK_NONE;
  h.values = (uint32_t)at;
  memcpy(rec, &h, sizeof h);
  struct span_attr *pa = (struct span_attr *)(void *)(rec + sizeof h); /* 8-aligned */
  if (k == n) { /* none left out (spans.c writes only those shown): one copy */
    if (n) /* attrs may be NULL with none */
      memcpy(pa, s->attrs, n * sizeof *pa);
  } else {
    for (size_t j = 0; j < k; j++)
      pa[j] = s->attrs[keep[j]];
  }
  for (size_t j = 0; j < n_copy; j++) {
    struct span_attr *a = &pa[copy[j]];
    pack_str(strings, &at, a->s, lens[j]);
    a->s = NULL;
    a->slen = lens[j];
  }
  out->len += size;
  out->data[out->len] = '\0';
  return 0;
}

int span_view(const char *rec, size_t avail, struct span *s, struct trace_ctx *ctx,
              const char **values, size_t *values_len, size_t *used) {
  struct packed_head h;
  if (avail < sizeof h)
    return -1;
  memcpy(&h, rec, sizeof h);
  if (h.size > avail || h.n_attrs > PACK_MAX_ATTRS ||
      h.size < sizeof h + h.n_attrs * sizeof(struct span_attr))
    return -1;
  const char *strings = rec + sizeof h + h.n_attrs * sizeof(struct span_attr);
  size_t str_len = h.size - (size_t)(strings - rec);
  if (h.values > str_len || (h.name != PACK_NONE && h.name >= str_len) ||
      (h.status_message != PACK_NONE && h.status_message >= str_len))
    return -1;
  *used = h.size;
  *values = strings + h.values;
  *values_len = str_len - h.values;
  *ctx = h.ctx;
  /* 8-aligned: span_pack keeps records whole multiples of 8 */
  *s = (struct span){.ctx = ctx, .name = h.name == PACK_NONE ? "" : strings + h.name,
                     .kind = (enum span_kind)h.kind, .end_ns = h.end_ns, .error = h.error,
                     .status_message = h.status_message == PACK_NONE ? NULL
                                                                     : strings + h.status_message,
                     .attrs = (const struct span_attr *)(const void *)(rec + sizeof h),
                     .n_attrs = h.n_attrs};
  return 0;
}

/* span_view with the attributes copied to attrs and their strings set (the
 * JSON encoder reads a->s). */
static int span_unpack(const char *rec, size_t avail, struct span *s, struct trace_ctx *ctx,
                       struct span_attr attrs[SPAN_PACK_MAX_ATTRS], size_t *used) {
  const char *values;
  size_t values_len, at = 0;
  if (span_view(rec, avail, s, ctx, &values, &values_len, used) != 0)
    return -1;
  memcpy(attrs, s->attrs, s->n_attrs * sizeof attrs[0]);
  for (size_t i = 0; i < s->n_attrs; i++) {
    struct span_attr *a = &attrs[i];
    if (!attr_copied(a)) /* a record holds no skipped attribute (span_pack) */
      continue;
    if (at + a->slen >= values_len)
      return -1;
    a->s = values + at;
    at += a->slen + 1;
  }
  s->attrs = attrs;
  return 0;
}

int span_packed_json(struct buf *out, const char *rec, size_t avail, size_t *used) {
  struct span s;
  struct trace_ctx ctx;
  struct span_attr attrs[PACK_MAX_ATTRS];
  if (span_unpack(rec, avail, &s, &ctx, attrs, used) != 0)
    return -1;
  return span_json(out, &s);
}

static int is_tchar(unsigned char c) { /* an HTTP token's characters (RFC 9110) */
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t trim_span(const char **s, size_t n) {
  while (n && (**s == ' ' || **s == '\t'))
    (*s)++, n--;
  while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
    n--;
  return n;
}

int otlp_header_lines(const char *spec, struct buf *out, size_t *n, char *err, size_t errlen) {
  size_t start = out->len, count = 0;
  int idx = 0;
  for (const char *p = spec; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    idx++;
    const char *name = p, *value = eq ? eq + 1 : NULL;
    size_t nn = trim_span(&name, eq ? (size_t)(eq - p) : len);
    size_t nv = value ? trim_span(&value, len - (size_t)(value - p)) : 0;
    p += len + (end ? 1 : 0);
    if (!eq && nn == 0)
      continue; /* an empty item ("a=b,,c=d", a trailing comma) */
    const char *why = !eq ? "is not name=value" : nn == 0 ? "has no name" : NULL;
    for (size_t i = 0; !why && i < nn; i++)
      if (!is_tchar((unsigned char)name[i]))
        why = "has a name that is not an HTTP token";
    if (!why && buf_reserve(out, nn + 2 + nv + 1) != 0)
      why = "does not fit in memory";
    if (!why) {
      char *o = out->data + out->len;
      o = put_lit(o, name, nn);
      o = PUT(o, ": ");
      for (size_t i = 0; i < nv && !why; i++) {
        int hi = i + 2 < nv ? hex_val((char)(value[i + 1] | 0x20)) : -1;
        int lo = i + 2 < nv ? hex_val((char)(value[i + 2] | 0x20)) : -1;
        unsigned char c = (unsigned char)value[i];
        if (c == '%' && hi >= 0 && lo >= 0) {
          c = (unsigned char)(hi << 4 | lo);
          i += 2;
        }
        if (c < 0x20 || c == 0x7f) /* CR, LF, NUL: another header, or a cut one */
          why = "has a control character in its value";
        *o++ = (char)c;
      }
      if (!why) {
        *o++ = '\0';
        out->len = (size_t)(o - out->data);
        count++;
      }
    }
    if (why) {
      if (out->data) /* nothing of a value stays behind */
        memset(out->data + start, 0, out->cap - start);
      out->len = start;
      if (err && errlen)
        snprintf(err, errlen, "otlp_headers: item %d %s", idx, why);
      return -1;
    }
  }
  *n = count;
  return 0;
}

int otlp_batch_open(struct buf *out, const char *service_name, const char *version) {
  struct span_attr res[] = {SPAN_STR("service.name", service_name),
                            SPAN_STR("service.version", version),
                            SPAN_STR("telemetry.sdk.language", "c")};
  size_t n = sizeof res / sizeof res[0];
  static const char OPEN[] = "{\"resourceSpans\":[{\"resource\":{";
  static const char SCOPE[] = "},\"scopeSpans\":[{\"scope\":{\"name\":\"replicate-proxy\"},\"spans\":[";
  if (buf_reserve(out, sizeof OPEN + attrs_bound(res, n) + sizeof SCOPE) != 0)
    return -1;
  char *o = attrs_json(PUT(out->data + out->len, OPEN), res, n);
  o = PUT(o, SCOPE);
  out->len = (size_t)(o - out->data);
  out->data[out->len] = '\0';
  return 0;
}

int otlp_batch_close(struct buf *out) { return buf_append_str(out, "]}]}]}"); }
