#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/otlp_pb.h"
#include "test.h"

/* ---- a minimal wire-format reader: the checks read what was written ---- */

/* A varint at *p (before end): its value, *p moved past it; -1 when cut or
 * longer than 10 bytes. */
static int rd_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    unsigned char c = *(*p)++;
    *v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80))
      return 0;
  }
  return -1;
}

/* One field of the message [p, end): the index-th one with tag. A
 * length-delimited one: *at and *n its bytes; else *v its value. 0, or -1
 * (absent, or the message is malformed: every length must fit). */
static int field(const unsigned char *p, size_t len, unsigned tag, int index,
                 const unsigned char **at, size_t *n, uint64_t *v) {
  const unsigned char *end = p + len;
  while (p < end) {
    uint64_t t, x = 0;
    if (rd_varint(&p, end, &t) != 0)
      return -1;
    const unsigned char *data = p;
    size_t dn = 0;
    switch (t & 7) {
    case 0:
      if (rd_varint(&p, end, &x) != 0)
        return -1;
      break;
    case 1:
      if (end - p < 8)
        return -1;
      for (int i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
      p += 8;
      break;
    case 2:
      if (rd_varint(&p, end, &x) != 0 || x > (uint64_t)(end - p))
        return -1;
      data = p, dn = (size_t)x;
      p += dn;
      break;
    default:
      return -1;
    }
    if (t == tag && index-- == 0) {
      if (at)
        *at = data, *n = dn;
      if (v)
        *v = x;
      return 0;
    }
  }
  return -1;
}

/* The string field's text is want. */
static int field_is(const unsigned char *p, size_t len, unsigned tag, int index, const char *want) {
  const unsigned char *s;
  size_t n;
  return field(p, len, tag, index, &s, &n, NULL) == 0 && n == strlen(want) &&
         memcmp(s, want, n) == 0;
}

/* The index-th attribute (tag) of a message: its key and AnyValue. */
static int attr_at(const unsigned char *p, size_t len, unsigned tag, int index, const char *key,
                   const unsigned char **any, size_t *any_n) {
  const unsigned char *kv;
  size_t kn;
  return field(p, len, tag, index, &kv, &kn, NULL) == 0 && field_is(kv, kn, 0x0a, 0, key) &&
         field(kv, kn, 0x12, 0, any, any_n, NULL) == 0;
}

static void check_varint(void) {
  TEST("protobuf varint: edges");
  static const struct {
    uint64_t v;
    const char *bytes;
    size_t n;
  } CASES[] = {
      {0, "\x00", 1},
      {1, "\x01", 1},
      {127, "\x7f", 1},
      {128, "\x80\x01", 2},
      {300, "\xac\x02", 2},
      {16383, "\xff\x7f", 2},
      {16384, "\x80\x80\x01", 3},
      {2097151, "\xff\xff\x7f", 3},
      {2097152, "\x80\x80\x80\x01", 4},
      {UINT32_MAX, "\xff\xff\xff\xff\x0f", 5},
      {(uint64_t)1 << 63, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10},
      {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10}, /* int64 -1 */
  };
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    unsigned char out[PB_VARINT_MAX + 1];
    memset(out, 0xee, sizeof out);
    unsigned char *end = pb_varint(out, CASES[i].v);
    CHECK_INT(end - out, CASES[i].n);
    CHECK_INT(pb_varint_len(CASES[i].v), CASES[i].n);
    CHECK(memcmp(out, CASES[i].bytes, CASES[i].n) == 0);
    CHECK_INT(out[CASES[i].n], 0xee); /* nothing past it */
    const unsigned char *p = out;
    uint64_t back = 0;
    CHECK_INT(rd_varint(&p, end, &back), 0);
    CHECK(back == CASES[i].v);
  }
}

static struct trace_ctx ctx(void) {
  struct trace_ctx c = {.start_ns = 1700000000000000001ull, .flags = 1};
  for (int i = 0; i < TRACE_ID_LEN; i++)
    c.trace_id[i] = (unsigned char)(0x10 + i);
  for (int i = 0; i < SPAN_ID_LEN; i++)
    c.span_id[i] = (unsigned char)(0xa0 + i);
  return c;
}

