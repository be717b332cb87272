/* Traces: W3C trace context (the traceparent header) and the OTLP/HTTP JSON
 * encoding of spans. Pure: the caller supplies ids, clocks and attribute
 * values; the exporter (server/otlp.c) batches the encoded spans. */
#ifndef RP_TRACE_H
#define RP_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

#define TRACE_ID_LEN 16
#define SPAN_ID_LEN 8
/* "00-" 32 hex "-" 16 hex "-" 2 hex, and a NUL */
#define TRACEPARENT_LEN 55

/* Where a span sits: its trace, its own id, its parent's (all zero: a root). */
struct trace_ctx {
  unsigned char trace_id[TRACE_ID_LEN];
  unsigned char span_id[SPAN_ID_LEN];
  unsigned char parent_id[SPAN_ID_LEN];
  unsigned char flags;  /* trace-flags; bit 0: sampled */
  int active;           /* tracing is on: ids are set and traceparent goes upstream */
  int recording;        /* ... and this span is exported (sampled) */
  uint64_t start_ns;    /* unix nanoseconds when the span began */
};

/* Whether the span has a parent (its parent_id is not all zero). */
int trace_has_parent(const struct trace_ctx *c);

/* A client's traceparent: 0 and *trace_id, *parent_id, *flags filled, or -1
 * when it is absent or malformed (all-zero ids, upper-case hex, version ff,
 * a version-00 header with extra fields): then a new trace starts. */
int traceparent_parse(const char *s, unsigned char trace_id[TRACE_ID_LEN],
                      unsigned char parent_id[SPAN_ID_LEN], unsigned char *flags);
/* "00-<trace>-<span>-<flags>" into out (TRACEPARENT_LEN + 1 bytes). */
void traceparent_format(char out[TRACEPARENT_LEN + 1], const unsigned char trace_id[TRACE_ID_LEN],
                        const unsigned char span_id[SPAN_ID_LEN], unsigned char flags);

/* url without its query, fragment and user:password@ (which may carry
 * secrets), into out. Returns 0, or -1 when it does not fit. */
int trace_url_redact(char *out, size_t len, const char *url);

enum span_kind { SPAN_INTERNAL = 1, SPAN_SERVER = 2, SPAN_CLIENT = 3 };
/* SA_URL: a string shown as trace_url_redact leaves it (left out when too
 * long for that), redacted by the thread that encodes it; NUL-terminated
 * (slen is not read). */
enum span_attr_type { SA_STRING, SA_INT, SA_DOUBLE, SA_BOOL, SA_STRINGS, SA_URL };

/* One attribute; a NULL string value, or skip, leaves it out. 32 bytes: a
 * span's are written on the worker's stack for every request (and
 * span_pack copies them). */
struct span_attr {
  const char *key;        /* a literal needing no JSON escape (copied as it is;
                           * span_pack keeps the pointer) */
  const char *s;          /* SA_STRING, SA_URL; SA_STRINGS: one value (a one-element array) */
  union {
    long long i;          /* SA_INT, SA_BOOL */
    double d;             /* SA_DOUBLE */
  };
  uint32_t slen;          /* strlen(s) when known, else 0 (measured) */
  unsigned char type;     /* enum span_attr_type */
  unsigned char skip;
  unsigned char lit;      /* s is a literal needing no escape: span_pack keeps
                           * the pointer, the JSON copies it without a scan */
  unsigned char klen;     /* strlen(key), from the macros (0: measured, or over 255) */
};

/* What both encoders (JSON in trace.c, protobuf in otlp_pb.c) ask of an attribute. */
static inline int span_attr_stringy(const struct span_attr *a) {
  return a->type == SA_STRING || a->type == SA_STRINGS || a->type == SA_URL;
}
/* Neither skipped nor a string that is absent. */
static inline int span_attr_present(const struct span_attr *a) {
  return !a->skip && !(span_attr_stringy(a) && !a->s);
}
static inline size_t span_attr_slen(const struct span_attr *a) {
  return a->slen ? a->slen : strlen(a->s);
}
static inline size_t span_attr_klen(const struct span_attr *a) {
  return a->klen ? a->klen : strlen(a->key);
}
/* url.full's text, redacted on the thread that encodes it, at most this long. */
#define SPAN_URL_MAX 1024

