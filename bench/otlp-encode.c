/* The trace exporter's encodings in instructions, without a server: N
 * requests' spans as the bench's chat makes them (a SERVER span with the
 * GenAI attributes and a `create` CLIENT span; only the attributes shown, as
 * server/spans.c writes them) are queued as the worker queues them: for
 * http/json packed (do_pack), then encoded from the packed queue on the
 * exporter thread (enc_json); for http/protobuf written as Span messages
 * (do_pb), then wrapped in the envelope (enc_pb). bench/otlp-encode-instr.sh
 * builds it and counts each function with callgrind; the figures are per
 * request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../shared/otlp_pb.h"
#include "../shared/trace.h"

#define N 1000
static struct buf q = BUF_INIT, qpb = BUF_INIT;

/* Each span of N requests to queue (span_pack or span_pb). */
static void spans(struct buf *to, int (*queue)(struct buf *, const struct span *)) {
  struct trace_ctx c = {.start_ns = 1700000000000000001ull, .flags = 1, .active = 1, .recording = 1};
  memset(c.trace_id, 0x5a, 16); memset(c.span_id, 0x3c, 8);
  for (int i = 0; i < N; i++) {
    const struct span_attr attrs[] = {
      SPAN_LIT("gen_ai.operation.name", "chat"), SPAN_LIT_LEN("gen_ai.provider.name", "replicate", 9),
      SPAN_LIT_LEN("gen_ai.system", "replicate", 9), SPAN_STR("gen_ai.request.model", "deepseek-v3.1"),
      SPAN_STR("gen_ai.response.model", "deepseek-ai/deepseek-v3.1"),
      SPAN_STR("gen_ai.response.id", "qwertyuiopasdfghjklzxcvbnm"),
      SPAN_STRINGS("gen_ai.response.finish_reasons", "stop"),
      SPAN_INT("gen_ai.usage.input_tokens", 11), SPAN_INT("gen_ai.usage.output_tokens", 2),
      SPAN_STR("http.request.method", "POST"), SPAN_STR("http.route", "/v1/chat/completions"),
      SPAN_STR("url.path", "/v1/chat/completions"), SPAN_INT("http.response.status_code", 200),
      SPAN_STR("client.address", "127.0.0.1"),
      SPAN_STR("replicate_proxy.request_id", "0123456789abcdef0123"),
      SPAN_BOOL("replicate_proxy.stream", 0), SPAN_DOUBLE("replicate_proxy.cost_usd", 1.1424e-05),
      SPAN_INT("replicate_proxy.retries", 0),
    };
    struct span s = {.ctx = &c, .name = "chat deepseek-v3.1", .name_len = 18, .kind = SPAN_SERVER, .end_ns = c.start_ns + 5000000,
                     .attrs = attrs, .n_attrs = sizeof attrs / sizeof attrs[0]};
    if (queue(to, &s)) abort();
    const struct span_attr a2[] = {
      SPAN_LIT_LEN("http.request.method", "POST", 4),
      SPAN_URL("url.full", "http://127.0.0.1:19320/v1/models/deepseek-ai/deepseek-v3.1/predictions"),
      SPAN_INT("http.response.status_code", 201), SPAN_LIT_LEN("replicate_proxy.upstream_call", "create", 6),
    };
    struct trace_ctx c2 = c; memcpy(c2.parent_id, c.span_id, 8); c2.span_id[0] = 1;
    struct span s2 = {.ctx = &c2, .name = "replicate create", .name_len = 16, .kind = SPAN_CLIENT, .end_ns = c.start_ns + 4000000,
                      .attrs = a2, .n_attrs = sizeof a2 / sizeof a2[0]};
    if (queue(to, &s2)) abort();
  }
}
__attribute__((noinline)) void do_pack(void) { spans(&q, span_pack); }
__attribute__((noinline)) void do_pb(void) { spans(&qpb, span_pb); }
__attribute__((noinline)) size_t enc_json(struct buf *b) {
  if (otlp_batch_open(b, "replicate-proxy", "1.0")) abort();
  for (size_t at = 0, used = 0; at < q.len; at += used)
    if ((at && buf_append_char(b, ',')) || span_packed_json(b, q.data + at, q.len - at, &used)) abort();
  otlp_batch_close(b);
  return b->len;
}
__attribute__((noinline)) size_t enc_pb(struct buf *b) {
  struct otlp_pb_batch bt; size_t start;
  if (otlp_pb_batch_open(b, &bt, "replicate-proxy", "1.0")) abort();
  otlp_pb_batch_close(b, &bt, qpb.len, &start); /* the queue follows: no copy */
  return b->len - start + qpb.len;
}
int main(void) {
  struct buf j = BUF_INIT, p = BUF_INIT;
  /* the queue's buffer grown already, as the server's is after its first batches */
  if (buf_reserve(&q, 4 << 20) || buf_reserve(&qpb, 4 << 20)) abort();
  do_pack();
  do_pb();
  buf_reserve(&j, 4 << 20); buf_reserve(&p, 4 << 20);
  size_t nj = enc_json(&j), np = enc_pb(&p);
  printf("json %zu bytes/request, protobuf %zu bytes/request\n", nj / N, np / N);
  return 0;
}