static void check_span_bytes(void) {
  TEST("protobuf span: a child with an error status, byte for byte");
  struct trace_ctx c = ctx();
  memcpy(c.parent_id, c.span_id, SPAN_ID_LEN);
  c.span_id[0] = 0xff;
  struct span e = {.ctx = &c, .name = "replicate create", .kind = SPAN_CLIENT,
                   .end_ns = 1, /* before the start: clamped to it */
                   .error = 1, .status_message = "connection refused"};
  struct buf b = BUF_INIT;
  CHECK_INT(span_pb(&b, &e), 0);
  static const unsigned char WANT[] =
      "\x12\x64"                                                     /* ScopeSpans.spans, 100 bytes */
      "\x0a\x10\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f" /* trace_id */
      "\x12\x08\xff\xa1\xa2\xa3\xa4\xa5\xa6\xa7"                     /* span_id */
      "\x22\x08\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7"                     /* parent_span_id */
      "\x2a\x10replicate create"                                     /* name */
      "\x30\x03"                                                     /* kind CLIENT */
      "\x39\x01\x00\x2a\x36\xfe\x9c\x97\x17"                         /* start, fixed64 */
      "\x41\x01\x00\x2a\x36\xfe\x9c\x97\x17"                         /* end = start */
      "\x7a\x16\x12\x12" "connection refused" "\x18\x02";            /* status ERROR */
  CHECK_INT(b.len, sizeof WANT - 1);
  CHECK(memcmp(b.data, WANT, sizeof WANT - 1) == 0);

  TEST("protobuf span: attributes, each type; absent and skipped ones left out");
  const struct span_attr attrs[] = {
      SPAN_STR("s", "a\"b\\c\n\x01"),
      SPAN_STR("absent", NULL),
      SPAN_INT("i", -42),
      SPAN_INT_IF("skipped", 7, 0),
      SPAN_DOUBLE("d", 0.5),
      SPAN_BOOL("b", 1),
      {.key = "arr", .type = SA_STRINGS, .s = "stop"}, /* no klen: measured */
      SPAN_URL("url", "https://user:pw@api.example/v1/p?token=x"),
  };
  struct trace_ctx r = ctx();
  struct span s = {.ctx = &r, .name = "chat m", .kind = SPAN_SERVER,
                   .end_ns = 1700000000000000009ull, .attrs = attrs,
                   .n_attrs = sizeof attrs / sizeof attrs[0]};
  buf_reset(&b);
  CHECK_INT(span_pb(&b, &s), 0);
  const unsigned char *sp, *any, *x;
  size_t sn, an, xn;
  uint64_t v = 0;
  CHECK_INT(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL), 0);
  CHECK_INT((size_t)(sp + sn - (const unsigned char *)b.data), b.len); /* one field: all of it */
  CHECK_INT(field(sp, sn, 0x22, 0, NULL, NULL, NULL), -1); /* a root: no parent */
  CHECK(field_is(sp, sn, 0x2a, 0, "chat m"));
  CHECK(field(sp, sn, 0x30, 0, NULL, NULL, &v) == 0 && v == 2);
  CHECK(field(sp, sn, 0x41, 0, NULL, NULL, &v) == 0 && v == 1700000000000000009ull);
  CHECK(attr_at(sp, sn, 0x4a, 0, "s", &any, &an) && field_is(any, an, 0x0a, 0, "a\"b\\c\n\x01"));
  CHECK(attr_at(sp, sn, 0x4a, 1, "i", &any, &an) && field(any, an, 0x18, 0, NULL, NULL, &v) == 0 &&
        (int64_t)v == -42);
  CHECK(attr_at(sp, sn, 0x4a, 2, "d", &any, &an) && field(any, an, 0x21, 0, NULL, NULL, &v) == 0);
  double d;
  memcpy(&d, &v, 8);
  CHECK(d == 0.5);
  CHECK(attr_at(sp, sn, 0x4a, 3, "b", &any, &an) && field(any, an, 0x10, 0, NULL, NULL, &v) == 0 &&
        v == 1);
  CHECK(attr_at(sp, sn, 0x4a, 4, "arr", &any, &an) && field(any, an, 0x2a, 0, &x, &xn, NULL) == 0 &&
        field(x, xn, 0x0a, 0, &x, &xn, NULL) == 0 && field_is(x, xn, 0x0a, 0, "stop"));
  CHECK(attr_at(sp, sn, 0x4a, 5, "url", &any, &an) &&
        field_is(any, an, 0x0a, 0, "https://api.example/v1/p"));
  CHECK_INT(field(sp, sn, 0x4a, 6, NULL, NULL, NULL), -1); /* six shown */

  TEST("protobuf span: a literal over 255 bytes is written, as any string");
  static char long_lit[300];
  memset(long_lit, 'l', sizeof long_lit - 1);
  const struct span_attr lits[] = {SPAN_LIT("long", long_lit), SPAN_LIT("short", "ok")};
  struct span ls = {.ctx = &r, .name = "n", .kind = SPAN_SERVER, .end_ns = 1, .attrs = lits,
                    .n_attrs = 2};
  struct buf lb = BUF_INIT;
  CHECK_INT(span_pb(&lb, &ls), 0);
  const unsigned char *lsp;
  size_t lsn;
  CHECK(field((const unsigned char *)lb.data, lb.len, 0x12, 0, &lsp, &lsn, NULL) == 0);
  CHECK(attr_at(lsp, lsn, 0x4a, 0, "long", &any, &an) && field_is(any, an, 0x0a, 0, long_lit));
  CHECK(attr_at(lsp, lsn, 0x4a, 1, "short", &any, &an) && field_is(any, an, 0x0a, 0, "ok"));
  buf_free(&lb);
  CHECK(field(sp, sn, 0x7a, 0, &x, &xn, NULL) == 0 && xn == 0); /* UNSET: empty status */

  TEST("protobuf span: a name's and a literal's lengths, given, write what measuring does");
  const struct span_attr given[] = {SPAN_LIT_LEN("m", "POST", 4), SPAN_LIT_LEN("k", "create", 6)};
  const struct span_attr measured[] = {SPAN_LIT("m", "POST"), SPAN_LIT("k", "create")};
  struct span gs = {.ctx = &r, .name = "replicate create", .name_len = 16, .kind = SPAN_CLIENT,
                    .end_ns = 1, .attrs = given, .n_attrs = 2};
  struct span ms = {.ctx = &r, .name = "replicate create", .kind = SPAN_CLIENT, .end_ns = 1,
                    .attrs = measured, .n_attrs = 2};
  struct buf gb = BUF_INIT, mb = BUF_INIT;
  CHECK_INT(span_pb(&gb, &gs), 0);
  CHECK_INT(span_pb(&mb, &ms), 0);
  CHECK(gb.len == mb.len && memcmp(gb.data, mb.data, mb.len) == 0);
  CHECK(field((const unsigned char *)gb.data, gb.len, 0x12, 0, &sp, &sn, NULL) == 0 &&
        field_is(sp, sn, 0x2a, 0, "replicate create") && attr_at(sp, sn, 0x4a, 1, "k", &any, &an) &&
        field_is(any, an, 0x0a, 0, "create"));
  buf_free(&gb), buf_free(&mb);

  TEST("protobuf span: bytes that are not UTF-8 become U+FFFD");
  buf_reset(&b);
  struct span u = {.ctx = &r, .name = "GET /\xff\xc3\xa9\xe2\x82\xac\xc3\xed\xa0\x80\xc3",
                   .kind = SPAN_SERVER, .end_ns = 1};
  CHECK_INT(span_pb(&b, &u), 0);
  CHECK(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL) == 0 &&
        field_is(sp, sn, 0x2a, 0,
                 "GET /\xef\xbf\xbd\xc3\xa9\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                 "\xef\xbf\xbd\xef\xbf\xbd"));

  TEST("protobuf span: over 16 KB, its length takes three bytes");
  buf_reset(&b);
  static char big[20001];
  memset(big, 'p', sizeof big - 1);
  const struct span_attr one[] = {SPAN_STR("url.path", big)};
  struct span l = {.ctx = &r, .name = "GET", .kind = SPAN_SERVER, .end_ns = 1, .attrs = one,
                   .n_attrs = 1};
  CHECK_INT(span_pb(&b, &l), 0);
  CHECK(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL) == 0);
  CHECK_INT(sp - (const unsigned char *)b.data, 1 + 3);
  CHECK_INT(sn + 4, b.len);
  CHECK(attr_at(sp, sn, 0x4a, 0, "url.path", &any, &an) && field_is(any, an, 0x0a, 0, big));
  buf_free(&b);
}

