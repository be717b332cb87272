#include "spans.h"

#include <stddef.h>
#include <string.h>

#include "../shared/fit_text.h"
#include "../shared/num_text.h"
#include "otlp.h"
#include "upstream.h"

void spans_request_begin(struct trace_ctx *t, const char *traceparent) {
  memset(t, 0, sizeof *t);
  if (!otlp_on())
    return;
  if (traceparent_parse(traceparent, t->trace_id, t->parent_id, &t->flags) != 0) {
    /* a new trace: its id and the span's, neighbours, in one call */
    _Static_assert(offsetof(struct trace_ctx, span_id) ==
                       offsetof(struct trace_ctx, trace_id) + TRACE_ID_LEN,
                   "span_id follows trace_id");
    otlp_new_id((unsigned char *)t + offsetof(struct trace_ctx, trace_id),
                TRACE_ID_LEN + SPAN_ID_LEN);
    memset(t->parent_id, 0, SPAN_ID_LEN);
    t->flags = otlp_sampled(t->trace_id) ? 1 : 0;
  } else {
    otlp_new_id(t->span_id, SPAN_ID_LEN);
  }
  t->active = 1;
  t->recording = t->flags & 1; /* a client's "not sampled" is honoured */
  t->start_ns = otlp_now_ns();
}

const char *spans_route_template(const char *path) {
  static const struct {
    const char *prefix, *route;
  } TEMPLATES[] = {{"/v1/models/", "/v1/models/{model}"}, {"/models/", "/models/{model}"}};
  for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++)
    if (strncmp(path, TEMPLATES[i].prefix, strlen(TEMPLATES[i].prefix)) == 0)
      return TEMPLATES[i].route;
  return path;
}

/* "a b" (or a alone) into out, cut to fit; returns its length. */
static size_t join(char *out, size_t len, const char *a, const char *b) {
  size_t at = fit_str(out, len, 0, a);
  return b ? fit_str(out, len, fit_text(out, len, at, " ", 1), b) : at;
}

/* The attributes a span shows, appended to attrs[n] (each span's own array):
 * those left out are never written. */
#define ADD(...) (attrs[n++] = (struct span_attr)__VA_ARGS__)
#define ADD_IF(cond, ...) \
  do {                    \
    if (cond)             \
      ADD(__VA_ARGS__);   \
  } while (0)
#define SERVER_ATTRS 20
#define CLIENT_ATTRS 7

/* Decimal text of v in out, NUL-terminated. */
static void decimal(char out[NUM_DEC_MAX + 1], long v) { *num_i64(out, v) = '\0'; }

void spans_request_end(const struct trace_ctx *t, const struct access_log_entry *e,
                       const struct access_log_lens *lens, const struct server_span_info *x) {
  if (!t->recording)
    return;
  /* The access line's lengths when it measured them (0: span_pb measures). */
  static const struct access_log_lens unmeasured;
  const struct access_log_lens *l = lens ? lens : &unmeasured;
  char name[160];
  size_t name_len = x->operation && e->model ? join(name, sizeof name, x->operation, e->model)
                                             : join(name, sizeof name, e->method, x->http_route);
  /* HTTP semantic conventions: a server span is an error on 5xx (and here
   * on an error sent in-band in a stream), not on a client's 4xx. */
  int error = e->status >= 500 || x->failed;
  char status[NUM_DEC_MAX + 1] = ""; /* written only where a span shows it */
  if (error || e->status >= 400)
    decimal(status, e->status);
  int gen = x->operation != NULL;
  const char *error_type = !error && e->status < 400 ? NULL
                           : e->error_code           ? e->error_code
                           : e->status >= 400        ? status
                                                     : "_OTHER";
  /* Only the attributes shown are written (span_pack copies the array as it
   * is when none is left out): a non-completion's span has a third of them. */
  struct span_attr attrs[SERVER_ATTRS];
  size_t n = 0;
  if (gen) {
    ADD(SPAN_LIT("gen_ai.operation.name", x->operation));
    ADD(SPAN_LIT_LEN("gen_ai.provider.name", "replicate", sizeof "replicate" - 1));
    ADD(SPAN_LIT_LEN("gen_ai.system", "replicate", sizeof "replicate" - 1));
    ADD_IF(e->model, SPAN_STR_LEN("gen_ai.request.model", e->model, l->model));
    ADD_IF(x->response_model, SPAN_STR("gen_ai.response.model", x->response_model));
    ADD_IF(e->prediction_id,
           SPAN_STR_LEN("gen_ai.response.id", e->prediction_id, l->prediction_id));
    ADD_IF(e->finish_reason, SPAN_STRINGS_LEN("gen_ai.response.finish_reasons", e->finish_reason,
                                              l->finish_reason));
    /* unknown counts (-1) stay out */
    ADD_IF(e->prompt_tokens >= 0, SPAN_INT("gen_ai.usage.input_tokens", e->prompt_tokens));
    ADD_IF(e->completion_tokens >= 0,
           SPAN_INT("gen_ai.usage.output_tokens", e->completion_tokens));
  }
  ADD_IF(e->method, SPAN_STR_LEN("http.request.method", e->method, l->method));
  ADD_IF(x->http_route, SPAN_STR("http.route", x->http_route));
  ADD_IF(e->path, SPAN_STR_LEN("url.path", e->path, l->path));
  ADD(SPAN_INT("http.response.status_code", e->status));
  /* the error's code (invalid_api_key, upstream_error, prediction_failed...);
   * else the status, as the HTTP conventions have it */
  ADD_IF(error_type, SPAN_STR_LEN("error.type", error_type,
                                  error_type == e->error_code ? l->error_code : 0));
  ADD_IF(e->client, SPAN_STR_LEN("client.address", e->client, l->client));
  ADD_IF(e->request_id, SPAN_STR_LEN("replicate_proxy.request_id", e->request_id, l->request_id));
  ADD_IF(e->key_alias, SPAN_STR_LEN("replicate_proxy.key_alias", e->key_alias, l->key_alias));
  if (gen) {
    ADD(SPAN_BOOL("replicate_proxy.stream", e->stream));
    ADD(SPAN_DOUBLE("replicate_proxy.cost_usd", e->cost_usd));
    /* as http.request.resend_count: shown when there was one */
    ADD_IF(e->retries > 0, SPAN_INT("replicate_proxy.retries", e->retries));
  }
  struct span s = {.ctx = t, .name = name, .name_len = name_len, .kind = SPAN_SERVER,
                   .end_ns = otlp_now_ns(),
                   .error = error, .status_message = error ? (x->failed && e->status < 500
                                                                  ? "failed in the stream"
                                                                  : status)
                                                           : NULL,
                   .attrs = attrs, .n_attrs = n};
  otlp_submit(&s);
}

