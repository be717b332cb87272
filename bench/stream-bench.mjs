// Streaming benchmark: N concurrent SSE streams, direct from the fake vs through
// the proxy (one run per --workers value), same fake process, same client code.
//
//   node bench/stream-bench.mjs [--proxy build/replicate-proxy] [--streams 5000]
//        [--ramp-ms 5000] [--tokens 40] [--token-delay 500] [--first-token-delay 1000]
//        [--workers 1,2] [--port 19100] [--json FILE] [--timeline] [--tls] [--tls-only]
//        [--one-fake] [--pin]
//
// --tls: then one more proxy run (the first --workers value) against the same fake
// served over TLS with HTTP/2 (a CA made for the run, given as upstream_ca_file),
// and a check that a proxy trusting another CA is refused (502). --tls-only: the
// direct run and that TLS run only (no plain proxy runs), to iterate on TLS.
// The fake's API host and stream host run as two processes (stream-fake.mjs
// --role api / --role streams), so token writes and handshakes or creates do
// not wait for each other in one event loop; --one-fake runs both in one
// process, as before.
//
// --pin: the proxy alone on the last CPU, the fake and the client on the others
// (taskset), as when the proxy has its own host: on this 2-core machine the
// three node processes otherwise take the proxy's core from it and its
// run-queue wait, not its own path, sets the added median. The direct run is
// pinned the same way.
//
// Ports used: port (fake API), port+1 (fake streams), port+2 (proxy).
// Prints a table on stdout; --json also writes every figure to FILE (with
// --timeline: per-second latency, open streams, proxy CPU/run-queue wait/RSS).
// Bounded: each client run ends by its own timeout (stream length + ramp + 60 s).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = {
  proxy: path.join(here, '..', 'build', 'replicate-proxy'),
  streams: 5000, rampMs: 5000, tokens: 40, tokenDelay: 500, firstTokenDelay: 1000,
  workers: [1, 2], port: 19100, json: '', timeline: false,
};
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    switch (a[i]) {
      case '--proxy': o.proxy = v(); break;
      case '--streams': o.streams = Number(v()); break;
      case '--ramp-ms': o.rampMs = Number(v()); break;
      case '--tokens': o.tokens = Number(v()); break;
      case '--token-delay': o.tokenDelay = Number(v()); break;
      case '--first-token-delay': o.firstTokenDelay = Number(v()); break;
      case '--workers': o.workers = v().split(',').map(Number); break;
      case '--port': o.port = Number(v()); break;
      case '--json': o.json = v(); break;
      case '--timeline': o.timeline = true; break;
      case '--tls': o.tls = true; break;
      case '--tls-only': o.tls = true; o.tlsOnly = true; break;
      case '--one-fake': o.oneFake = true; break;
      case '--pin': o.pin = true; break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
}

