// Operations overhead: the same binary, side by side in one run, at each concurrency:
//   quiet        log_level = warn: no access lines (the per-worker metrics counters
//                are always on: they cannot be turned off)
//   text-log     log_level = info, log_format = text (one line per request)
//   json+scrape  log_format = json (one JSON object per request) and GET /metrics
//                scraped every 200 ms during the run
//   json+scrape+traces  the same with otlp_endpoint set: a SERVER span per request and
//                a CLIENT span per upstream call, exported to an OTLP/HTTP receiver in
//                this process (it answers 200 and counts spans); exported and dropped
//                spans are read from /metrics at the end of each run
// wrk drives POST /v1/chat/completions; the upstream is nginx answering a fixed
// "succeeded" prediction (as bench/gateway-bench.mjs), so the proxy's own cost shows.
//
//   node bench/ops-bench.mjs [--proxy build/replicate-proxy] [--duration 10]
//        [--conns 16,64] [--workers 1] [--rounds 2] [--port 19400] [--json FILE]
//        [--log-file]
//
// --log-file sends the proxy's stderr (the access lines) to <tmpdir>/<mode>.log, as an
// operator's log file or journald would take it, instead of a pipe this node process
// must drain: on 2 cores the pipe's reader competes with the proxy for CPU.
//
// Modes are interleaved so drift on a shared machine hits them alike; the table
// gives the median round. A second table gives, per request, the proxy's write-family
// syscalls (/proc/<pid>/io syscw: the log's once-per-loop-iteration writes show as the
// difference from quiet) and its system CPU (the kernel side of those writes, which
// callgrind's instruction counts do not see).

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './proc.mjs';

// A process's write-family syscalls (syscw) and its system CPU seconds; null if gone.
function ioAndSys(pid) {
  try {
    const syscw = Number(/^syscw: (\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { syscw, sys: Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[12]) / 100 }; // stime, USER_HZ
  } catch { return null; }
}
import { parseOptions, report, runBench, runWrk, sleep, start, startStatic, stop, waitReady } from './rig.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = { proxy: path.join(here, '..', 'build', 'replicate-proxy'), duration: 10, conns: [16, 64], workers: 1,
  rounds: 2, threads: 2, port: 19400, json: '', logFile: false, nginx: 'nginx', wrk: 'wrk' };
parseOptions(o, { '--log-file': () => { o.logFile = true; } });
const STATIC = o.port, PROXY = o.port + 1, OTLP = o.port + 2;
const up = `http://127.0.0.1:${STATIC}`;
const log = (s) => process.stderr.write(`[ops] ${s}\n`);
// One proxy per mode for the whole run, each with its own database.
async function startMode(mode, dir) {
  const db = path.join(dir, `${mode.name}.db`);
  const key = 'r8_bench';
  const args = ['--listen', `127.0.0.1:${PROXY}`, '--upstream', up, '--workers', String(o.workers),
    '--shutdown_grace', '2s', '--database', db, '--replicate_api_token', 'r8_bench', ...mode.args];
  const extra = o.logFile ? { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, `${mode.name}.log`), 'w')] } : {};
  const p = start(o.proxy, args, `proxy-${mode.name}`, extra);
  const first = await waitReady(PROXY, key);
  if (!first.body.includes('"cost"')) throw new Error(`${mode.name}: unexpected reply ${first.body}`);
  return { p, key, db };
}

const MODES = [
  { name: 'quiet', args: ['--log_level', 'warn'] },
  { name: 'text-log', args: ['--log_level', 'info', '--log_format', 'text'] },
  { name: 'json+scrape', args: ['--log_level', 'info', '--log_format', 'json'], scrape: true },
  { name: 'json+scrape+traces', args: ['--log_level', 'info', '--log_format', 'json',
    '--otlp_endpoint', `http://127.0.0.1:${OTLP}`], scrape: true, traces: true },
];

// The OTLP/HTTP receiver: reads each POST and answers 200, as cheaply as it can
// (it shares the machine with the proxy); /metrics says how many spans arrived.
async function startReceiver() {
  const rx = { bytes: 0, posts: 0 };
  rx.server = http.createServer((req, res) => {
    req.on('data', (c) => { rx.bytes += c.length; });
    req.on('end', () => { rx.posts++; res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); });
  });
  await new Promise((r) => rx.server.listen(OTLP, '127.0.0.1', r));
  return rx;
}

