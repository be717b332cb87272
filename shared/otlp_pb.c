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

/* A length-delimited field of n bytes with a one-byte tag, whole. */
static size_t ld_len(size_t n) { return 1 + pb_varint_len(n) + n; }

/* fixed64: little-endian (a store where the machine is). */
static unsigned char *put_le64(unsigned char *o, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(o, &v, 8);
#else
  for (int i = 0; i < 8; i++)
    o[i] = (unsigned char)(v >> (8 * i));
#endif
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

/* The bytes utf8_copy writes for s[0..n) (NUL-terminated after them). */
static size_t utf8_len(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t len = 0;
  for (size_t i = 0; i < n;) {
    size_t k = p[i] < 0x80 ? 1 : json_utf8_len(p + i);
    if (k && i + k <= n)
      len += k, i += k;
    else
      len += 3, i++;
  }
  return len;
}

/* utf8_copy past its ASCII prefix of i bytes (o: where byte i goes). */
static unsigned char *utf8_copy_rest(unsigned char *o, const unsigned char *p, size_t i, size_t n) {
  while (i < n) {
    if (p[i] < 0x80) {
      *o++ = p[i++];
      continue;
    }
    size_t k = json_utf8_len(p + i);
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

/* copy_words over 32 bytes: 16 at a time, the last 16 overlapping. */
static uint64_t copy_long(unsigned char *o, const unsigned char *p, size_t n) {
  uint64_t a, b, m = 0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    memcpy(&a, p + i, 8), memcpy(&b, p + i + 8, 8);
    memcpy(o + i, &a, 8), memcpy(o + i + 8, &b, 8);
    m |= a | b;
  }
  if (i < n) { /* n > 16: the tail as the last 16 bytes */
    memcpy(&a, p + n - 16, 8), memcpy(&b, p + n - 8, 8);
    memcpy(o + n - 16, &a, 8), memcpy(o + n - 8, &b, 8);
    m |= a | b;
  }
  return m;
}

/* p[0..n) copied to o as it is, whole words, every byte read and written
 * once or twice (overlapping words), none outside p[0..n) or o[0..n); returns
 * the OR of the words read, whose high bits tell whether all were ASCII. Most
 * strings here are 4 to 40 bytes: straight-line up to 32, where a byte loop
 * or a memcpy call (or a loop testing each word) was most of the cost. */
static inline __attribute__((always_inline)) uint64_t copy_words(unsigned char *o,
                                                                 const unsigned char *p, size_t n) {
  if (n >= 16) {
    if (n > 32)
      return copy_long(o, p, n);
    uint64_t a, b, c, d;
    memcpy(&a, p, 8), memcpy(&b, p + 8, 8), memcpy(&c, p + n - 16, 8), memcpy(&d, p + n - 8, 8);
    memcpy(o, &a, 8), memcpy(o + 8, &b, 8), memcpy(o + n - 16, &c, 8), memcpy(o + n - 8, &d, 8);
    return a | b | c | d;
  }
  if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, p, 8), memcpy(&b, p + n - 8, 8);
    memcpy(o, &a, 8), memcpy(o + n - 8, &b, 8);
    return a | b;
  }
  if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, p, 4), memcpy(&b, p + n - 4, 4);
    memcpy(o, &a, 4), memcpy(o + n - 4, &b, 4);
    return a | b;
  }
  if (!n)
    return 0;
  o[0] = p[0], o[n / 2] = p[n / 2], o[n - 1] = p[n - 1]; /* 1 to 3 bytes */
  return p[0] | p[n / 2] | p[n - 1];
}

/* s[0..n) at o, each byte that is not UTF-8 as U+FFFD; returns the end.
 * Copied as it is first; a string that is not all ASCII (rare) is written
 * again, checked byte by byte. Inline: the rest is out of line. */
static inline __attribute__((always_inline)) unsigned char *utf8_copy(unsigned char *o,
                                                                      const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  if (!(copy_words(o, p, n) & JP_HIGHS))
    return o + n;
  return utf8_copy_rest(o, p, 0, n);
}

/* A length-delimited field written in one pass: a one-byte length at slot,
 * its content written after it up to end; the length filled in now, the
 * content moved up when it takes more than a byte (the buffer has room).
 * Returns the content's end. */