const FAKE_API = o.port, FAKE_STREAM = o.port + 1, PROXY = o.port + 2;
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const LAST_CPU = os.cpus().length - 1;
function start(cmd, args, name) {
  // taskset execs the command: the pid is the command's own, for /proc.
  const cpus = name.startsWith('proxy') ? String(LAST_CPU) : LAST_CPU > 1 ? `0-${LAST_CPU - 1}` : '0';
  const p = o.pin ? spawn('taskset', ['-c', cpus, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  p.name = name;
  p.stderrText = '';
  p.stderrLines = new Map(); // each distinct message (time, ids and numbers blanked) -> count
  let partial = '';
  p.stderr.on('data', (d) => {
    if (p.stderrText.length < 20000) p.stderrText += d;
    if (process.env.BENCH_STDERR_DIR) fs.appendFileSync(path.join(process.env.BENCH_STDERR_DIR, `${name}.log`), d);
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      const k = line.replace(/^\S+Z /, '').replace(/ rid=\S+/g, '').replace(/\b[a-z0-9]{20,}\b/g, 'ID').replace(/\d+/g, 'N');
      if (p.stderrLines.size < 200 || p.stderrLines.has(k)) p.stderrLines.set(k, (p.stderrLines.get(k) ?? 0) + 1);
    }
  });
  p.exited = new Promise((r) => p.on('exit', (code, sig) => { children.delete(p); r({ code, sig }); }));
  return p;
}

async function stop(p, graceMs = 5000) {
  if (!children.has(p)) return p.exited;
  p.kill('SIGTERM');
  const t = setTimeout(() => { if (children.has(p)) p.kill('SIGKILL'); }, graceMs);
  const r = await p.exited;
  clearTimeout(t);
  return r;
}

function waitLine(p, re, ms) {
  return new Promise((ok, ko) => {
    let buf = '';
    const t = setTimeout(() => ko(new Error(`${p.name}: no ${re} within ${ms} ms; stderr: ${p.stderrText}`)), ms);
    p.stdout.on('data', (d) => {
      buf += d;
      if (re.test(buf)) { clearTimeout(t); ok(buf); }
    });
    p.once('exit', () => { clearTimeout(t); ko(new Error(`${p.name} exited; stderr: ${p.stderrText}`)); });
  });
}

async function waitHttp(port, pathName, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const ok = await new Promise((r) => {
      const req = http.get({ host: '127.0.0.1', port, path: pathName, agent: false }, (res) => { res.resume(); r(res.statusCode === 200); });
      req.on('error', () => r(false));
      req.setTimeout(1000, () => { req.destroy(); r(false); });
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}${pathName}`);
}

async function runClient(args) {
  const streamMs = o.firstTokenDelay + o.tokens * o.tokenDelay;
  const timeoutMs = o.rampMs + streamMs + 60000;
  const c = start(process.execPath, [path.join(here, 'stream-client.mjs'), ...args,
    '--streams', String(o.streams), '--ramp-ms', String(o.rampMs), '--tokens', String(o.tokens),
    '--timeout-ms', String(timeoutMs), ...(o.timeline ? ['--timeline'] : [])], 'client');
  let out = '';
  c.stdout.on('data', (d) => { out += d; });
  const r = await c.exited;
  if (r.code !== 0) throw new Error(`client failed (${r.code ?? r.sig}): ${c.stderrText}`);
  return JSON.parse(out.trim().split('\n').pop());
}

const results = { when: new Date().toISOString(), params: { ...o, proxy: undefined }, runs: [] };

async function proxyRun(fake, w, upstream, extra, label) {
  const px = start(o.proxy, ['--listen', `127.0.0.1:${PROXY}`, '--upstream', upstream,
    '--workers', String(w), '--poll_interval', '20ms', '--log_level', 'warn', '--shutdown_grace', '2s', ...extra], 'proxy');
  await waitHttp(PROXY, '/health', 10000);
  const r = await runClient(['--mode', 'proxy', '--url', `http://127.0.0.1:${PROXY}`, '--watch-pid', String(px.pid),
    '--cpu-pids', `proxy=${px.pid},${fakeCpuPids(fake)}`]);
  r.label = label;
  r.workers = w;
  r.proxyStderr = px.stderrText.slice(0, 4000);
  r.proxyMessages = Object.fromEntries([...px.stderrLines].sort((a, b) => b[1] - a[1]));
  const ex = await stop(px);
  r.proxyExit = ex.code ?? ex.sig;
  results.runs.push(r);
  await sleep(1500);
  return r;
}

// One non-streamed request through a proxy that trusts another CA: must be 502.
async function wrongCaCheck(upstream, caFile) {
  const px = start(o.proxy, ['--listen', `127.0.0.1:${PROXY}`, '--upstream', upstream, '--upstream_ca_file', caFile,
    '--replicate_api_token', 'r8_bench', '--log_level', 'error', '--shutdown_grace', '1s'], 'proxy-wrong-ca');
  await waitHttp(PROXY, '/health', 10000);
  const status = await new Promise((r) => {
    const req = http.request({ host: '127.0.0.1', port: PROXY, method: 'POST', path: '/v1/chat/completions', agent: false,
      headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); res.on('end', () => r(res.statusCode)); });
    req.on('error', () => r(0));
    req.end(JSON.stringify({ model: 'deepseek-v3.1', messages: [{ role: 'user', content: 'x' }] }));
  });
  await stop(px);
  return status;
}

