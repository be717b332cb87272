// bench/summary.mjs: the one table of issue 11's goals that `make bench` ends with.
// Fed JSON files in the shapes the benches write (fields copied from real runs of
// stream-bench, poll-latency, nginx-compare, gateway-bench and ops-bench, trimmed to
// what the table reads), with figures on each side of every threshold.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SUMMARY = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/summary.mjs');
const dir = mkdtempSync(join(tmpdir(), 'rp-bench-summary-'));
const write = (name, j) => writeFileSync(join(dir, name), JSON.stringify(j));

// Runs summary.mjs; returns its rows keyed by goal: { target, figure, status, source }.
function table(...args) {
  const out = execFileSync(process.execPath, [SUMMARY, ...args], { encoding: 'utf8' });
  const rows = {};
  for (const line of out.split('\n')) {
    const c = line.split(' | ').map((s) => s.trim());
    if (c.length === 5 && c[0] !== 'goal') rows[c[0]] = { target: c[1], figure: c[2], status: c[3], source: c[4] };
  }
  return { out, rows };
}

const streamRun = (label, mode, f) => ({
  label, mode, streams: 5000, completed: f.completed ?? 5000, maxOpen: 5000, tokensExpected: 200000,
  tokensReceived: 200000, failed: 0, errors: {}, holdMs: 14000,
  holdLatencyUs: { n: 1000, p50: 84.25, p99: 2407.2 }, latencyUs: { p50: 99, p99: 1930 },
  cpuSeconds: { proxy: f.cpu, fake: 9.1, fakestreams: 11.2, client: 20.4 },
  machine: { busyCores: 1.4, oursCores: 1.4, otherCores: 0.02 },
  ...(mode === 'proxy' ? {
    workers: f.workers, addedUs: { holdP50: f.holdP50, holdP99: f.holdP99, p50: 48, p99: 110 },
    watched: { rssAllOpenKb: f.hwmKb - 100, fdsAllOpen: 10421, threads: 4, rssMaxSampledKb: f.hwmKb, hwmKb: f.hwmKb, rssEndKb: 15820 },
  } : { addedUs: null, watched: null }),
});
const STREAM = {
  when: '2026-12-03T16:18:38.033Z',
  params: { streams: 5000, rampMs: 5000, tokens: 40, tokenDelay: 500, firstTokenDelay: 1000, workers: [1, 2], port: 19100, json: '', timeline: false, tls: true },
  runs: [
    streamRun('direct (no proxy)', 'direct', { cpu: undefined }),
    // 40 us/token (target < 40), 120 MB (target < 120), added hold p50 0.299 ms, p99 5 ms.
    streamRun('proxy --workers 1', 'proxy', { workers: 1, cpu: 8, hwmKb: 120 * 1024, holdP50: 299, holdP99: 5000 }),
    // Another worker count: not the run the goals (and the TLS comparison) read.
    streamRun('proxy --workers 2', 'proxy', { workers: 2, cpu: 1, hwmKb: 10 * 1024, holdP50: 1, holdP99: 1 }),
    // 60 us/token = 1.5x plain; 149 MB; one stream without [DONE].
    streamRun('TLS+h2 --workers 1', 'proxy', { workers: 1, cpu: 12, hwmKb: 149 * 1024, holdP50: 300, holdP99: 900, completed: 4999 }),
  ],
  wrongCaStatus: 502,
};
// stream-bench --pin: one plain run, the proxy alone on a core; added hold p50 0.3 ms (target < 0.3), p99 4.999 ms.
const STREAMPIN = { when: '2026-12-03T16:18:38.033Z', params: { ...STREAM.params, pin: true, workers: [1], tls: false },
  runs: [streamRun('direct (no proxy)', 'direct', { cpu: undefined }),
    streamRun('proxy --workers 1', 'proxy', { workers: 1, cpu: 7, hwmKb: 110 * 1024, holdP50: 300, holdP99: 4999 })] };
const pollCase = (key, durationMs, p50Ms, lateMaxPct) => ({ key, case: key, api: key.endsWith('legacy') ? 'text' : 'chat',
  durationMs, runs: 10, p50Ms, maxMs: p50Ms + 1, lateP50Ms: p50Ms - durationMs, lateMaxPct, pollsPerCall: 1 });