static unsigned char *close_slot(unsigned char *slot, unsigned char *end) {
  size_t len = (size_t)(end - slot - 1), vl = pb_varint_len(len);
  if (vl > 1)
    memmove(slot + vl, slot + 1, len);
  return pb_varint(slot, len) + len;
}

/* A string field in one pass. */
static inline __attribute__((always_inline)) unsigned char *
put_str_once(unsigned char *o, unsigned char tag, const char *s, size_t n) {
  *o++ = tag;
  *o = (unsigned char)n; /* ASCII under 128 bytes (nearly all): the length is n */
  if (n < 0x80 && !(copy_words(o + 1, (const unsigned char *)s, n) & JP_HIGHS))
    return o + 1 + n;
  return close_slot(o, utf8_copy(o + 1, s, n));
}

/* tag, length, and the text: clen is utf8_len(s, n). */
static unsigned char *put_str(unsigned char *o, unsigned char tag, const char *s, size_t n,
                              size_t clen) {
  *o++ = tag;
  return utf8_copy(pb_varint(o, clen), s, n);
}

/* ---- attributes ---- */

/* The most an attribute's encoding (put_str_attr, put_scalar_attr or
 * put_attr_measured) writes beside its key and its text (3 bytes a byte at
 * most: U+FFFD for one not UTF-8): tags, lengths, a scalar. */
#define ATTR_WRAP 48

/* One KeyValue as the field tag (Span.attributes or Resource.attributes),
 * its lengths measured first. a is shown; for the string types its text is
 * v[0..n) (url.full's redacted), NUL-terminated after. */
