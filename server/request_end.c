#include "request_end.h"

#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "../shared/metrics.h"
#include "../shared/rand_pool.h"
#include "exchange.h"
#include "http.h"
#include "spans.h"

void request_id_assign(char out[REQUEST_ID_MAX + 1], const char *client_value) {
  if (access_log_request_id_ok(client_value)) {
    snprintf(out, REQUEST_ID_MAX + 1, "%s", client_value);
    return;
  }
  unsigned char rnd[REQUEST_ID_RANDOM];
  if (rand_pool_fill(rnd, sizeof rnd) != 0) {
    /* No entropy yet (early boot): unique enough for a log id. */
    static _Thread_local unsigned long long x;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    x += (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^ (uintptr_t)out;
    for (size_t i = 0; i < sizeof rnd; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      rnd[i] = (unsigned char)x;
    }
  }
  access_log_new_request_id(out, rnd);
}

void request_end_begin(struct http_request *hr) {
  struct metrics_block *b = http_request_worker(hr)->up.metrics;
  if (b)
    metrics_request_begin(b);
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns *lens: the entry's string lengths when the JSON line measured
 * them, else NULL. */
static const struct access_log_lens *write_log(const struct config *cfg,
                                               const struct access_log_entry *e,
                                               struct access_log_lens *lens) {
  if (cfg->log_level < LOG_INFO)
    return NULL;
  if (cfg->log_format == LOG_FORMAT_JSON) {
    log_access_json(e, lens); /* the bare object: a JSON line has no text prefix */
    return lens;
  }
  log_access_text(e);
  return NULL;
}

/* log_bodies: the body and the answer, clipped, every key and token the
 * request or the config holds redacted. 0, or -1 (OOM: logged without). */
static int clip_bodies(struct http_request *hr, const struct config *cfg,
                       const struct exchange_summary *s, struct buf *body, struct buf *answer,
                       struct access_log_entry *e) {
  const char *auth = http_request_header(hr, "Authorization");
  if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
    auth += 7;
  const char *secrets[] = {auth, http_request_header(hr, "x-api-key"), cfg->master_key,
                           cfg->replicate_api_token};
  size_t n = sizeof secrets / sizeof secrets[0];
  size_t len = 0;
  const char *b = http_request_body(hr, &len);
  if (access_log_clip(body, b, len, ACCESS_LOG_BODY_MAX, secrets, n, &e->request_body_cut) != 0 ||
      access_log_clip(answer, s->output ? s->output : "", s->output ? s->output_len : 0,
                      ACCESS_LOG_BODY_MAX, secrets, n, &e->answer_cut) != 0)
    return -1;
  e->request_body = body->data;
  e->answer = answer->data;
  e->answer_cut |= s->output_cut;
  return 0;
}

void request_end_observe(struct http_request *hr) {
  const struct config *cfg = http_request_config(hr);
  struct http_request_end end = http_request_end_info(hr);
  uint64_t now = loop_now_ms();
  uint64_t dur_ms = now - end.started_ms;
  struct timespec mono;
  clock_gettime(CLOCK_MONOTONIC, &mono); /* loop_now_ms's clock, in us */
  uint64_t now_us = (uint64_t)mono.tv_sec * 1000000u + (uint64_t)mono.tv_nsec / 1000u;
  uint64_t dur_us = now_us > end.started_ms * 1000 ? now_us - end.started_ms * 1000 : 0;
  struct metrics_request r = {
      .route = metrics_route_of(http_request_path(hr)),
      .key_alias = http_request_key_alias(hr), /* the gateway settled before this */
      /* nginx's 499: the client left before any answer */
      .status = end.client_gone && !end.first_byte_ms ? 499 : end.status,
      .duration_us = dur_us,
      .first_byte = end.first_byte_ms != 0,
      .ttft_us = end.first_byte_ms ? (end.first_byte_ms - end.started_ms) * 1000 : 0,
      .input_tokens = -1,
      .output_tokens = -1,
  };
  struct exchange_summary s = {0};
  if (end.ex) {
    exchange_summary(end.ex, &s);
    r.model = s.model;
    r.stream = s.stream;
    r.input_tokens = s.prompt_tokens;
    r.upstream_us = s.upstream_us;
    r.output_tokens = s.completion_tokens;
    r.cost_usd = ((double)(s.prompt_tokens > 0 ? s.prompt_tokens : 0) * cfg->input_price_per_mtok +
                  (double)(s.completion_tokens > 0 ? s.completion_tokens : 0) *
                      cfg->output_price_per_mtok) / 1e6;
  }
  struct metrics_block *b = http_request_worker(hr)->up.metrics;
  if (b) {
    if (s.stream_opened)
      metrics_stream_closed(b);
    metrics_request_done(b, &r);
  }
  char client[64];
  struct access_log_entry e = {
      .request_id = http_request_id(hr),
      .time_unix = wall_now() - (double)dur_ms / 1e3,
      .client = http_request_client_addr(hr, client, sizeof client) == 0 ? client : NULL,
      .method = http_request_is_head(hr) ? "HEAD" : http_request_method(hr),
      .path = http_request_path(hr),
      .route = metrics_route_name(r.route),
      .key_alias = http_request_key_alias(hr),
      .model = r.model,
      .stream = r.stream,
      .status = r.status,
      .client_gone = end.client_gone,
      .prompt_tokens = r.input_tokens,
      .completion_tokens = r.output_tokens,
      .cost_usd = r.cost_usd,
      .ttfb_ms = end.first_byte_ms ? (long)(end.first_byte_ms - end.started_ms) : -1,
      .duration_ms = (long)dur_ms,
      .retries = s.retries,
      .finish_reason = s.finish_reason,
      .prediction_id = s.prediction_id,
      /* the exchange's failure (also one sent mid-stream), else the error answered */
      .error_code = s.error_code ? s.error_code : end.error_code,
      .upstream_ms = s.upstream_us ? (long)(s.upstream_us / 1000) : -1,
  };
  struct buf body = BUF_INIT, answer = BUF_INIT;
  if (cfg->log_bodies && cfg->log_format == LOG_FORMAT_JSON && cfg->log_level >= LOG_INFO &&
      clip_bodies(hr, cfg, &s, &body, &answer, &e) != 0) {
    e.request_body = e.answer = NULL;
    log_msg(LOG_WARN, "out of memory: the access line goes without its bodies");
  }
  struct access_log_lens lens;
  const struct access_log_lens *measured = write_log(cfg, &e, &lens);
  if (http_request_trace(hr)->recording) {
    struct server_span_info x = {
        .operation = !r.model ? NULL : r.route == MR_COMPLETIONS ? "text_completion" : "chat",
        .http_route = r.route == MR_OTHER ? NULL : spans_route_template(http_request_path(hr)),
        .response_model = cfg->model,
        .failed = s.failed,
    };
    spans_request_end(http_request_trace(hr), &e, measured, &x);
  }
  buf_free(&body);
  buf_free(&answer);
}