const POLL = {
  when: '2026-12-03T16:18:38.033Z', params: { runs: 10, poll_interval: '500ms' },
  cases: [pollCase('baseline', 0, 7, null), pollCase('complete-chat', 0, 20, null), pollCase('complete-legacy', 0, 20.1, null),
    pollCase('complete-responses', 0, 19.9, null), pollCase('complete-messages', 0, 21, null),
    pollCase('poll-300', 300, 309.1, 5.3), pollCase('poll-1000', 1000, 1069.8, 10), pollCase('poll-3000', 3000, 3050.6, 3.4)],
};
const ngx = (rps, p99, cpu, cpuSpread) => ({ rps, p50: 721, p99, others: 0.02, ...(cpu && { cpu, cpuSpread, vol: 0.01, inv: 0.2 }) });
const NGINX = {
  when: '2026-12-03T16:18:38.033Z', params: { duration: 5, conns: [16, 64], rounds: 4 },
  runs: [{ target: 'direct', conns: 16, round: 0, rps: 40000, p99_us: 1000, otherCores: 0.02 }],
  summary: {
    direct16: ngx(40000, 1000), nginx16: ngx(20000, 1500, 23, [-1, 2]), proxy16: ngx(10000, 1999, 46, [-15, 15]),
    direct64: ngx(40000, 3000), nginx64: ngx(20000, 3500, 23, [-1, 2]), proxy64: ngx(9800, 4000, 46.1, [-2, 15.1]),
  },
};
const wrk = (mode, conns, round, rps) => ({ mode, conns, round, rps, cpuUsPerReq: 45, p50_us: 700, p99_us: 8915, requests: rps * 10, errors: 0 });
const GATEWAY = {
  when: '2026-12-03T16:18:38.033Z', params: { duration: 10, conns: [16, 64], workers: 1, rounds: 3 },
  runs: [
    // medians: c=16 bare 10000, keys+limits+ledger 9000 (0.9x: met); c=64 9000 vs 8999 (NOT MET)
    ...[12000, 10000, 9000].map((rps, i) => wrk('bare', 16, i, rps)),
    ...[9000, 9500, 8000].map((rps, i) => wrk('keys+limits+ledger', 16, i, rps)),
    wrk('bare', 64, 0, 10000), wrk('keys+limits+ledger', 64, 0, 8999),
  ],
};
// ops-bench run with --conns 16 only: its c=64 row was not run.
const OPS = { when: '2026-12-03T16:18:38.033Z', params: { duration: 5, conns: [16], workers: 1, rounds: 1 },
  runs: [wrk('quiet', 16, 0, 10000), wrk('json+scrape+traces', 16, 0, 9500)] };

// gateway-instr --modes ops --json: 5,589 of a quiet 112,000 = 4.99% (target < 5%).
const opsRow = (mode, pct) => ({ mode, 'this build': { worker: 112000, all: 126000, exporter: 400, timed: 0,
  features: { access: 1734, flush: 18, metrics: 374, scrape: 226, spans: 3222 }, featuresAdded: pct * 1120, featuresPct: pct } });
const OPSINSTR = { when: '2026-12-03T16:18:38.033Z', params: { requests: 1000, modes: 'ops' },
  rows: [opsRow('quiet', 0), opsRow('json+scrape', 1.76), opsRow('json+scrape+traces', 4.99)] };

const FULL = '20261203T161900Z', NEWER = '20261203T170000Z';
write(`stream-${FULL}.json`, STREAM);
write(`streampin-${FULL}.json`, STREAMPIN);
write(`poll-${FULL}.json`, POLL);
write(`nginx-${FULL}.json`, NGINX);
write(`gateway-${FULL}.json`, GATEWAY);
write(`ops-${FULL}.json`, OPS);
write(`opsinstr-${FULL}.json`, OPSINSTR);
write(`nginx-${NEWER}.json`, NGINX); // a later `run.sh nginx` alone

