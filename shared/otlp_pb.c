#include "otlp_pb.h"

#include <string.h>

#include "json_plain.h"

/* Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2
 * length-delimited), as opentelemetry-proto's trace.proto, common.proto and
 * resource.proto number them. */
enum {
  T_REQ_RESOURCE_SPANS = 0x0a, /* ExportTraceServiceRequest.resource_spans = 1 */
  T_RS_RESOURCE = 0x0a,        /* ResourceSpans.resource = 1 */
  T_RS_SCOPE_SPANS = 0x12,     /* ResourceSpans.scope_spans = 2 */
  T_RES_ATTRIBUTE = 0x0a,      /* Resource.attributes = 1 */
  T_SS_SCOPE = 0x0a,           /* ScopeSpans.scope = 1 */
  T_SS_SPAN = 0x12,            /* ScopeSpans.spans = 2 */
  T_SCOPE_NAME = 0x0a,         /* InstrumentationScope.name = 1 */
  T_TRACE_ID = 0x0a,           /* Span.trace_id = 1 */
  T_SPAN_ID = 0x12,            /* Span.span_id = 2 */
  T_PARENT_ID = 0x22,          /* Span.parent_span_id = 4 */
  T_NAME = 0x2a,               /* Span.name = 5 */
  T_KIND = 0x30,               /* Span.kind = 6 */
  T_START = 0x39,              /* Span.start_time_unix_nano = 7 (fixed64) */
  T_END = 0x41,                /* Span.end_time_unix_nano = 8 (fixed64) */
  T_SPAN_ATTRIBUTE = 0x4a,     /* Span.attributes = 9 */
  T_STATUS = 0x7a,             /* Span.status = 15 */
  T_STATUS_MESSAGE = 0x12,     /* Status.message = 2 */
  T_STATUS_CODE = 0x18,        /* Status.code = 3 */
  T_KV_KEY = 0x0a,             /* KeyValue.key = 1 */
  T_KV_VALUE = 0x12,           /* KeyValue.value = 2 */
  T_STRING = 0x0a,             /* AnyValue.string_value = 1 */
  T_BOOL = 0x10,               /* AnyValue.bool_value = 2 */
  T_INT = 0x18,                /* AnyValue.int_value = 3 */
  T_DOUBLE = 0x21,             /* AnyValue.double_value = 4 (fixed64) */
  T_ARRAY = 0x2a,              /* AnyValue.array_value = 5 */
  T_ARRAY_VALUE = 0x0a,        /* ArrayValue.values = 1 */
};

unsigned char *pb_varint(unsigned char *o, uint64_t v) {
  while (v >= 0x80) {
    *o++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *o++ = (unsigned char)v;
  return o;
}

size_t pb_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80)
    v >>= 7, n++;
  return n;
}

/* A length-delimited field of n bytes with a one-byte tag, whole. */
static size_t ld_len(size_t n) { return 1 + pb_varint_len(n) + n; }

static unsigned char *put_le64(unsigned char *o, uint64_t v) {
  for (int i = 0; i < 8; i++)
    o[i] = (unsigned char)(v >> (8 * i));
  return o + 8;
}

static unsigned char *put(unsigned char *o, const void *p, size_t n) {
  memcpy(o, p, n);
  return o + n;
}

/* ---- strings: UTF-8, as protobuf's string type must be ---- */
/* A collector rejects a whole batch over one invalid string (Go's proto
 * decoder checks), so a byte that is not UTF-8 (a client's %FF in url.path)
 * goes as U+FFFD, as the JSON encoding sends it. */

static size_t ascii_len(const unsigned char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w & JP_HIGHS)
      break;
  }
  while (i < n && p[i] < 0x80)
    i++;
  return i;
}

/* The bytes utf8_copy writes for s[0..n) (NUL-terminated after them). */
static size_t utf8_len(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = ascii_len(p, n), len = i;
  while (i < n) {
    size_t k = p[i] < 0x80 ? 1 : json_utf8_len(p + i);
    if (k && i + k <= n)
      len += k, i += k;
    else
      len += 3, i++;
  }
  return len;
}

static unsigned char *utf8_copy(unsigned char *o, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = ascii_len(p, n);
  o = put(o, p, i);
  while (i < n) {
    size_t k = p[i] < 0x80 ? 1 : json_utf8_len(p + i);
    if (k && i + k <= n) {
      o = put(o, p + i, k);
      i += k;
    } else {
      o = put(o, "\xef\xbf\xbd", 3);
      i++;
    }
  }
  return o;
}

/* tag, length, and the text: clen is utf8_len(s, n). */
static unsigned char *put_str(unsigned char *o, unsigned char tag, const char *s, size_t n,
                              size_t clen) {
  *o++ = tag;
  o = pb_varint(o, clen);
  return clen == n ? put(o, s, n) : utf8_copy(o, s, n);
}

/* ---- attributes ---- */

static int attr_stringy(const struct span_attr *a) {
  return a->type == SA_STRING || a->type == SA_STRINGS || a->type == SA_URL;
}