// The fake: {pid of each process, stop()}; `fake` is the API host's process
// (its CPU is "fake"), `streams` the stream host's when it has its own.
async function startFakes(tlsDir) {
  const scenario = { firstTokenDelay: o.firstTokenDelay, tokenDelay: o.tokenDelay, tokenCount: o.tokens };
  const common = ['--scenario', JSON.stringify(scenario), ...(tlsDir ? ['--tls-dir', tlsDir, '--http2'] : [])];
  const script = path.join(here, 'stream-fake.mjs');
  const api = start(process.execPath, [script, '--port', String(FAKE_API), '--stream-port', String(FAKE_STREAM), ...common,
    ...(tlsDir ? ['--tls-make'] : []), ...(o.oneFake ? [] : ['--role', 'api', '--stream-base', `${tlsDir ? 'https' : 'http'}://127.0.0.1:${FAKE_STREAM}`])], 'fake');
  await waitLine(api, /^ready /m, 10000); // made the CA first, if TLS
  let streams = null;
  if (!o.oneFake) {
    streams = start(process.execPath, [script, '--role', 'streams', '--stream-port', String(FAKE_STREAM), ...common], 'fake-streams');
    await waitLine(streams, /^ready /m, 10000);
  }
  return { pid: api.pid, streamsPid: streams?.pid, stop: async () => { await stop(api); if (streams) await stop(streams); } };
}
const fakeCpuPids = (fake) => `fake=${fake.pid}${fake.streamsPid ? `,fakestreams=${fake.streamsPid}` : ''}`;

async function main() {
  let fake = await startFakes(null);
  const log = (s) => process.stderr.write(`[stream] ${s}\n`);
  log(`${o.streams} streams, ramp ${o.rampMs} ms, ${o.tokens} tokens/stream, 1st token after ${o.firstTokenDelay} ms, then every ${o.tokenDelay} ms` +
    (o.oneFake ? ', fake in one process' : ', fake API and stream hosts in two processes'));

  log('direct: client -> fake');
  const direct = await runClient(['--mode', 'direct', '--url', `http://127.0.0.1:${FAKE_API}`, '--cpu-pids', fakeCpuPids(fake)]);
  direct.label = 'direct (no proxy)';
  results.runs.push(direct);
  await sleep(1500);

  for (const w of o.tlsOnly ? [] : o.workers) {
    log(`proxy --workers ${w}: client -> proxy -> fake`);
    await proxyRun(fake, w, `http://127.0.0.1:${FAKE_API}`, [], `proxy --workers ${w}`);
  }
  await fake.stop();
  if (o.tls) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-bench-tls-'));
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-bench-ca2-'));
    fake = await startFakes(dir);
    const upstream = `https://127.0.0.1:${FAKE_API}`;
    const w = o.workers[0];
    log(`proxy --workers ${w}: client -> proxy -> fake over TLS + HTTP/2`);
    await proxyRun(fake, w, upstream, ['--upstream_ca_file', path.join(dir, 'ca.pem')], `TLS+h2 --workers ${w}`);
    // Another CA, made with the same helper the fake uses.
    const { makeTestCA } = await import('../tests/fake-replicate.mjs');
    const other = makeTestCA(otherDir, { cn: 'another CA' });
    results.wrongCaStatus = await wrongCaCheck(upstream, other.caFile);
    log(`proxy trusting another CA: HTTP ${results.wrongCaStatus}`);
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(otherDir, { recursive: true, force: true });
  }
  report();
}

function fakeCpu(r) {
  const a = r.cpuSeconds.fake, b = r.cpuSeconds.fakestreams;
  return `${a?.toFixed(2) ?? '-'}${b === undefined ? '' : `+${b?.toFixed(2) ?? '-'}`}`;
}
function ms(us) { return us === null || us === undefined ? '-' : (us / 1000).toFixed(3); }
function mb(kb) { return kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1); }

