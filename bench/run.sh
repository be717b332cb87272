#!/usr/bin/env bash
# replicate-proxy benchmarks: the single entry point (`make bench` runs it).
#
#   bash bench/run.sh            everything: streaming, then non-streaming
#   bash bench/run.sh stream     5,000 concurrent SSE streams: tokens, RSS, added latency per token
#   bash bench/run.sh http       non-streaming throughput and added latency vs nginx proxy_pass
#   bash bench/run.sh poll       non-streamed calls whose sync reply says "processing": time to answer
#   bash bench/run.sh gateway    the team gateway's cost: bare vs keys vs keys+limits+ledger, c=16 and c=64
#   bash bench/run.sh nginx      CPU per request against nginx proxy_pass, 1 worker each, interleaved rounds
#   bash bench/run.sh ops        operations' cost (metrics, JSON access lines, traces): throughput and CPU
#                                per request by mode, then worker instructions per request (callgrind)
#   bash bench/run.sh summary [STAMP]  re-print the goals table of the newest run (or of STAMP)
#
# Figures go to stdout (tables), progress to stderr, every figure as JSON to
# build/bench/<part>-<stamp>.json. Every run ends with ONE table of issue 11's goals
# (bench/summary.mjs): target, figure, met / NOT MET / not run. Knobs (environment):
#   BENCH_STREAMS=5000  BENCH_TOKENS=40  BENCH_TOKEN_DELAY=500  BENCH_RAMP_MS=0 (issue 11: opened at once)
#   BENCH_PIN=1 (0 = skip the plain stream run with the proxy alone on the last CPU, stream-bench --pin)
#   BENCH_STREAM_WORKERS=1,2  BENCH_TIMELINE=1 (per-second figures in the stream JSON)
#   BENCH_TLS=1 (0 = skip the stream run over TLS + HTTP/2 and the wrong-CA check)
#   BENCH_DURATION=10  BENCH_CONNS=1,16,64  BENCH_HTTP_WORKERS=1,2
#   BENCH_GATEWAY_CONNS=16,64  BENCH_GATEWAY_ROUNDS=2  BENCH_NGINX_ROUNDS=4  BENCH_OPS_ROUNDS=3
#   BENCH_QUIET_WAIT=120 (s to wait for other processes to stop using the CPU; 0 = don't)
#   PROXY_BIN=build/replicate-proxy
# Uses loopback ports 19100-19102 (streaming), 19200-19202 (non-streaming), 19300-19301 (gateway),
# 19320-19322 (instructions), 19400-19402 (ops), 19600-19603 (nginx).
# Installs what is missing (as root): nginx-light, wrk, nodejs, valgrind; builds the proxy if needed.
# nginx runs unprivileged (nobody) from a temporary prefix and config, never the system one.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."

part="${1:-all}"
case "$part" in
  all|stream|http|poll|gateway|nginx|ops) ;;
  # Only reads the JSON files: no dependencies, no quiet wait.
  summary) exec node bench/summary.mjs --dir build/bench ${2:+--stamp "$2"} ;;
  -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$self"; exit 0 ;;
  *) echo "usage: bash bench/run.sh [all|stream|http|poll|gateway|nginx|ops|summary [STAMP]]" >&2; exit 2 ;;
esac

log() { echo "[bench] $*" >&2; }