describe('bench/summary.mjs: one table of the goals', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('decides met / NOT MET at each threshold, from the file that holds the figure', () => {
    const { rows } = table('--dir', dir, '--stamp', FULL);
    const expect = {
      '1 sync "processing", complete at once: chat': 'met',
      '1 same, legacy /v1/completions': 'NOT MET',
      '1 same, Responses /v1/responses': 'met',
      '1 same, Anthropic /v1/messages': 'NOT MET',
      '1 polling finds the end (chat)': 'met',
      '2 TLS+h2: every token delivered': 'NOT MET',
      '2 TLS+h2: peak RSS': 'met',
      '2 TLS+h2: CPU per token vs plain': 'met',
      '2 TLS: proxy trusting another CA': 'met',
      '3 plain: every token delivered': 'met',
      '3 plain: peak RSS': 'NOT MET',
      '3 plain: CPU per token': 'NOT MET',
      '3 plain: added latency per token p50 (hold)': 'met',
      '3 plain: added latency per token p99 (hold)': 'NOT MET',
      '3 the same p50, proxy alone on a core (--pin)': 'NOT MET',
      '3 the same p99, proxy alone on a core (--pin)': 'met',
      '3 non-streamed CPU/req vs nginx, c=16': 'met',
      '3 non-streamed CPU/req steady, c=16': 'met',
      '3 non-streamed req/s vs nginx, c=16': 'met',
      '3 non-streamed CPU/req vs nginx, c=64': 'NOT MET',
      '3 non-streamed CPU/req steady, c=64': 'NOT MET',
      '3 non-streamed req/s vs nginx, c=64': 'NOT MET',
      '3 non-streamed added p99 vs direct, c=16': 'met',
      '4 gateway (keys+limits+ledger) vs bare, c=16': 'met',
      '4 gateway (keys+limits+ledger) vs bare, c=64': 'NOT MET',
      'issue 10: metrics+JSON logs+traces vs quiet, c=16': 'met',
      'issue 10: metrics+JSON logs+traces vs quiet, c=64': 'not run',
      'issue 10: metrics+JSON logs+traces, instructions': 'met',
    };
    assert.deepEqual(Object.fromEntries(Object.entries(rows).map(([g, r]) => [g, r.status])), expect);
    assert.equal(rows['3 plain: CPU per token'].figure, '40.0 us');
    assert.equal(rows['3 plain: peak RSS'].figure, '120.0 MB');
    assert.equal(rows['2 TLS+h2: CPU per token vs plain'].figure, '1.50x (60.0 vs 40.0 us)');
    assert.equal(rows['2 TLS+h2: every token delivered'].figure, '4999/5000 streams, 200000/200000 tokens');
    assert.equal(rows['4 gateway (keys+limits+ledger) vs bare, c=16'].figure, '-10.0% req/s (9000 vs 10000), CPU/req +0.0%');
    assert.equal(rows['3 plain: peak RSS'].source, `stream-${FULL}.json`);
    assert.equal(rows['1 polling finds the end (chat)'].source, `poll-${FULL}.json`);
    assert.equal(rows['3 the same p99, proxy alone on a core (--pin)'].source, `streampin-${FULL}.json`);
    assert.equal(rows['3 the same p50, proxy alone on a core (--pin)'].figure, '0.300 ms');
    assert.equal(rows['issue 10: metrics+JSON logs+traces, instructions'].figure, '4.99% (5589 of 112000)');
  });

  it('without --stamp reads the newest run; parts it did not run say "not run", with no figure', () => {
    const { out, rows } = table('--dir', dir);
    assert.match(out, new RegExp(`run ${NEWER}`));
    for (const [goal, r] of Object.entries(rows)) {
      if (goal.startsWith('3 non-streamed')) {
        assert.equal(r.source, `nginx-${NEWER}.json`, goal);
        assert.notEqual(r.status, 'not run', goal);
      } else {
        assert.deepEqual([r.figure, r.status], ['-', 'not run'], goal);
      }
    }
    assert.equal(Object.keys(rows).length, 28);
  });

  it('a smaller stream run says so beside its figures; a run never all open has no hold figure', () => {
    const small = structuredClone(STREAM);
    small.params.streams = 200;
    for (const r of small.runs) r.streams = 200;
    small.runs[1].addedUs.holdP50 = null;
    write('small-stream.json', small);
    const { rows } = table('--stream', join(dir, 'small-stream.json'));
    assert.equal(rows['3 plain: peak RSS'].figure, '120.0 MB (200 streams, not 5,000)');
    assert.deepEqual([rows['3 plain: added latency per token p50 (hold)'].status, rows['3 plain: added latency per token p50 (hold)'].figure],
      ['no figure', 'no hold phase (streams never all open)']);
    assert.equal(rows['1 polling finds the end (chat)'].status, 'not run');
  });
});