static unsigned char *put_attr_measured(unsigned char *o, unsigned char tag,
                                        const struct span_attr *a, const char *v, size_t n) {
  size_t klen = span_attr_klen(a);
  size_t clen = 0, any; /* the text's and AnyValue's lengths */
  if (span_attr_stringy(a)) {
    clen = a->lit ? n : utf8_len(v, n); /* literals are ours: ASCII */
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
    return put_str(o, T_STRING, v, n, clen);
  case SA_STRING:
  case SA_URL:
    return put_str(o, T_STRING, v, n, clen);
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

/* Four bytes: tags and one-byte lengths. */
static inline unsigned char *put4(unsigned char *o, size_t b0, size_t b1, size_t b2, size_t b3) {
  o[0] = (unsigned char)b0, o[1] = (unsigned char)b1, o[2] = (unsigned char)b2,
  o[3] = (unsigned char)b3;
  return o + 4;
}

/* put_attr_measured's bytes with every length known before they are
 * written: a KeyValue under 128 bytes (nearly all of them) has one-byte
 * lengths throughout. put_kv writes the KeyValue's tag and length and its
 * key (klen bytes), to be followed by the value's tag and length (any: the
 * AnyValue's bytes); NULL when the KeyValue takes 128 bytes or more: the
 * caller writes it measured. */
static inline __attribute__((always_inline)) unsigned char *
put_kv(unsigned char *o, unsigned char tag, const char *key, size_t klen, size_t any) {
  size_t kv = 4 + klen + any; /* key: tag, length, text; value: tag, length, AnyValue */
  if (kv >= 0x80)
    return NULL;
  o = put4(o, tag, kv, T_KV_KEY, klen);
  copy_words(o, (const unsigned char *)key, klen); /* our literals: ASCII */
  return o + klen;
}

/* A string attribute (SA_STRING, SA_URL, SA_STRINGS): its text v[0..n).
 * One that is not UTF-8 (its U+FFFD take more bytes) is written again,
 * measured. */
static unsigned char *put_str_attr(unsigned char *o, unsigned char tag, const struct span_attr *a,
                                   size_t klen, const char *v, size_t n) {
  int arr = a->type == SA_STRINGS; /* array_value { values { string_value } } */
  size_t any = n + (arr ? 6 : 2);
  unsigned char *p = put_kv(o, tag, a->key, klen, any);
  if (!p)
    return put_attr_measured(o, tag, a, v, n);
  if (arr)
    p = put4(put4(p, T_KV_VALUE, any, T_ARRAY, n + 4), T_ARRAY_VALUE, n + 2, T_STRING, n);
  else
    p = put4(p, T_KV_VALUE, any, T_STRING, n);
  if (!(copy_words(p, (const unsigned char *)v, n) & JP_HIGHS))
    return p + n;
  unsigned char *end = utf8_copy_rest(p, (const unsigned char *)v, 0, n);
  return end == p + n ? end : put_attr_measured(o, tag, a, v, n);
}

/* An int, double or bool attribute: its AnyValue is 11 bytes at most, so it
 * is measured only with a key of 113 bytes or more. */
static unsigned char *put_scalar_attr(unsigned char *o, unsigned char tag,
                                      const struct span_attr *a, size_t klen) {
  unsigned char *p;
  uint64_t v; /* the int, or the double's bits */
  memcpy(&v, &a->i, 8);
  switch (a->type) {
  case SA_INT: {
    size_t any = 1 + pb_varint_len(v); /* a negative one: 10 bytes */
    if (!(p = put_kv(o, tag, a->key, klen, any)))
      break;
    p[0] = T_KV_VALUE, p[1] = (unsigned char)any, p[2] = T_INT;
    return pb_varint(p + 3, v);
  }
  case SA_DOUBLE:
    if (!(p = put_kv(o, tag, a->key, klen, 9)))
      break;
    p[0] = T_KV_VALUE, p[1] = 9, p[2] = T_DOUBLE;
    return put_le64(p + 3, v);
  default: /* SA_BOOL */
    if (!(p = put_kv(o, tag, a->key, klen, 2)))
      break;
    return put4(p, T_KV_VALUE, 2, T_BOOL, v ? 1 : 0);
  }
  return put_attr_measured(o, tag, a, NULL, 0);
}

/* url.full's text as trace_url_redact leaves the URL v: v itself when it
 * has no query, fragment or userinfo (no '?', '#' or '@': the common case;
 * one scan, which measures it too), else redacted into url; NULL when too
 * long for that. *len: the text's length. */
static const char *url_text(char url[SPAN_URL_MAX], const char *v, size_t *len) {
  size_t n = strcspn(v, "?#@");
  if (!v[n] && n < SPAN_URL_MAX) {
    *len = n;
    return v;
  }
  if (trace_url_redact(url, SPAN_URL_MAX, v) != 0)
    return NULL;
  *len = strlen(url);
  return url;
}

/* o (where out's span or batch is being written) with room for need bytes
 * after it: out grows when short, and what is written moves with it. NULL:
 * out of memory. Out of line: the queue's buffer, reused, has room. */
static __attribute__((noinline)) unsigned char *grow(struct buf *out, unsigned char *o,
                                                     size_t need) {
  size_t at = (size_t)(o - (unsigned char *)out->data);
  if (buf_reserve(out, at - out->len + need) != 0)
    return NULL;
  return (unsigned char *)out->data + at;
}

/* The attributes shown, each as the field tag, at o in out, in one pass:
 * each makes room for itself and tail bytes after it (the rest of the
 * message) as it is written, no pass measuring them first. A key is one of
 * our literals: one over 255 bytes (none is) is left out. Returns the end,
 * or NULL (out of memory). */
static unsigned char *put_attrs(struct buf *out, unsigned char *o, unsigned char tag,
                                const struct span_attr *attrs, size_t n, size_t tail) {
  char url[SPAN_URL_MAX];
  /* room while o + need < lim; a local, as the stores through o may alias
   * out (the compiler would load out->data and out->cap again each time) */
  unsigned char *lim = (unsigned char *)out->data + out->cap - tail;
  for (size_t i = 0; i < n; i++) { /* by index: attrs may be NULL with none (NULL + 0 is UB) */
    const struct span_attr *a = &attrs[i];
    if (a->skip)
      continue;
    size_t klen = span_attr_klen(a);
    if (klen > 0xff)
      continue;
    int stringy = span_attr_stringy(a);
    const char *v = a->s;
    size_t len = 0;
    if (stringy) {
      if (!v)
        continue;
      if (a->type != SA_URL)
        len = a->slen ? a->slen : strlen(v);
      else if (!(v = url_text(url, v, &len)))
        continue;
    }
    size_t need = ATTR_WRAP + klen + 3 * len;
    if (need >= (size_t)(lim - o)) {
      if (!(o = grow(out, o, need + tail)))
        return NULL;
      lim = (unsigned char *)out->data + out->cap - tail;
    }
    o = stringy ? put_str_attr(o, tag, a, klen, v, len) : put_scalar_attr(o, tag, a, klen);
  }
  return o;
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

/* The most written after the attributes beside the status message's text:
 * the status's tags, lengths and code, the span's length when it takes more
 * than SLOT bytes, the NUL. */
#define STATUS_WRAP 24

/* Never half a span: out->len moves only once all of it is written. */
int span_pb(struct buf *out, const struct span *s) {
  const struct trace_ctx *c = s->ctx;
  size_t nn = span_name_len(s);
  size_t nm = s->error && s->status_message ? strlen(s->status_message) : 0;
  /* room for all but the attributes (they make their own) */
  size_t tail = STATUS_WRAP + 3 * nm, head = 128 + 3 * nn + tail;
  if (head >= out->cap - out->len && buf_reserve(out, head) != 0)
    return -1;
  unsigned char *o = (unsigned char *)out->data + out->len + 1 + SLOT;
  o = put_id(o, T_TRACE_ID, c->trace_id, TRACE_ID_LEN);
  o = put_id(o, T_SPAN_ID, c->span_id, SPAN_ID_LEN);
  if (trace_has_parent(c))
    o = put_id(o, T_PARENT_ID, c->parent_id, SPAN_ID_LEN);
  o = put_str_once(o, T_NAME, s->name, nn);
  *o++ = T_KIND;
  *o++ = (unsigned char)((unsigned)s->kind < 6 ? s->kind : 0);
  *o++ = T_START;
  o = put_le64(o, c->start_ns);
  *o++ = T_END;
  o = put_le64(o, s->end_ns > c->start_ns ? s->end_ns : c->start_ns);
  if (!(o = put_attrs(out, o, T_SPAN_ATTRIBUTE, s->attrs, s->n_attrs, tail)))
    return -1;
  /* status code 2 = ERROR; UNSET is the empty status, as the JSON's {} */
  *o++ = T_STATUS;
  if (s->error) {
    unsigned char *st = o++;
    if (nm)
      o = put_str_once(o, T_STATUS_MESSAGE, s->status_message, nm);
    *o++ = T_STATUS_CODE;
    *o++ = 2;
    o = close_slot(st, o);
  } else {
    *o++ = 0;
  }
  unsigned char *o0 = (unsigned char *)out->data + out->len, *body = o0 + 1 + SLOT;
  size_t len = (size_t)(o - body), vl = pb_varint_len(len);
  if (vl != SLOT)
    memmove(o0 + 1 + vl, body, len);
  o0[0] = T_SS_SPAN;
  pb_varint(o0 + 1, len);
  out->len += 1 + vl + len;
  out->data[out->len] = '\0';
  return 0;
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
  size_t tail = MID_GAP + sizeof SCOPE + sizeof SCOPE_NAME;
  if (buf_reserve(out, HEAD_GAP + tail) != 0)
    return -1;
  b->begin = out->len;
  b->res_at = b->begin + HEAD_GAP;
  unsigned char *o = (unsigned char *)out->data + b->res_at;
  if (!(o = put_attrs(out, o, T_RES_ATTRIBUTE, res, n, tail)))
    return -1;
  b->res_len = (size_t)(o - (unsigned char *)out->data) - b->res_at;
  o += MID_GAP;
  b->scope_at = (size_t)(o - (unsigned char *)out->data);
  o = put(put(o, SCOPE, sizeof SCOPE), SCOPE_NAME, sizeof SCOPE_NAME - 1);
  out->len = (size_t)(o - (unsigned char *)out->data);
  out->data[out->len] = '\0';
  return 0;
}

int otlp_pb_batch_close(struct buf *out, const struct otlp_pb_batch *b, size_t after,
                        size_t *start) {
  unsigned char *d = (unsigned char *)out->data;
  size_t scope_spans = out->len - b->scope_at + after; /* the scope and the spans */
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