function report() {
  const d = results.runs[0];
  const L = [];
  const row = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ');
  L.push('');
  L.push(`== streaming: ${o.streams} concurrent streams x ${o.tokens} tokens, 1 token per ${o.tokenDelay} ms per stream, ramp-up ${o.rampMs} ms${o.pin ? `, pinned: proxy CPU ${LAST_CPU}, fake + client the rest` : ''} ==`);
  L.push('latency = token received by the client - token written by the fake (same monotonic clock); added = proxy run - direct run');
  L.push('"hold" = tokens sent while all streams were open (after ramp-up, before the first stream ended); "all" = every token');
  const W1 = [18, 10, 15, 8, 6, 9, 9, 9, 9, 9, 9, 9];
  L.push(row(['run', 'streams ok', 'tokens rcv/exp', 'max open', 'hold s', 'hold tok/s', 'hold p50', 'hold p99', 'all p50', 'all p99', 'all p99.9', 'all max'], W1) + '   (latencies in ms)');
  for (const r of results.runs) {
    const sub = (x, y) => (x === null || x === undefined || y === null || y === undefined ? null : x - y);
    r.addedUs = r.mode === 'proxy' ? {
      holdP50: sub(r.holdLatencyUs.p50, d.holdLatencyUs.p50), holdP99: sub(r.holdLatencyUs.p99, d.holdLatencyUs.p99),
      p50: sub(r.latencyUs.p50, d.latencyUs.p50), p99: sub(r.latencyUs.p99, d.latencyUs.p99),
    } : null;
    L.push(row([r.label, `${r.completed}/${r.streams}`, `${r.tokensReceived}/${r.tokensExpected}`, r.maxOpen,
      r.holdMs === null ? '-' : (r.holdMs / 1000).toFixed(1), r.holdLatencyUs.tokensPerSec ? Math.round(r.holdLatencyUs.tokensPerSec) : '-',
      ms(r.holdLatencyUs.p50), ms(r.holdLatencyUs.p99), ms(r.latencyUs.p50), ms(r.latencyUs.p99), ms(r.latencyUs.p999), ms(r.latencyUs.max)], W1));
  }
  L.push(`first token after its request (ms; the fake waits ${o.firstTokenDelay} ms), p50 / p99 / max: ` + results.runs.map((r) =>
    `${r.label} ${r.firstTokenMs?.p50 ?? '-'} / ${r.firstTokenMs?.p99 ?? '-'} / ${r.firstTokenMs?.max ?? '-'}`).join('; '));
  L.push('');
  const W2 = [18, 14, 14, 13, 13, 11, 8, 8, 11, 12, 10, 12];
  L.push(row(['proxy run', 'added hold p50', 'added hold p99', 'added all p50', 'added all p99', 'RSS open MB', 'VmHWM MB', 'fds open', 'proxy CPU s', 'CPU us/token', 'fake CPU s', 'proxy rq-wait'], W2));
  for (const r of results.runs.filter((x) => x.mode === 'proxy')) {
    const cpu = r.cpuSeconds.proxy;
    L.push(row([r.label, ms(r.addedUs.holdP50), ms(r.addedUs.holdP99), ms(r.addedUs.p50), ms(r.addedUs.p99),
      mb(r.watched.rssAllOpenKb), mb(r.watched.hwmKb), r.watched.fdsAllOpen ?? '-',
      cpu === null || cpu === undefined ? '-' : cpu.toFixed(2), cpu ? ((cpu * 1e6) / Math.max(1, r.tokensReceived)).toFixed(1) : '-',
      fakeCpu(r), r.watchedRunqueueWaitPct === null ? '-' : `${r.watchedRunqueueWaitPct.toFixed(0)}%`], W2));
  }
  L.push('fake CPU s = API process (+ stream host process, when it has its own)');
  L.push(`(direct run: fake CPU ${fakeCpu(d)} s, client CPU ${d.cpuSeconds.client.toFixed(2)} s)`);
  L.push('proxy rq-wait = time the proxy\'s threads were runnable but waiting for a CPU, as % of the run (high: CPU-starved, latency is not the proxy\'s own)');
  L.push('machine load during each run (cores busy of 2): ' + results.runs.map((r) =>
    `${r.label}: ${r.machine.busyCores.toFixed(2)} busy, ${r.machine.otherCores.toFixed(2)} by other processes`).join('; '));
  const noisy = results.runs.filter((r) => r.machine.otherCores > 0.25);
  if (noisy.length) L.push(`WARNING: other processes used CPU during ${noisy.map((r) => r.label).join(', ')}: figures are disturbed; rerun on a quiet machine`);
  for (const r of results.runs) {
    if (r.failed || Object.keys(r.errors).length || r.tokensReceived !== r.tokensExpected) {
      L.push(`  ${r.label}: ${r.failed} failed streams, ${r.streamsWithWrongCount} with a wrong token count, errors ${JSON.stringify(r.errors)}`);
    }
    if (r.proxyMessages && Object.keys(r.proxyMessages).length) {
      L.push(`  ${r.label}: proxy stderr, each distinct message (numbers as N) with its count:`);
      for (const [m, n] of Object.entries(r.proxyMessages).slice(0, 12)) L.push(`    ${String(n).padStart(6)}  ${m.slice(0, 200)}`);
    }
  }
  if (o.tls) {
    const plain = results.runs.find((r) => r.label === `proxy --workers ${o.workers[0]}`);
    const tls = results.runs.find((r) => r.label.startsWith('TLS+h2'));
    const per = (r) => (r.cpuSeconds.proxy * 1e6) / Math.max(1, r.tokensReceived);
    if (plain && tls) L.push(`TLS+HTTP/2 vs plain HTTP (--workers ${o.workers[0]}): CPU per token ${(per(tls) / per(plain)).toFixed(2)}x (target <= 1.5x); ` +
      `peak RSS ${mb(Math.max(tls.watched.hwmKb ?? 0, tls.watched.rssAllOpenKb ?? 0))} MB vs ${mb(Math.max(plain.watched.hwmKb ?? 0, plain.watched.rssAllOpenKb ?? 0))} MB; ` +
      `fds with all open ${tls.watched.fdsAllOpen ?? '-'} vs ${plain.watched.fdsAllOpen ?? '-'}`);
    L.push(`proxy trusting another CA: HTTP ${results.wrongCaStatus} (${results.wrongCaStatus === 502 ? 'refused, as it must be' : 'NOT REFUSED'})`);
  }
  L.push('targets: every token delivered; proxy RSS < 150 MB with all streams open; median added latency per token < 1 ms (hold phase)');
  for (const r of results.runs.filter((x) => x.mode === 'proxy')) {
    const all = r.tokensReceived === r.tokensExpected && r.completed === r.streams && r.maxOpen === r.streams;
    const rss = Math.max(r.watched.hwmKb ?? 0, r.watched.rssAllOpenKb ?? 0) / 1024;
    L.push(`  ${r.label}: tokens ${all ? 'MET' : 'MISSED'}; peak RSS ${rss.toFixed(1)} MB ${rss < 150 ? 'MET' : 'MISSED'}; ` +
      (r.addedUs.holdP50 === null ? 'added median: no hold phase (the streams were never all open at once) MISSED'
        : `added median ${ms(r.addedUs.holdP50)} ms ${r.addedUs.holdP50 < 1000 ? 'MET' : 'MISSED'}`));
  }
  process.stdout.write(L.join('\n') + '\n');
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
}

async function cleanup() {
  for (const p of [...children]) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
}
process.on('SIGINT', () => { cleanup().then(() => process.exit(130)); });
process.on('SIGTERM', () => { cleanup().then(() => process.exit(143)); });
main().catch(async (e) => { process.stderr.write(`stream-bench: ${e.stack}\n`); await cleanup(); process.exit(1); });