// The exporter's counters at the end of a run.
function spanCounters() {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: PROXY, path: '/metrics', agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve({
        exported: Number(/^replicate_proxy_otlp_spans_exported_total (\d+)/m.exec(t)?.[1]),
        dropped: Number(/^replicate_proxy_otlp_spans_dropped_total (\d+)/m.exec(t)?.[1]),
      }));
    }).on('error', reject);
  });
}

// GET /metrics every 200 ms until stopped; counts the scrapes that answered 200.
function scraper() {
  const s = { n: 0, stop: false };
  const tick = () => {
    if (s.stop) return;
    http.get({ host: '127.0.0.1', port: PROXY, path: '/metrics', agent: false }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode === 200) s.n++; setTimeout(tick, 200); });
    }).on('error', () => setTimeout(tick, 200));
  };
  tick();
  return s;
}

async function main() {
  const upstream = startStatic(o, STATIC, 'opsbench');
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-opsbench-db-'));
  const results = { when: new Date().toISOString(), params: o, runs: [] };
  const rx = await startReceiver();
  try {
    await sleep(300);
    for (const c of o.conns) {
      for (let round = 0; round < o.rounds; round++) {
        for (const mode of MODES) {
          const m = await startMode(mode, dbDir);
          const cpu0 = cpuSeconds(m.p.pid), io0 = ioAndSys(m.p.pid);
          const sc = mode.scrape ? scraper() : null;
          const r = await runWrk(o, PROXY, c, m.key);
          if (sc) { sc.stop = true; r.scrapes = sc.n; }
          if (mode.traces) {
            await sleep(1500); // one flush period: the last batch goes out
            Object.assign(r, await spanCounters());
          }
          // CPU per request: robust on a shared machine, where req/s is not.
          r.cpuUsPerReq = ((cpuSeconds(m.p.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
          const io1 = ioAndSys(m.p.pid);
          if (io0 && io1) {
            r.writesPerReq = (io1.syscw - io0.syscw) / Math.max(1, r.requests);
            r.sysUsPerReq = ((io1.sys - io0.sys) * 1e6) / Math.max(1, r.requests);
          }
          const ex = await stop(m.p);
          r.mode = mode.name; r.conns = c; r.round = round; r.exit = ex.code ?? ex.sig;
          fs.rmSync(m.db, { force: true });
          log(`${mode.name.padEnd(19)} c=${c} round ${round}: ${Math.round(r.rps)} req/s, p99 ${(r.p99_us / 1000).toFixed(3)} ms, ${r.cpuUsPerReq.toFixed(1)} CPU us/req (${r.sysUsPerReq?.toFixed(1)} system), ${r.writesPerReq?.toFixed(3)} writes/req, errors ${r.errors}${r.scrapes !== undefined ? `, scrapes ${r.scrapes}` : ''}${mode.traces ? `, spans exported ${r.exported} dropped ${r.dropped} (receiver: ${rx.posts} POSTs, ${(rx.bytes / 1e6).toFixed(1)} MB in all)` : ''}`);
          results.runs.push(r);
        }
      }
    }
  } finally {
    await upstream.close();
    rx.server.close();
    fs.rmSync(dbDir, { recursive: true, force: true });
  }
  report(o, results, MODES, 'operations overhead (metrics, access logs, scrapes, traces)',
    'metrics + JSON logs + tracing cost under 5% of throughput');
  const med = (xs) => { const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : NaN; };
  const L = ['', '== write-family syscalls and system CPU per request (medians of the rounds; /proc/<pid>/io syscw, stime) =='];
  L.push('mode                | conns | writes/req | vs quiet | system us/req | vs quiet');
  for (const c of o.conns) {
    const at = (name, k) => med(results.runs.filter((r) => r.mode === name && r.conns === c).map((r) => r[k]));
    const qw = at(MODES[0].name, 'writesPerReq'), qs = at(MODES[0].name, 'sysUsPerReq');
    for (const mode of MODES) {
      const w = at(mode.name, 'writesPerReq'), sy = at(mode.name, 'sysUsPerReq');
      L.push([mode.name.padEnd(19), String(c).padStart(5), w.toFixed(3).padStart(10), (w - qw >= 0 ? '+' : '') + (w - qw).toFixed(3).padStart(7),
        sy.toFixed(1).padStart(13), ((sy - qs >= 0 ? '+' : '') + (sy - qs).toFixed(1)).padStart(8)].join(' | '));
    }
  }
  process.stdout.write(L.join('\n') + '\n');
}

runBench('ops-bench', main);