/* The key's length is known at compile time. */
#define SPAN_KEY_(k) .key = (k), .klen = sizeof(k) - 1 < 256 ? sizeof(k) - 1 : 0
#define SPAN_STR(k, v) {SPAN_KEY_(k), .type = SA_STRING, .s = (v)}
#define SPAN_LIT(k, v) {SPAN_KEY_(k), .type = SA_STRING, .s = (v), .lit = 1}
#define SPAN_LIT_LEN(k, v, n) {SPAN_KEY_(k), .type = SA_STRING, .s = (v), .lit = 1, .slen = (n)}
#define SPAN_URL(k, v) {SPAN_KEY_(k), .type = SA_URL, .s = (v)}
#define SPAN_STRINGS(k, v) {SPAN_KEY_(k), .type = SA_STRINGS, .s = (v)}
/* The same with the value's length when the caller has it (0: measured). */
#define SPAN_STR_LEN(k, v, n) {SPAN_KEY_(k), .type = SA_STRING, .s = (v), .slen = (n)}
#define SPAN_STRINGS_LEN(k, v, n) {SPAN_KEY_(k), .type = SA_STRINGS, .s = (v), .slen = (n)}
#define SPAN_INT(k, v) {SPAN_KEY_(k), .type = SA_INT, .i = (v)}
#define SPAN_DOUBLE(k, v) {SPAN_KEY_(k), .type = SA_DOUBLE, .d = (v)}
#define SPAN_BOOL(k, v) {SPAN_KEY_(k), .type = SA_BOOL, .i = (v)}
#define SPAN_INT_IF(k, v, cond) {SPAN_KEY_(k), .type = SA_INT, .i = (v), .skip = !(cond)}
#define SPAN_BOOL_IF(k, v, cond) {SPAN_KEY_(k), .type = SA_BOOL, .i = (v), .skip = !(cond)}
#define SPAN_DOUBLE_IF(k, v, cond) {SPAN_KEY_(k), .type = SA_DOUBLE, .d = (v), .skip = !(cond)}

struct span {
  const struct trace_ctx *ctx; /* ids and start */
  const char *name;
  size_t name_len;             /* strlen(name) when known, else 0 (measured) */
  enum span_kind kind;
  uint64_t end_ns;
  int error;                   /* status ERROR (else UNSET) */
  const char *status_message;  /* with error, or NULL */
  const struct span_attr *attrs;
  size_t n_attrs;
};

/* The name's length: name_len when the caller knew it, else measured. */
static inline size_t span_name_len(const struct span *s) {
  return s->name_len ? s->name_len : strlen(s->name);
}

/* Append one OTLP JSON span object. 0, or -1 (out of memory). */
int span_json(struct buf *out, const struct span *s);

/* A span copied into one self-contained record appended to out (its string
 * values copied; attribute keys and SPAN_LIT values kept as pointers, so
 * they must be literals; skipped and absent attributes left out),
 * for another thread to encode later: the worker pays a copy, not the JSON.
 * 0, or -1 (out of memory, more than 32 attributes given). */
int span_pack(struct buf *out, const struct span *s);
/* Append the JSON of the packed record at rec (avail bytes from there);
 * *used: its size. 0, or -1 (a malformed record, out of memory). */
int span_packed_json(struct buf *out, const char *rec, size_t avail, size_t *used);

#define SPAN_PACK_MAX_ATTRS 32
/* The span of the packed record at rec (avail bytes from there), for an
 * encoder, read in place: its strings point into rec, its context is
 * copied to *ctx, and s->attrs points into the record, which holds only
 * the attributes present (none skipped, no absent string); one whose
 * string was copied (SA_STRING, SA_STRINGS, SA_URL, not lit) has s NULL
 * and slen set, its text
 * the next one at *values (values_len bytes in all, each NUL-terminated, in
 * attribute order). 0, or -1 (malformed). */
int span_view(const char *rec, size_t avail, struct span *s, struct trace_ctx *ctx,
              const char **values, size_t *values_len, size_t *used);

/* otlp_headers ("name=value,name=value", as OTEL_EXPORTER_OTLP_HEADERS:
 * blanks around names and values dropped, values %-decoded) as header lines
 * "Name: value", each NUL-terminated, appended to out; *n: how many. 0, or
 * -1 with err saying what is wrong (never a value: they hold secrets). */
int otlp_header_lines(const char *spec, struct buf *out, size_t *n, char *err, size_t errlen);

/* The ExportTraceServiceRequest around comma-separated span objects: the
 * opening (with service.name) and the closing. 0, or -1. */
int otlp_batch_open(struct buf *out, const char *service_name, const char *version);
int otlp_batch_close(struct buf *out);

#endif
