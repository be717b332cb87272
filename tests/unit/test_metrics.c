#include <stdlib.h>
#include <string.h>

#include "../../shared/metrics.h"
#include "test.h"

/* The line "name value" (or "name{labels} value") is in the text. */
static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)); p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n')
      return 1;
  return 0;
}

void suite_metrics(void) {
  test_current = "route_of";
  CHECK_INT(metrics_route_of("/v1/chat/completions"), MR_CHAT);
  CHECK_INT(metrics_route_of("/chat/completions"), MR_CHAT);
  CHECK_INT(metrics_route_of("/v1/models/deepseek"), MR_MODELS);
  CHECK_INT(metrics_route_of("/metrics"), MR_METRICS);
  CHECK_INT(metrics_route_of("/v1/responses"), MR_RESPONSES);
  CHECK_INT(metrics_route_of("/v1/messages/count_tokens"), MR_MESSAGES);
  CHECK_INT(metrics_route_of("/v1/chat/completionsX"), MR_OTHER);

  /* Two workers' blocks sum in one scrape. */
  struct metrics_block *b[2];
  b[0] = malloc(sizeof *b[0]);
  b[1] = malloc(sizeof *b[1]);
  if (!b[0] || !b[1]) {
    CHECK(0);
    free(b[0]);
    free(b[1]);
    return;
  }
  metrics_block_init(b[0]);
  metrics_block_init(b[1]);
  struct metrics_request r = {MR_CHAT, 200, "deepseek", "team-a", 1, 2000000, 1, 500000, 1500000,
                              10, 100, 0.25};
  metrics_request_begin(b[0]);
  metrics_request_done(b[0], &r);
  metrics_request_begin(b[1]);
  metrics_request_done(b[1], &r);
  struct metrics_request bad = {MR_OTHER, 404, NULL, NULL, 0, 5000, 0, 0, 0, -1, -1, 0};
  metrics_request_begin(b[1]);
  metrics_request_done(b[1], &bad);
  struct metrics_request odd = {MR_CHAT, 418, "a\"b\\c", NULL, 0, 5000, 0, 0, 0, -1, -1, 0};
  metrics_request_begin(b[1]);
  metrics_request_done(b[1], &odd);
  metrics_request_begin(b[0]); /* still running */
  metrics_stream_opened(b[0]);
  metrics_upstream_call(b[0], MU_CREATE, 201, 0, 30000);
  metrics_upstream_call(b[1], MU_CREATE, 503, 0, 30000);
  metrics_upstream_call(b[1], MU_CREATE, 0, 1, 30000);
  metrics_upstream_call(b[1], MU_POLL, 429, 0, 20000000);
  metrics_retry(b[1], MU_CREATE);
  metrics_cancel(b[0], MC_STOP);

  metrics_refusal(b[0], "team-a", MF_TPM);
  metrics_refusal(b[1], "team-a", MF_TPM);
  metrics_refusal(b[1], NULL, MF_INVALID_KEY);
  metrics_redis_fallback(b[1]);
  struct metrics_process proc = {.version = "1.2.3", .start_time_s = 1700000000.0,
                                 .cpu_seconds = 1.5, .rss_bytes = 4096, .open_fds = 12,
                                 .max_fds = 1024, .circuit_state = 1, .has_ledger = 1,
                                 .ledger_queued = 3, .ledger_written = 40, .ledger_dropped = 2,
                                 .db_shared = 1, .db_up = 0, .redis_enabled = 1, .redis_up = 1};
  struct buf out;
  buf_init(&out);
  test_current = "render";
  CHECK_INT(metrics_render(&out, b, 2, &proc), 0);
  const char *t = out.data ? out.data : "";
  CHECK(has_line(t, "replicate_proxy_requests_total{route=\"chat\",model=\"deepseek\",status=\"200\"} 2"));
  CHECK(has_line(t, "replicate_proxy_requests_total{route=\"other\",model=\"\",status=\"404\"} 1"));
  CHECK(has_line(t, "replicate_proxy_requests_total{route=\"chat\",model=\"a\\\"b\\\\c\",status=\"other\"} 1"));
  CHECK(has_line(t, "replicate_proxy_requests_in_flight 1"));
  CHECK(has_line(t, "replicate_proxy_streams_open 1"));
  CHECK(has_line(t, "replicate_proxy_tokens_total{model=\"deepseek\",type=\"input\"} 20"));
  CHECK(has_line(t, "replicate_proxy_tokens_total{model=\"deepseek\",type=\"output\"} 200"));
  CHECK(has_line(t, "replicate_proxy_cost_usd_total{model=\"deepseek\"} 0.500000000"));
  CHECK(has_line(t, "replicate_proxy_upstream_requests_total{kind=\"create\",outcome=\"ok\"} 1"));
  CHECK(has_line(t, "replicate_proxy_upstream_requests_total{kind=\"create\",outcome=\"server_error\"} 1"));
  CHECK(has_line(t, "replicate_proxy_upstream_requests_total{kind=\"create\",outcome=\"transport_error\"} 1"));
  CHECK(has_line(t, "replicate_proxy_upstream_requests_total{kind=\"poll\",outcome=\"rate_limited\"} 1"));
  CHECK(has_line(t, "replicate_proxy_upstream_retries_total{kind=\"create\"} 1"));
  CHECK(has_line(t, "replicate_proxy_predictions_canceled_total{reason=\"stop\"} 1"));
  /* Histograms are cumulative: 2 s falls in le=2.5 and above, not in le=1. */
  CHECK(has_line(t, "replicate_proxy_request_duration_seconds_bucket{route=\"chat\",le=\"1\"} 1"));
  CHECK(has_line(t, "replicate_proxy_request_duration_seconds_bucket{route=\"chat\",le=\"2.5\"} 3"));
  CHECK(has_line(t, "replicate_proxy_request_duration_seconds_bucket{route=\"chat\",le=\"+Inf\"} 3"));
  CHECK(has_line(t, "replicate_proxy_request_duration_seconds_count{route=\"chat\"} 3"));
  CHECK(has_line(t, "replicate_proxy_request_duration_seconds_sum{route=\"chat\"} 4.005000"));
  CHECK(has_line(t, "gen_ai_server_time_to_first_token_seconds_bucket{le=\"0.5\"} 2"));
  CHECK(has_line(t, "gen_ai_server_time_to_first_token_seconds_bucket{le=\"0.25\"} 0"));
  CHECK(has_line(t, "gen_ai_server_time_to_first_token_seconds_count 2"));
  /* (2 s - 0.5 s) / 100 tokens = 15 ms per token. */
  CHECK(has_line(t, "gen_ai_server_time_per_output_token_seconds_bucket{le=\"0.01\"} 0"));
  CHECK(has_line(t, "gen_ai_server_time_per_output_token_seconds_bucket{le=\"0.025\"} 2"));
  /* overhead: 2 s - 1.5 s upstream; the two 5 ms requests with no upstream call count whole */
  CHECK(has_line(t, "replicate_proxy_overhead_seconds_bucket{le=\"0.01\"} 2"));
  CHECK(has_line(t, "replicate_proxy_overhead_seconds_bucket{le=\"0.5\"} 4"));
  CHECK(has_line(t, "replicate_proxy_overhead_seconds_count 4"));
  CHECK(has_line(t, "gen_ai_client_token_usage_bucket{gen_ai_token_type=\"output\",le=\"64\"} 0"));
  CHECK(has_line(t, "gen_ai_client_token_usage_bucket{gen_ai_token_type=\"output\",le=\"256\"} 2"));
  CHECK(has_line(t, "gen_ai_client_token_usage_sum{gen_ai_token_type=\"input\"} 20.000000"));
  CHECK(has_line(t, "replicate_proxy_upstream_duration_seconds_bucket{kind=\"poll\",le=\"10\"} 0"));
  CHECK(has_line(t, "replicate_proxy_upstream_duration_seconds_bucket{kind=\"poll\",le=\"20\"} 1"));
  CHECK(has_line(t, "replicate_proxy_build_info{version=\"1.2.3\"} 1"));
  CHECK(has_line(t, "replicate_proxy_circuit_state 1")); /* the process's, as given */
  CHECK(has_line(t, "replicate_proxy_refusals_total{key_alias=\"team-a\",reason=\"tpm\"} 2"));
  CHECK(has_line(t, "replicate_proxy_refusals_total{key_alias=\"\",reason=\"invalid_key\"} 1"));
  CHECK(has_line(t, "replicate_proxy_ledger_rows_written_total 40"));
  CHECK(has_line(t, "replicate_proxy_ledger_rows_queued 3"));
  CHECK(has_line(t, "replicate_proxy_ledger_rows_dropped_total 2"));
  CHECK(has_line(t, "replicate_proxy_database_up{backend=\"postgresql\"} 0"));
  CHECK(has_line(t, "replicate_proxy_redis_up 1"));
  CHECK(has_line(t, "replicate_proxy_redis_failure_mode{mode=\"open\"} 1"));
  CHECK(has_line(t, "replicate_proxy_redis_local_fallbacks_total 1"));
  /* By the gateway key's alias too; requests without a key under "". */
  CHECK(has_line(t, "replicate_proxy_key_requests_total{route=\"chat\",key_alias=\"team-a\",status=\"200\"} 2"));
  CHECK(has_line(t, "replicate_proxy_key_requests_total{route=\"other\",key_alias=\"\",status=\"404\"} 1"));
  CHECK(has_line(t, "replicate_proxy_key_tokens_total{key_alias=\"team-a\",type=\"output\"} 200"));
  CHECK(has_line(t, "replicate_proxy_key_cost_usd_total{key_alias=\"team-a\"} 0.500000000"));
  CHECK(has_line(t, "process_open_fds 12"));
  CHECK(has_line(t, "# TYPE replicate_proxy_requests_total counter"));
  /* No series is repeated: the model table merges names across blocks. */
  const char *first = strstr(t, "model=\"deepseek\",status=\"200\"");
  CHECK(first && !strstr(first + 1, "model=\"deepseek\",status=\"200\""));

  /* A worker's table is bounded: names past it count as "other". */
  /* A first byte in the same millisecond as the arrival still counts. */
  test_current = "ttft 0";
  metrics_block_init(b[0]);
  struct metrics_request fast = {MR_CHAT, 200, "m", NULL, 0, 0, 1, 0, 0, 1, 1, 0};
  metrics_request_done(b[0], &fast);
  buf_reset(&out);
  CHECK_INT(metrics_render(&out, b, 1, &proc), 0);
  CHECK(has_line(out.data, "gen_ai_server_time_to_first_token_seconds_count 1"));
  CHECK(has_line(out.data, "gen_ai_server_time_to_first_token_seconds_bucket{le=\"0.01\"} 1"));

  /* Sums are written from their integer digits: the same text as "%.6f",
   * also past the range where that is exact (printf's own there). */
  test_current = "sum text";
  static const uint64_t SUMS[] = {1, 999999, 1000000, 987654321987ull, (1ull << 51) - 1,
                                  (1ull << 51) + 12345, (1ull << 60) + 7};
  for (size_t i = 0; i < sizeof SUMS / sizeof SUMS[0]; i++) {
    metrics_block_init(b[0]);
    struct metrics_request one = {MR_MODELS, 200, NULL, NULL, 0, SUMS[i], 0, 0, 0,
                                  (long)(SUMS[i] % 1000000007u), -1, 0};
    metrics_request_done(b[0], &one);
    buf_reset(&out);
    CHECK_INT(metrics_render(&out, b, 1, &proc), 0);
    char want[160];
    snprintf(want, sizeof want, "replicate_proxy_request_duration_seconds_sum{route=\"models\"} %.6f",
             (double)SUMS[i] * 1e-6);
    CHECK(has_line(out.data, want));
    snprintf(want, sizeof want, "gen_ai_client_token_usage_sum{gen_ai_token_type=\"input\"} %.6f",
             (double)(SUMS[i] % 1000000007u));
    CHECK(has_line(out.data, want));
  }

  test_current = "bounded";
  metrics_block_init(b[0]);
  char name[32];
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof name, "m%d", i);
    struct metrics_request q = {MR_CHAT, 200, name, NULL, 0, 1000, 0, 0, 0, -1, -1, 0};
    metrics_request_done(b[0], &q);
  }
  buf_reset(&out);
  CHECK_INT(metrics_render(&out, b, 1, &proc), 0);
  t = out.data ? out.data : "";
  CHECK(has_line(t, "replicate_proxy_requests_total{route=\"chat\",model=\"m13\",status=\"200\"} 1"));
  CHECK(!strstr(t, "model=\"m14\""));
  CHECK(has_line(t, "replicate_proxy_requests_total{route=\"chat\",model=\"other\",status=\"200\"} 26"));
  buf_free(&out);
  free(b[0]);
  free(b[1]);
}