static void check_batch(void) {
  TEST("protobuf batch: the envelope around the spans, lengths written last");
  struct trace_ctx c = ctx();
  struct span s = {.ctx = &c, .name = "replicate poll", .kind = SPAN_CLIENT, .end_ns = 1};
  for (int count = 0; count <= 300; count += 150) { /* none, then past 2-byte lengths */
    struct buf b = BUF_INIT;
    CHECK_INT(buf_append_str(&b, "junk before"), 0); /* the batch need not start at 0 */
    struct otlp_pb_batch batch;
    CHECK_INT(otlp_pb_batch_open(&b, &batch, "svc", "1.0"), 0);
    for (int i = 0; i < count; i++)
      CHECK_INT(span_pb(&b, &s), 0);
    size_t start = 0;
    /* the same envelope for the spans held elsewhere: its bytes, then theirs */
    struct buf env = BUF_INIT, apart = BUF_INIT;
    struct otlp_pb_batch eb;
    size_t estart = 0;
    CHECK_INT(otlp_pb_batch_open(&env, &eb, "svc", "1.0"), 0);
    for (int i = 0; i < count; i++)
      CHECK_INT(span_pb(&apart, &s), 0);
    CHECK_INT(otlp_pb_batch_close(&env, &eb, apart.len, &estart), 0);
    CHECK_INT(otlp_pb_batch_close(&b, &batch, 0, &start), 0);
    CHECK_INT(env.len - estart + apart.len, b.len - start);
    CHECK(memcmp(env.data + estart, b.data + start, env.len - estart) == 0 &&
          (!apart.len || memcmp(apart.data, b.data + start + (env.len - estart), apart.len) == 0));
    buf_free(&env);
    buf_free(&apart);
    CHECK(start >= sizeof "junk before" - 1);
    const unsigned char *body = (const unsigned char *)b.data + start, *rs, *res, *ss, *x;
    size_t len = b.len - start, rsn, resn, ssn, xn;
    CHECK(field(body, len, 0x0a, 0, &rs, &rsn, NULL) == 0 && rs + rsn == body + len);
    CHECK_INT(field(body, len, 0x0a, 1, NULL, NULL, NULL), -1);
    CHECK(field(rs, rsn, 0x0a, 0, &res, &resn, NULL) == 0);
    CHECK(attr_at(res, resn, 0x0a, 0, "service.name", &x, &xn) && field_is(x, xn, 0x0a, 0, "svc"));
    CHECK(attr_at(res, resn, 0x0a, 1, "service.version", &x, &xn) &&
          field_is(x, xn, 0x0a, 0, "1.0"));
    CHECK(attr_at(res, resn, 0x0a, 2, "telemetry.sdk.language", &x, &xn) &&
          field_is(x, xn, 0x0a, 0, "c"));
    CHECK(field(rs, rsn, 0x12, 0, &ss, &ssn, NULL) == 0 && ss + ssn == rs + rsn);
    CHECK(field(ss, ssn, 0x0a, 0, &x, &xn, NULL) == 0 && field_is(x, xn, 0x0a, 0, "replicate-proxy"));
    int n = 0;
    while (field(ss, ssn, 0x12, n, &x, &xn, NULL) == 0 && field_is(x, xn, 0x2a, 0, "replicate poll"))
      n++;
    CHECK_INT(n, count);
    buf_free(&b);
  }
}