void spans_upstream_begin(struct up_transfer *t, const struct trace_ctx *parent,
                          char *traceparent_out) {
  traceparent_out[0] = '\0';
  t->span.active = t->span.recording = 0;
  if (!parent || !parent->active || !otlp_on())
    return;
  t->span = *parent;
  memcpy(t->span.parent_id, parent->span_id, SPAN_ID_LEN);
  otlp_new_id(t->span.span_id, SPAN_ID_LEN);
  t->span.start_ns = otlp_now_ns();
  if (otlp_propagating())
    traceparent_format(traceparent_out, t->span.trace_id, t->span.span_id, t->span.flags);
}

const struct trace_ctx *spans_parent(const struct up_transfer *t, struct trace_ctx *out) {
  if (!t->span.active)
    return NULL;
  *out = t->span;
  memcpy(out->span_id, t->span.parent_id, SPAN_ID_LEN);
  return out;
}

/* Each call's span name, "replicate <kind>", and its length (the encoders
 * need not measure it, nor the kind after "replicate "). */
#define KIND_NAME(s) {"replicate " s, sizeof "replicate " s - 1}
static const struct {
  const char *name;
  size_t len;
} KIND_NAMES[MU__N] = {KIND_NAME("create"), KIND_NAME("poll"), KIND_NAME("stream"),
                       KIND_NAME("cancel"), KIND_NAME("list")};

void spans_upstream_end(struct up_transfer *t, int stopped) {
  if (!t->span.recording || !t->easy)
    return;
  char *url = NULL;
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
  /* creates and cancels are POSTs, the rest GETs (kind_of in upstream.c) */
  int post = t->kind == MU_CREATE || t->kind == MU_CANCEL;
  int transport = !stopped && t->result != CURLE_OK && !t->aborted_by_callback;
  int error = transport || t->status >= 400;
  char status[NUM_DEC_MAX + 1] = ""; /* written only where the span shows it */
  if (error)
    decimal(status, t->status);
  const char *kind = KIND_NAMES[t->kind].name + sizeof "replicate";
  size_t kind_len = KIND_NAMES[t->kind].len - (sizeof "replicate");
  const char *error_type = transport ? up_result_phrase(t) : t->status >= 400 ? status : NULL;
  struct span_attr attrs[CLIENT_ATTRS];
  size_t n = 0;
  if (post)
    ADD(SPAN_LIT_LEN("http.request.method", "POST", 4));
  else
    ADD(SPAN_LIT_LEN("http.request.method", "GET", 3));
  /* redacted where it is encoded: protobuf here (no copy when there is
   * nothing to redact), JSON on the exporter thread */
  ADD_IF(url, SPAN_URL("url.full", url));
  ADD_IF(t->status > 0, SPAN_INT("http.response.status_code", t->status));
  ADD_IF(t->resend_count > 0, SPAN_INT("http.request.resend_count", t->resend_count));
  ADD_IF(error_type, SPAN_STR("error.type", error_type));
  ADD(SPAN_LIT_LEN("replicate_proxy.upstream_call", kind, kind_len));
  ADD_IF(stopped, SPAN_BOOL("replicate_proxy.upstream_stopped", 1));
  struct span s = {.ctx = &t->span, .name = KIND_NAMES[t->kind].name,
                   .name_len = KIND_NAMES[t->kind].len, .kind = SPAN_CLIENT,
                   .end_ns = otlp_now_ns(), .error = error,
                   .status_message = transport ? up_result_phrase(t) : error ? status : NULL,
                   .attrs = attrs, .n_attrs = n};
  otlp_submit(&s);
}
