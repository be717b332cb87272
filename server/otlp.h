/* The OTLP/HTTP trace exporter (protobuf or JSON, otlp_protocol): encoded spans go into a bounded queue;
 * one background thread sends what is queued (every OTLP_FLUSH_MS, or at
 * once when OTLP_BATCH spans wait) and POSTs <otlp_endpoint>/v1/traces with libcurl. A full queue or a
 * failed POST drops spans (counted): a slow or absent collector never slows
 * a request. Unset otlp_endpoint: nothing starts and otlp_on() is 0. */
#ifndef RP_OTLP_H
#define RP_OTLP_H

#include <stdint.h>

#include "../shared/buf.h"
#include "../shared/config.h"
#include "../shared/trace.h"

#define OTLP_BATCH 512
#define OTLP_QUEUE_MAX 4096          /* spans waiting, at most */
#define OTLP_QUEUE_BYTES (4u << 20)  /* ... and their bytes */
#define OTLP_FLUSH_MS 1000
#define OTLP_POST_TIMEOUT_MS 2000
#define OTLP_STOP_BOUND_MS 2000 /* shutdown waits this long at most to flush */

/* Start the exporter (before the workers): batches as protocol says. 0, or
 * -1 (logged). */
int otlp_start(const char *endpoint, enum otlp_protocol protocol, const char *service_name,
               const char *version, const char *headers, double sample_ratio, int propagate);
/* Is tracing on? One relaxed load: the cost when it is off. */
int otlp_on(void);
/* Queue one span (protobuf: its Span message, span_pb; JSON: a copy,
 * span_pack, that the exporter thread encodes). Never waits for the
 * collector; drops (and counts) when the queue is full. */
void otlp_submit(const struct span *span);
/* Flush what is queued within bound_ms, stop the thread (after the workers). */
void otlp_stop(long bound_ms);
/* Spans POSTed with a 2xx answer, and dropped (queue full, POST failed). */
void otlp_counts(uint64_t *exported, uint64_t *dropped);

/* Do calls to Replicate carry a traceparent (otlp_propagate)? */
int otlp_propagating(void);
/* Is a trace started here recorded? By its id, as OpenTelemetry's
 * TraceIdRatioBased sampler: its last 8 bytes below ratio x 2^64. */
int otlp_sampled(const unsigned char trace_id[TRACE_ID_LEN]);
/* Fresh random ids (per-thread generator seeded from getrandom). */
void otlp_new_id(unsigned char *out, size_t n);
/* Unix time in nanoseconds. */
uint64_t otlp_now_ns(void);

#endif
