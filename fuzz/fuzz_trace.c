/* libFuzzer target for shared/trace.c and shared/otlp_pb.c: what a span
 * carries comes from clients (path, request id, model, key alias) and from
 * Replicate (prediction ids, URLs), so any bytes.
 * - trace_url_redact: the text fits, is no longer than the URL, and holds no
 *   query, fragment or userinfo;
 * - traceparent_parse: an accepted header formats back to one that parses
 *   to the same ids and flags;
 * - a span whose name, status message and attribute values are slices of
 *   the input: its protobuf (span_pb) is one ScopeSpans.spans field whose
 *   nested lengths add up exactly, every string in it valid UTF-8; its JSON
 *   (span_json) is valid UTF-8 with no raw control byte, and the same bytes
 *   as the packed record's (span_pack, span_packed_json).
 * Byte 0 picks the attribute types (two bits each); the rest is split at
 * '\x01' into: url, traceparent, name, status message, then values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/otlp_pb.h"
#include "../shared/trace.h"

/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!k || i + k > n)
      return 0;
    unsigned cp = k == 1 ? c : c & (0xff >> (k + 1));
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    static const unsigned MIN[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < MIN[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += k;
  }
  return 1;
}

static size_t varint(const unsigned char *p, const unsigned char *end, const unsigned char **next) {
  size_t v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    unsigned char b = *p++;
    v |= (size_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *next = p;
      return v;
    }
  }
  abort(); /* a varint that does not end */
}

/* The messages a span holds, for what each field is. */
enum msg { M_SPAN, M_KV, M_ANY, M_ARRAY, M_STATUS };

/* Walk a message's fields: every length lands inside it exactly, and its
 * strings (Span.name, KeyValue.key, AnyValue.string_value, Status.message)
 * are valid UTF-8. */
static void walk(const unsigned char *p, const unsigned char *end, enum msg m) {
  while (p < end) {
    size_t tag = varint(p, end, &p), field = tag >> 3;
    switch (tag & 7) {
    case 0:
      (void)varint(p, end, &p);
      break;
    case 2: {
      size_t n = varint(p, end, &p);
      if (n > (size_t)(end - p))
        abort();
      int string = (m == M_SPAN && field == 5) || (m == M_KV && field == 1) ||
                   (m == M_ANY && field == 1) || (m == M_STATUS && field == 2);
      if (string && !utf8_ok(p, n))
        abort();
      if (m == M_SPAN && field == 9)
        walk(p, p + n, M_KV);
      else if (m == M_SPAN && field == 15)
        walk(p, p + n, M_STATUS);
      else if ((m == M_KV && field == 2) || (m == M_ARRAY && field == 1))
        walk(p, p + n, M_ANY);
      else if (m == M_ANY && field == 5)
        walk(p, p + n, M_ARRAY);
      p += n;
      break;
    }
    case 1:   /* fixed64 */
    case 5: { /* fixed32 */
      ptrdiff_t w = (tag & 7) == 1 ? 8 : 4;
      if (end - p < w)
        abort();
      p += w;
      break;
    }
    default:
      abort();
    }
  }
  if (p != end)
    abort();
}

static void check_json(const struct buf *b) {
  if (!utf8_ok((const unsigned char *)b->data, b->len))
    abort();
  for (size_t i = 0; i < b->len; i++)
    if ((unsigned char)b->data[i] < 0x20)
      abort();
}

#define MAX_PARTS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned types = data[0];
  /* NUL-terminated copies of the parts */
  char *text = malloc(size);
  if (!text)
    return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  const char *part[MAX_PARTS] = {0};
  size_t n_parts = 0;
  for (char *p = text; n_parts < MAX_PARTS;) {
    part[n_parts++] = p;
    char *cut = memchr(p, '\x01', strlen(p));
    if (!cut)
      break;
    *cut = '\0';
    p = cut + 1;
  }

  char url[SPAN_URL_MAX];
  if (trace_url_redact(url, sizeof url, part[0]) == 0) {
    if (strlen(url) > strlen(part[0]) || strpbrk(url, "?#"))
      abort();
    const char *s = strstr(url, "://");
    const char *auth = s ? s + 3 : url;
    const char *at = strchr(auth, '@');
    if (at && at < auth + strcspn(auth, "/"))
      abort();
  }

  unsigned char tid[TRACE_ID_LEN], pid[SPAN_ID_LEN], flags;
  if (n_parts > 1 && traceparent_parse(part[1], tid, pid, &flags) == 0) {
    char tp[TRACEPARENT_LEN + 1];
    unsigned char tid2[TRACE_ID_LEN], pid2[SPAN_ID_LEN], flags2;
    traceparent_format(tp, tid, pid, flags);
    if (traceparent_parse(tp, tid2, pid2, &flags2) != 0 || memcmp(tid, tid2, sizeof tid) ||
        memcmp(pid, pid2, sizeof pid) || flags != flags2)
      abort();
  }

  struct trace_ctx ctx = {.trace_id = {1}, .span_id = {2}, .parent_id = {types & 1}, .flags = 1,
                          .active = 1, .recording = 1, .start_ns = 1000};
  struct span_attr attrs[8];
  size_t n = 0;
  for (size_t i = 4; i < n_parts && n < 8; i++, types >>= 2) {
    const char *v = part[i];
    switch (types & 3) {
    case 0: attrs[n++] = (struct span_attr)SPAN_STR("fuzz.string", v); break;
    case 1: attrs[n++] = (struct span_attr)SPAN_URL("url.full", v); break;
    case 2: attrs[n++] = (struct span_attr)SPAN_STRINGS("fuzz.strings", v); break;
    default: attrs[n++] = (struct span_attr)SPAN_INT("fuzz.int", (long long)strlen(v) - 3); break;
    }
  }
  struct span s = {.ctx = &ctx, .name = n_parts > 2 ? part[2] : "span", .kind = SPAN_SERVER,
                   .end_ns = 2000, .error = n_parts > 3, .status_message = n_parts > 3 ? part[3] : NULL,
                   .attrs = attrs, .n_attrs = n};

  struct buf pb = BUF_INIT, js = BUF_INIT, packed = BUF_INIT, js2 = BUF_INIT;
  if (span_pb(&pb, &s) == 0) {
    const unsigned char *p = (const unsigned char *)pb.data, *end = p + pb.len;
    if (pb.len < 2 || *p++ != 0x12)
      abort();
    size_t len = varint(p, end, &p);
    if (len != (size_t)(end - p))
      abort();
    walk(p, end, M_SPAN);
  }
  size_t used = 0;
  if (span_json(&js, &s) == 0) {
    check_json(&js);
    if (span_pack(&packed, &s) == 0 &&
        (span_packed_json(&js2, packed.data, packed.len, &used) != 0 || used != packed.len ||
         js2.len != js.len || memcmp(js.data, js2.data, js.len) != 0))
      abort();
  }
  buf_free(&pb);
  buf_free(&js);
  buf_free(&packed);
  buf_free(&js2);
  free(text);
  return 0;
}