/* The worker writes spans into the queue's buffer, which grows when a
 * span's attributes (each making room as it is written) reach its end: at
 * every place the end can fall, the span is written whole and the same, and
 * what was before it is kept. */
static void check_grow(void) {
  TEST("protobuf span: the buffer's end at every place in the span, it grows");
  struct trace_ctx c = ctx();
  memcpy(c.parent_id, c.span_id, SPAN_ID_LEN);
  const struct span_attr attrs[] = {
      SPAN_LIT("gen_ai.operation.name", "chat"), SPAN_STR("gen_ai.request.model", "deepseek-v3.1"),
      SPAN_STRINGS("gen_ai.response.finish_reasons", "stop"), SPAN_INT("n", 11),
      SPAN_URL("url.full", "http://u:p@h/v1/predictions?x=1"), SPAN_DOUBLE("d", 0.5),
      SPAN_BOOL("b", 1), SPAN_STR("url.path", "/v1/chat/completions\xff"),
  };
  struct span s = {.ctx = &c, .name = "chat m", .kind = SPAN_SERVER, .end_ns = 9, .error = 1,
                   .status_message = "failed in the stream", .attrs = attrs,
                   .n_attrs = sizeof attrs / sizeof attrs[0]};
  struct buf want = BUF_INIT;
  CHECK_INT(span_pb(&want, &s), 0);
  int bad = 0;
  for (size_t before = 0; before < 1024; before++) {
    struct buf b = BUF_INIT;
    CHECK_INT(buf_reserve(&b, 1000), 0); /* 1,024 bytes: the span reaches the end */
    memset(b.data, 'j', before);
    b.len = before;
    size_t cap = b.cap;
    CHECK_INT(span_pb(&b, &s), 0);
    if (b.len != before + want.len || memcmp(b.data + before, want.data, want.len) != 0 ||
        b.data[b.len] != '\0' || (before && (b.data[0] != 'j' || b.data[before - 1] != 'j')))
      bad++;
    if (before == 1023)
      CHECK(b.cap > cap);
    buf_free(&b);
  }
  CHECK_INT(bad, 0);
  buf_free(&want);
}

