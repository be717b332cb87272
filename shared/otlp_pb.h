/* OTLP/HTTP protobuf (application/x-protobuf): an ExportTraceServiceRequest
 * written by hand in the protobuf wire format (varints, fixed64 and
 * length-delimited fields), no library: ids go as raw bytes and times and
 * integers as binary, where the JSON encoding spells them out as hex and
 * decimal text, most of its cost. Pure, like trace.c. */
#ifndef RP_OTLP_PB_H
#define RP_OTLP_PB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "trace.h"

#define PB_VARINT_MAX 10 /* bytes of the longest varint (a 64-bit value) */

/* v as a base-128 varint at o (low 7 bits first, the high bit set on all
 * but the last byte); returns the byte after it. Inline: most are one byte. */
static inline unsigned char *pb_varint(unsigned char *o, uint64_t v) {
  while (v >= 0x80) {
    *o++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *o++ = (unsigned char)v;
  return o;
}
/* How many bytes pb_varint writes for v (1 to 10). */
static inline size_t pb_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80)
    v >>= 7, n++;
  return n;
}

/* Append one Span message as the field ScopeSpans.spans (tag and length
 * included): the worker writes it into the exporter's queue, whose batch is
 * these fields one after another. 0, or -1 (out of memory: nothing
 * written). */
int span_pb(struct buf *out, const struct span *s);

/* A batch: otlp_pb_batch_open leaves room for the envelope and writes the
 * resource (service.name...) and scope; the spans (span_pb's) are appended,
 * or follow elsewhere (after: their bytes; 0 when appended); then
 * otlp_pb_batch_close writes the envelope's lengths, now known, in front.
 * The request body is out->data + *start on, then those after bytes.
 * 0, or -1 (out of memory). */
struct otlp_pb_batch {
  size_t begin, res_at, res_len, scope_at; /* offsets in out */
};
int otlp_pb_batch_open(struct buf *out, struct otlp_pb_batch *b, const char *service_name,
                       const char *version);
int otlp_pb_batch_close(struct buf *out, const struct otlp_pb_batch *b, size_t after,
                        size_t *start);

#endif