static size_t attr_slen(const struct span_attr *a) { return a->slen ? a->slen : strlen(a->s); }

/* url.full's text: redacted here, on the exporter's thread (trace.c's JSON
 * does the same). */
#define URL_MAX 1024

/* The most put_attr writes for a (shown), key and wrappers included. */
static size_t attr_bound(const struct span_attr *a) {
  size_t klen = a->klen ? a->klen : strlen(a->key);
  size_t v = a->type == SA_URL ? URL_MAX : attr_stringy(a) ? attr_slen(a) : 0;
  return 48 + klen + 3 * v;
}

/* One KeyValue as the field tag (Span.attributes or Resource.attributes).
 * a is shown; url is a's redacted text for SA_URL. */
static unsigned char *put_attr(unsigned char *o, unsigned char tag, const struct span_attr *a,
                               const char *url) {
  size_t klen = a->klen ? a->klen : strlen(a->key);
  const char *s = a->type == SA_URL ? url : a->s;
  size_t n = 0, clen = 0, any; /* AnyValue's length */
  if (attr_stringy(a)) {
    n = a->type == SA_URL ? strlen(url) : attr_slen(a);
    clen = a->lit ? n : utf8_len(s, n); /* literals are ours: ASCII */
    any = ld_len(clen);
    if (a->type == SA_STRINGS) /* array_value { values { string_value } } */
      any = ld_len(ld_len(any));
  } else if (a->type == SA_INT) {
    any = 1 + pb_varint_len((uint64_t)a->i); /* int64: a negative one takes 10 bytes */
  } else if (a->type == SA_DOUBLE) {
    any = 9;
  } else {
    any = 2;
  }
  *o++ = tag;
  o = pb_varint(o, ld_len(klen) + ld_len(any));
  *o++ = T_KV_KEY;
  o = put(pb_varint(o, klen), a->key, klen);
  *o++ = T_KV_VALUE;
  o = pb_varint(o, any);
  switch (a->type) {
  case SA_STRINGS: /* the one value in an array */
    *o++ = T_ARRAY;
    o = pb_varint(o, ld_len(ld_len(clen)));
    *o++ = T_ARRAY_VALUE;
    o = pb_varint(o, ld_len(clen));
    return put_str(o, T_STRING, s, n, clen);
  case SA_STRING:
  case SA_URL:
    return put_str(o, T_STRING, s, n, clen);
  case SA_INT:
    *o++ = T_INT;
    return pb_varint(o, (uint64_t)a->i);
  case SA_DOUBLE: {
    uint64_t bits;
    memcpy(&bits, &a->d, 8);
    *o++ = T_DOUBLE;
    return put_le64(o, bits);
  }
  case SA_BOOL:
    *o++ = T_BOOL;
    *o++ = a->i ? 1 : 0;
    return o;
  }
  return o;
}

static int attr_shown(const struct span_attr *a) {
  return !a->skip && !(attr_stringy(a) && !a->s);
}

/* The attributes shown, each as the field tag. */
static unsigned char *put_attrs(unsigned char *o, unsigned char tag, const struct span_attr *attrs,
                                size_t n) {
  for (size_t i = 0; i < n; i++) {
    const struct span_attr *a = &attrs[i];
    char url[URL_MAX];
    if (!attr_shown(a) || (a->type == SA_URL && trace_url_redact(url, sizeof url, a->s) != 0))
      continue;
    o = put_attr(o, tag, a, url);
  }
  return o;
}

static size_t attrs_bound(const struct span_attr *attrs, size_t n) {
  size_t b = 0;
  for (size_t i = 0; i < n; i++)
    b += attr_shown(&attrs[i]) ? attr_bound(&attrs[i]) : 0;
  return b;
}

static int is_zero(const unsigned char *b, size_t n) {
  unsigned char any = 0;
  for (size_t i = 0; i < n; i++)
    any |= b[i];
  return !any;
}

/* ---- spans ---- */

/* An id's bytes field (16 or 8 bytes: a one-byte length). */
static unsigned char *put_id(unsigned char *o, unsigned char tag, const unsigned char *id, size_t n) {
  *o++ = tag;
  *o++ = (unsigned char)n;
  return put(o, id, n);
}

/* The span's length goes in SLOT bytes before its fields, written once they
 * are (a span is 128 bytes to 16 KB, two bytes of varint, nearly always);
 * the fields move when it takes another length. */
#define SLOT 2