/* A string of n bytes in a heap block of exactly n + 1 (ASan sees a read
 * past it): c repeated, then tail (its last bytes). */
static char *exact(size_t n, char c, const char *tail) {
  char *s = malloc(n + 1);
  if (!s)
    abort();
  memset(s, c, n);
  size_t t = tail ? strlen(tail) : 0;
  if (t && t <= n)
    memcpy(s + n - t, tail, t);
  s[n] = '\0';
  return s;
}

/* Every attribute type, keys and values of every length where the copy or
 * the one-byte lengths change how they are written (1-3, 4-7, 8-15, 16-32,
 * over 32 bytes; a KeyValue of 127 and 128 bytes): each reads back as it
 * went in; a key over 255 bytes is left out. */
static void check_lengths(void) {
  TEST("protobuf attributes: keys and values of every length class");
  static const size_t KEYS[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 100, 112, 113,
                                121, 122, 127, 128, 200, 255, 256};
  static const size_t VALUES[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100, 130};
  struct trace_ctx c = ctx();
  int bad = 0;
  for (size_t ki = 0; ki < sizeof KEYS / sizeof KEYS[0]; ki++) {
    for (size_t vi = 0; vi < sizeof VALUES / sizeof VALUES[0]; vi++) {
      size_t kn = KEYS[ki], vn = VALUES[vi];
      char *key = exact(kn, 'k', "z"), *val = exact(vn, 'v', "w"), *arr = exact(vn, 'a', NULL);
      unsigned char klen = kn <= 0xff ? (unsigned char)kn : 0; /* as SPAN_KEY_ sets it */
      const struct span_attr attrs[] = {
          {.key = key, .klen = klen, .type = SA_STRING, .s = val},
          {.key = key, .klen = klen, .type = SA_STRINGS, .s = arr},
          {.key = key, .klen = klen, .type = SA_INT, .i = -1}, /* a 10-byte varint */
          {.key = key, .klen = klen, .type = SA_INT, .i = (long long)vn},
          {.key = key, .klen = klen, .type = SA_BOOL, .i = 1},
          {.key = key, .klen = klen, .type = SA_DOUBLE, .d = 2.5},
          {.key = key, .klen = klen, .type = SA_STRING, .s = val, .lit = 1},
      };
      struct span s = {.ctx = &c, .name = val, .kind = SPAN_SERVER, .end_ns = 1, .attrs = attrs,
                       .n_attrs = sizeof attrs / sizeof attrs[0]};
      struct buf direct = BUF_INIT;
      CHECK_INT(span_pb(&direct, &s), 0);
      const unsigned char *sp, *any, *x;
      size_t sn, an, xn;
      uint64_t v = 0;
      int ok = field((const unsigned char *)direct.data, direct.len, 0x12, 0, &sp, &sn, NULL) == 0 &&
               field_is(sp, sn, 0x2a, 0, val);
      if (kn > 0xff) {
        ok = ok && field(sp, sn, 0x4a, 0, NULL, NULL, NULL) == -1; /* all left out */
      } else {
        ok = ok && attr_at(sp, sn, 0x4a, 0, key, &any, &an) && field_is(any, an, 0x0a, 0, val);
        ok = ok && attr_at(sp, sn, 0x4a, 1, key, &any, &an) &&
             field(any, an, 0x2a, 0, &x, &xn, NULL) == 0 && field(x, xn, 0x0a, 0, &x, &xn, NULL) == 0 &&
             field_is(x, xn, 0x0a, 0, arr);
        ok = ok && attr_at(sp, sn, 0x4a, 2, key, &any, &an) &&
             field(any, an, 0x18, 0, NULL, NULL, &v) == 0 && v == UINT64_MAX;
        ok = ok && attr_at(sp, sn, 0x4a, 3, key, &any, &an) &&
             field(any, an, 0x18, 0, NULL, NULL, &v) == 0 && v == vn;
        ok = ok && attr_at(sp, sn, 0x4a, 4, key, &any, &an) &&
             field(any, an, 0x10, 0, NULL, NULL, &v) == 0 && v == 1;
        double d = 0;
        ok = ok && attr_at(sp, sn, 0x4a, 5, key, &any, &an) &&
             field(any, an, 0x21, 0, NULL, NULL, &v) == 0 && (memcpy(&d, &v, 8), d == 2.5);
        ok = ok && attr_at(sp, sn, 0x4a, 6, key, &any, &an) && field_is(any, an, 0x0a, 0, val);
        ok = ok && field(sp, sn, 0x4a, 7, NULL, NULL, NULL) == -1;
      }
      if (!ok && !bad++)
        CHECK(!"an attribute reads back other than it went in");
      if (!ok)
        fprintf(stderr, "  key %zu bytes, value %zu bytes\n", kn, vn);
      buf_free(&direct);
      free(key), free(val), free(arr);
    }
  }
  CHECK_INT(bad, 0);

  TEST("protobuf attributes: text not ASCII at each end of each length class");
  static const struct {
    const char *tail, *want; /* the value's last bytes, and as written */
  } TAILS[] = {
      {"\xc3\xa9", "\xc3\xa9"},         /* UTF-8: the same length, copied again */
      {"\xff", "\xef\xbf\xbd"},         /* not UTF-8: U+FFFD, two bytes more */
      {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"}, /* a cut sequence */
  };
  for (size_t t = 0; t < sizeof TAILS / sizeof TAILS[0]; t++) {
    for (size_t vi = 0; vi < sizeof VALUES / sizeof VALUES[0]; vi++) {
      size_t vn = VALUES[vi], tn = strlen(TAILS[t].tail);
      if (vn < tn)
        continue;
      char *val = exact(vn, 'v', TAILS[t].tail), *want = malloc(vn - tn + strlen(TAILS[t].want) + 1);
      if (!want)
        abort();
      memcpy(want, val, vn - tn);
      memcpy(want + vn - tn, TAILS[t].want, strlen(TAILS[t].want) + 1);
      const struct span_attr attrs[] = {SPAN_STR("gen_ai.response.finish_reasons", val),
                                        SPAN_STRINGS("k", val)};
      struct span s = {.ctx = &c, .name = "n", .kind = SPAN_SERVER, .end_ns = 1, .attrs = attrs,
                       .n_attrs = 2};
      struct buf b = BUF_INIT;
      const unsigned char *sp, *any, *x;
      size_t sn, an, xn;
      CHECK_INT(span_pb(&b, &s), 0);
      CHECK(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL) == 0 &&
            attr_at(sp, sn, 0x4a, 0, "gen_ai.response.finish_reasons", &any, &an) &&
            field_is(any, an, 0x0a, 0, want));
      CHECK(attr_at(sp, sn, 0x4a, 1, "k", &any, &an) && field(any, an, 0x2a, 0, &x, &xn, NULL) == 0 &&
            field(x, xn, 0x0a, 0, &x, &xn, NULL) == 0 && field_is(x, xn, 0x0a, 0, want));
      buf_free(&b);
      free(val), free(want);
    }
  }
  TEST("protobuf attributes: a byte not UTF-8 in the middle, 1 to 40 bytes");
  for (size_t vn = 1; vn <= 40; vn++) {
    char *val = exact(vn, 'm', NULL), want[48];
    val[vn / 2] = '\xff';
    memcpy(want, val, vn / 2);
    memcpy(want + vn / 2, "\xef\xbf\xbd", 3);
    memcpy(want + vn / 2 + 3, val + vn / 2 + 1, vn - vn / 2); /* and the NUL */
    const struct span_attr attrs[] = {SPAN_STR("k", val)};
    struct span s = {.ctx = &c, .name = "n", .kind = SPAN_SERVER, .end_ns = 1, .attrs = attrs,
                     .n_attrs = 1};
    struct buf b = BUF_INIT;
    const unsigned char *sp, *any;
    size_t sn, an;
    CHECK_INT(span_pb(&b, &s), 0);
    CHECK(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL) == 0 &&
          attr_at(sp, sn, 0x4a, 0, "k", &any, &an) && field_is(any, an, 0x0a, 0, want));
    buf_free(&b);
    free(val);
  }
}

