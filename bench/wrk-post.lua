-- wrk script for the non-streaming benchmark.
--   WRK_MODE=chat    POST /v1/chat/completions, an OpenAI request (to the proxy)
--   WRK_MODE=predict POST /v1/models/deepseek-ai/deepseek-v3.1/predictions with
--                    `Prefer: wait`, the request the proxy sends upstream (to the
--                    static upstream directly, or through nginx proxy_pass)
-- done() prints one JSON line with the figures (latencies in microseconds).

local mode = os.getenv("WRK_MODE") or "chat"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- WRK_KEY: the Bearer key (a gateway key in bench/gateway-bench.mjs).
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_KEY") or "r8_bench")
if mode == "chat" then
  wrk.path = "/v1/chat/completions"
  wrk.body = '{"model":"deepseek-v3.1","messages":[{"role":"user","content":"bench"}]}'
else
  wrk.path = "/v1/models/deepseek-ai/deepseek-v3.1/predictions"
  wrk.headers["Prefer"] = "wait"
  wrk.body = '{"input":{"prompt":"bench"}}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