int span_pb(struct buf *out, const struct span *s) {
  const struct trace_ctx *c = s->ctx;
  size_t nn = strlen(s->name), nm = s->error && s->status_message ? strlen(s->status_message) : 0;
  size_t bound = 128 + 3 * nn + 3 * nm + attrs_bound(s->attrs, s->n_attrs);
  if (buf_reserve(out, bound) != 0)
    return -1; /* never half a span: nothing written */
  unsigned char *o0 = (unsigned char *)out->data + out->len, *body = o0 + 1 + SLOT, *o = body;
  o = put_id(o, T_TRACE_ID, c->trace_id, TRACE_ID_LEN);
  o = put_id(o, T_SPAN_ID, c->span_id, SPAN_ID_LEN);
  if (!is_zero(c->parent_id, SPAN_ID_LEN))
    o = put_id(o, T_PARENT_ID, c->parent_id, SPAN_ID_LEN);
  o = put_str(o, T_NAME, s->name, nn, utf8_len(s->name, nn));
  *o++ = T_KIND;
  *o++ = (unsigned char)((unsigned)s->kind < 6 ? s->kind : 0);
  *o++ = T_START;
  o = put_le64(o, c->start_ns);
  *o++ = T_END;
  o = put_le64(o, s->end_ns > c->start_ns ? s->end_ns : c->start_ns);
  o = put_attrs(o, T_SPAN_ATTRIBUTE, s->attrs, s->n_attrs);
  /* status code 2 = ERROR; UNSET is the empty status, as the JSON's {} */
  *o++ = T_STATUS;
  if (s->error) {
    size_t cm = nm ? utf8_len(s->status_message, nm) : 0;
    o = pb_varint(o, (nm ? ld_len(cm) : 0) + 2);
    if (nm)
      o = put_str(o, T_STATUS_MESSAGE, s->status_message, nm, cm);
    *o++ = T_STATUS_CODE;
    *o++ = 2;
  } else {
    *o++ = 0;
  }
  size_t len = (size_t)(o - body), vl = pb_varint_len(len);
  if (vl != SLOT)
    memmove(o0 + 1 + vl, body, len);
  o0[0] = T_SS_SPAN;
  pb_varint(o0 + 1, len);
  out->len += 1 + vl + len;
  out->data[out->len] = '\0';
  return 0;
}

int span_packed_pb(struct buf *out, const char *rec, size_t avail, size_t *used) {
  struct span s;
  struct trace_ctx ctx;
  struct span_attr attrs[SPAN_PACK_MAX_ATTRS];
  if (span_unpack(rec, avail, &s, &ctx, attrs, used) != 0)
    return -1;
  return span_pb(out, &s);
}

/* ---- the envelope ---- */

#define SCOPE_NAME "replicate-proxy"
/* ScopeSpans.scope = { name }: constant. */
static const unsigned char SCOPE[] = {T_SS_SCOPE, sizeof SCOPE_NAME + 1, T_SCOPE_NAME,
                                      sizeof SCOPE_NAME - 1};
#define HEAD_GAP 6  /* ExportTraceServiceRequest.resource_spans: tag and length */
#define MID_GAP 12  /* ResourceSpans.resource's and .scope_spans' tags and lengths */

int otlp_pb_batch_open(struct buf *out, struct otlp_pb_batch *b, const char *service_name,
                       const char *version) {
  struct span_attr res[] = {SPAN_STR("service.name", service_name),
                            SPAN_STR("service.version", version),
                            SPAN_STR("telemetry.sdk.language", "c")};
  size_t n = sizeof res / sizeof res[0];
  if (buf_reserve(out, HEAD_GAP + attrs_bound(res, n) + MID_GAP + sizeof SCOPE +
                           sizeof SCOPE_NAME) != 0)
    return -1;
  b->begin = out->len;
  b->res_at = b->begin + HEAD_GAP;
  unsigned char *o0 = (unsigned char *)out->data + b->res_at;
  unsigned char *o = put_attrs(o0, T_RES_ATTRIBUTE, res, n);
  b->res_len = (size_t)(o - o0);
  o += MID_GAP;
  b->scope_at = (size_t)(o - (unsigned char *)out->data);
  o = put(put(o, SCOPE, sizeof SCOPE), SCOPE_NAME, sizeof SCOPE_NAME - 1);
  out->len = (size_t)(o - (unsigned char *)out->data);
  out->data[out->len] = '\0';
  return 0;
}

int otlp_pb_batch_close(struct buf *out, const struct otlp_pb_batch *b, size_t *start) {
  unsigned char *d = (unsigned char *)out->data;
  size_t scope_spans = out->len - b->scope_at; /* the scope and the spans */
  size_t resource = ld_len(b->res_len);
  size_t resource_spans = resource + ld_len(scope_spans);
  /* backwards from the scope: scope_spans' tag and length, the resource
   * (moved up to meet them), resource_spans' tag and length */
  size_t at = b->scope_at - 1 - pb_varint_len(scope_spans);
  d[at] = T_RS_SCOPE_SPANS;
  pb_varint(d + at + 1, scope_spans);
  at -= b->res_len;
  memmove(d + at, d + b->res_at, b->res_len);
  at -= 1 + pb_varint_len(b->res_len);
  d[at] = T_RS_RESOURCE;
  pb_varint(d + at + 1, b->res_len);
  if (at < b->begin + 1 + pb_varint_len(resource_spans))
    return -1; /* cannot happen: HEAD_GAP holds the longest length */
  at -= 1 + pb_varint_len(resource_spans);
  d[at] = T_REQ_RESOURCE_SPANS;
  pb_varint(d + at + 1, resource_spans);
  *start = at;
  return 0;
}