/* url.full goes as trace_url_redact leaves it, whether or not it needed it. */
static void check_urls(void) {
  TEST("protobuf url.full: as trace_url_redact leaves it (as is without ?, #, @)");
  static char long_url[SPAN_URL_MAX + 2];
  static const char *URLS[] = {
      "http://127.0.0.1:19320/v1/models/deepseek-ai/deepseek-v3.1/predictions",
      "https://api.replicate.com/v1/predictions/abc", "http://h", "h", "",
      "https://user:pw@api.example/v1/p?token=x", "http://h/p?q=1", "http://h/p#frag",
      "http://u@h/p", "http://h/a@b", "http://h/a@b?c", "http://h?x@y", "http://h#@",
      long_url, long_url + 1, long_url + 2, /* 1,025, 1,024, 1,023 bytes: too long, and fits */
  };
  memcpy(long_url, "http://h/", 9);
  memset(long_url + 9, 'x', sizeof long_url - 10);
  long_url[sizeof long_url - 1] = '\0';
  struct trace_ctx c = ctx();
  for (size_t i = 0; i < sizeof URLS / sizeof URLS[0]; i++) {
    char want[SPAN_URL_MAX];
    int fits = trace_url_redact(want, sizeof want, URLS[i]) == 0;
    const struct span_attr attrs[] = {SPAN_URL("url.full", URLS[i]), SPAN_INT("after", 1)};
    struct span s = {.ctx = &c, .name = "n", .kind = SPAN_CLIENT, .end_ns = 1, .attrs = attrs,
                     .n_attrs = 2};
    struct buf b = BUF_INIT;
    const unsigned char *sp, *any;
    size_t sn, an;
    CHECK_INT(span_pb(&b, &s), 0);
    CHECK(field((const unsigned char *)b.data, b.len, 0x12, 0, &sp, &sn, NULL) == 0);
    if (fits)
      CHECK(attr_at(sp, sn, 0x4a, 0, "url.full", &any, &an) && field_is(any, an, 0x0a, 0, want));
    else /* left out: the next one is first */
      CHECK(attr_at(sp, sn, 0x4a, 0, "after", &any, &an));
    buf_free(&b);
  }
}

void suite_otlp_pb(void) {
  check_varint();
  check_span_bytes();
  check_batch();
  check_grow();
  check_lengths();
  check_urls();
}