# ---- dependencies (only what is missing; apt needs root)
need_debs=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_debs="$need_debs nginx-light"
command -v wrk >/dev/null 2>&1 || need_debs="$need_debs wrk"
command -v node >/dev/null 2>&1 || need_debs="$need_debs nodejs"
command -v openssl >/dev/null 2>&1 || need_debs="$need_debs openssl" # the TLS run makes its own CA
command -v valgrind >/dev/null 2>&1 || need_debs="$need_debs valgrind" # instruction counts (ops)
if [ -n "$need_debs" ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing:$need_debs"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_debs >/dev/null
  else
    echo "missing Debian packages:$need_debs (run as root or install them)" >&2
    exit 1
  fi
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

PROXY_BIN="${PROXY_BIN:-build/replicate-proxy}"
if [ ! -x "$PROXY_BIN" ]; then
  log "building $PROXY_BIN"
  make --no-print-directory "$PROXY_BIN" >&2
fi

# ---- file descriptors: 5,000 streams need ~10,000 in the proxy and ~5,000 in the client
want_fds=20000
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  ulimit -Hn "$want_fds" 2>/dev/null || true
fi
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want_fds" ]; then ulimit -n "$want_fds"; else ulimit -n "$hard"; fi
log "open files limit: $(ulimit -n)"

mkdir -p build/bench
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

children=()
cleanup() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Runs one node script in the background (so a signal can stop it) and waits.
run_node() {
  node "$@" &
  local pid=$!
  children+=("$pid")
  wait "$pid"
}

quiet() {
  local wait_s="${BENCH_QUIET_WAIT:-120}"
  [ "$wait_s" = 0 ] && return 0
  run_node bench/wait-quiet.mjs --max-busy-cores 0.3 --max-wait "$wait_s"
}

echo "replicate-proxy benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "proxy: $PROXY_BIN ($("$PROXY_BIN" --version 2>/dev/null || echo '?')); $("$NGINX" -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); node $(node --version)"

if [ "$part" = all ] || [ "$part" = stream ]; then
  quiet
  log "streaming benchmark (about $(( (${BENCH_RAMP_MS:-0} + 1000 + ${BENCH_TOKENS:-40} * ${BENCH_TOKEN_DELAY:-500}) * 3 / 1000 + 10 )) s)"
  run_node bench/stream-bench.mjs --proxy "$PROXY_BIN" \
    --streams "${BENCH_STREAMS:-5000}" --tokens "${BENCH_TOKENS:-40}" \
    --token-delay "${BENCH_TOKEN_DELAY:-500}" --first-token-delay 1000 \
    --ramp-ms "${BENCH_RAMP_MS:-0}" --workers "${BENCH_STREAM_WORKERS:-1,2}" \
    --port 19100 --json "build/bench/stream-$stamp.json" ${BENCH_TIMELINE:+--timeline} \
    $([ "${BENCH_TLS:-1}" = 0 ] || echo --tls)
  if [ "${BENCH_PIN:-1}" != 0 ]; then
    # The same plain run with the proxy on a core of its own, as on its own
    # host: on 2 cores the fake and client otherwise queue it for a CPU.
    quiet
    log "streaming benchmark, proxy pinned alone to the last CPU"
    run_node bench/stream-bench.mjs --proxy "$PROXY_BIN" --pin \
      --streams "${BENCH_STREAMS:-5000}" --tokens "${BENCH_TOKENS:-40}" \
      --token-delay "${BENCH_TOKEN_DELAY:-500}" --first-token-delay 1000 \
      --ramp-ms "${BENCH_RAMP_MS:-0}" --workers 1 \
      --port 19100 --json "build/bench/streampin-$stamp.json"
  fi
fi

if [ "$part" = all ] || [ "$part" = poll ]; then
  quiet
  log "no fixed waits: non-streamed calls after a 'processing' sync reply"
  run_node bench/poll-latency.mjs --bin "$PROXY_BIN" --runs 10 --json "build/bench/poll-$stamp.json"
fi

if [ "$part" = all ] || [ "$part" = http ]; then
  quiet
  log "non-streaming benchmark"
  run_node bench/http-bench.mjs --proxy "$PROXY_BIN" --nginx "$NGINX" \
    --duration "${BENCH_DURATION:-10}" --conns "${BENCH_CONNS:-1,16,64}" \
    --workers "${BENCH_HTTP_WORKERS:-1,2}" --port 19200 --json "build/bench/http-$stamp.json"
fi
if [ "$part" = all ] || [ "$part" = gateway ]; then
  quiet
  log "gateway benchmark"
  run_node bench/gateway-bench.mjs --proxy "$PROXY_BIN" --nginx "$NGINX" \
    --duration "${BENCH_DURATION:-10}" --conns "${BENCH_GATEWAY_CONNS:-16,64}" \
    --rounds "${BENCH_GATEWAY_ROUNDS:-2}" --port 19300 --json "build/bench/gateway-$stamp.json"
fi
if [ "$part" = all ] || [ "$part" = nginx ]; then
  quiet
  log "CPU per request against nginx proxy_pass"
  run_node bench/nginx-compare.mjs --proxy "$PROXY_BIN" --nginx "$NGINX" \
    --duration 5 --conns "${BENCH_GATEWAY_CONNS:-16,64}" \
    --rounds "${BENCH_NGINX_ROUNDS:-4}" --port 19600 --json "build/bench/nginx-$stamp.json"
fi
if [ "$part" = all ] || [ "$part" = ops ]; then
  quiet
  log "operations' cost: metrics, JSON access lines, traces (access lines to a file, as in production)"
  run_node bench/ops-bench.mjs --proxy "$PROXY_BIN" --nginx "$NGINX" --log-file \
    --duration 5 --conns "${BENCH_GATEWAY_CONNS:-16,64}" --rounds "${BENCH_OPS_ROUNDS:-3}" \
    --port 19400 --json "build/bench/ops-$stamp.json"
  log "operations' cost in worker instructions (callgrind: repeatable on a busy machine)"
  run_node bench/gateway-instr.mjs --proxy "$PROXY_BIN" --nginx "$NGINX" --modes ops --port 19320 \
    --json "build/bench/opsinstr-$stamp.json"
fi
log "JSON: build/bench/*-$stamp.json"
run_node bench/summary.mjs --dir build/bench --stamp "$stamp"
