// Load client for the streaming benchmark: opens N streams, ramped over a
// given time, and measures how late each token arrives.
//
//   node bench/stream-client.mjs --mode proxy  --url http://127.0.0.1:PROXY [options]
//   node bench/stream-client.mjs --mode direct --url http://127.0.0.1:FAKE_API [options]
//
// proxy:  POST /v1/chat/completions {"stream":true,...}; reads chat.completion.chunk
//         lines up to `data: [DONE]`.
// direct: what the proxy does upstream, minus the proxy: POST a prediction to the
//         fake, then GET its urls.stream and read `event: output` up to `event: done`.
// Each token's text is " <ns>", the fake's CLOCK_MONOTONIC time when it wrote the
// token (bench/stream-fake.mjs); latency = receipt time - that.
//
// options: --streams N (5000) --ramp-ms MS (5000) --tokens N (expected per stream)
//          --timeout-ms MS (120000) --watch-pid PID (sample VmRSS/VmHWM of it)
//          --cpu-pids name=PID,... (CPU time of those processes over the run)
//          --timeline (add per-second figures: tokens sent, p50/p99, open streams,
//          watched process's CPU % and RSS)
// Prints one JSON object on stdout. Bounded: at most N streams, ends by timeout.

import http from 'node:http';
import { cpuSeconds, fdCount, loadWindow, machineCpu, runqueueWaitSeconds, status as procStatus } from './proc.mjs';

const o = { mode: 'proxy', url: '', streams: 5000, rampMs: 5000, tokens: 0, timeoutMs: 120000, watchPid: 0, cpuPids: '', timeline: false };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    switch (a[i]) {
      case '--mode': o.mode = v(); break;
      case '--url': o.url = v(); break;
      case '--streams': o.streams = Number(v()); break;
      case '--ramp-ms': o.rampMs = Number(v()); break;
      case '--tokens': o.tokens = Number(v()); break;
      case '--timeout-ms': o.timeoutMs = Number(v()); break;
      case '--watch-pid': o.watchPid = Number(v()); break;
      case '--cpu-pids': o.cpuPids = v(); break;
      case '--timeline': o.timeline = true; break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
  if (!o.url || !['proxy', 'direct'].includes(o.mode)) throw new Error('need --mode proxy|direct and --url');
}

const u = new URL(o.url);
const HOST = u.hostname;
const PORT = Number(u.port);
const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const createAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const nowNs = () => Number(process.hrtime.bigint());

// ---------------------------------------------------------------- /proc
const cpuPids = o.cpuPids ? o.cpuPids.split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]) : [];
const cpu0 = Object.fromEntries(cpuPids.map(([k, p]) => [k, cpuSeconds(p)]));
const selfCpu0 = process.cpuUsage();
const load = loadWindow(() => [process.pid, ...cpuPids.map(([, p]) => p)]);
const rq0 = o.watchPid ? runqueueWaitSeconds(o.watchPid) : null;

// ---------------------------------------------------------------- state
const N = o.streams;
const lat = new Float64Array(Math.max(1, N * Math.max(o.tokens, 1) + 16)); // µs
const sentAt = new Float64Array(lat.length); // ns, the fake's stamp
const t0ns = nowNs();
let nLat = 0;
let allOpenNs = null, firstEndNs = null;
let negative = 0;
const got = new Int32Array(N); // tokens per stream
const startedNs = new Float64Array(N), firstTokenNs = new Float64Array(N); // per stream: request sent, first token
const finished = new Uint8Array(N); // 1 ok, 2 error
const errors = {};
let started = 0, open = 0, maxOpen = 0, done = 0, failed = 0;
let allOpenAt = null, firstEndAt = null, rssAllOpen = null, fdsAllOpen = null;
let rssMaxKb = 0;
const t0 = Date.now();

function noteError(kind) { errors[kind] = (errors[kind] ?? 0) + 1; }

function token(i, text, recvNs) {
  const sent = Number(text);
  if (!Number.isFinite(sent) || sent <= 0) { noteError('bad token text'); return; }
  if (!got[i]++) firstTokenNs[i] = recvNs;
  const d = (recvNs - sent) / 1000;
  if (d < 0) negative++;
  if (nLat < lat.length) { sentAt[nLat] = sent; lat[nLat++] = d; }
}

function opened() {
  open++;
  if (open > maxOpen) maxOpen = open;
  if (open === N && allOpenAt === null) {
    allOpenAt = Date.now() - t0;
    allOpenNs = nowNs();
    if (o.watchPid) { rssAllOpen = procStatus(o.watchPid); fdsAllOpen = fdCount(o.watchPid); }
  }
}

function end(i, ok, why) {
  if (finished[i]) return;
  finished[i] = ok ? 1 : 2;
  if (firstEndAt === null) { firstEndAt = Date.now() - t0; firstEndNs = nowNs(); }
  if (ok) done++; else { failed++; noteError(why); }
  if (done + failed === N) finish();
}

// Splits a byte stream into lines; calls onLine(line) for each complete line.
function lineReader(onLine) {
  let carry = '';
  return (chunk) => {
    const s = carry + chunk;
    let start = 0, nl;
    while ((nl = s.indexOf('\n', start)) >= 0) {
      onLine(s.slice(start, nl));
      start = nl + 1;
    }
    carry = start < s.length ? s.slice(start) : '';
  };
}

// ---------------------------------------------------------------- proxy mode
const CHAT_BODY = JSON.stringify({ model: 'deepseek-v3.1', stream: true, messages: [{ role: 'user', content: 'bench' }] });
const CONTENT_RE = /"delta":\{[^}]*"content":"([^"]*)"/;

function startProxyStream(i) {
  const req = http.request({
    host: HOST, port: PORT, method: 'POST', path: '/v1/chat/completions', agent: streamAgent,
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer r8_bench', 'Content-Length': Buffer.byteLength(CHAT_BODY) },
  }, (res) => {
    if (res.statusCode !== 200) { res.resume(); end(i, false, `HTTP ${res.statusCode}`); return; }
    opened();
    let sawDone = false;
    res.setEncoding('latin1');
    const feed = lineReader((line) => {
      if (!line.startsWith('data: ')) return;
      if (line === 'data: [DONE]') { sawDone = true; return; }
      const m = CONTENT_RE.exec(line);
      if (m && m[1].length) token(i, m[1], nowNs());
      else if (line.includes('"error"')) noteError('in-band error');
    });
    res.on('data', feed);
    res.on('end', () => { open--; end(i, sawDone, sawDone ? '' : 'ended without [DONE]'); });
    res.on('error', () => {});
    res.on('close', () => { if (!finished[i]) { open--; end(i, false, 'closed early'); } });
  });
  req.on('error', (e) => { if (!finished[i]) end(i, false, `request: ${e.code ?? e.message}`); });
  req.end(CHAT_BODY);
}

// ---------------------------------------------------------------- direct mode
const CREATE_BODY = JSON.stringify({ input: { prompt: 'bench' } });

function startDirectStream(i) {
  const req = http.request({
    host: HOST, port: PORT, method: 'POST', path: '/v1/models/deepseek-ai/deepseek-v3.1/predictions', agent: createAgent,
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer r8_bench', 'Content-Length': Buffer.byteLength(CREATE_BODY) },
  }, (res) => {
    const parts = [];
    res.on('data', (c) => parts.push(c));
    res.on('end', () => {
      let p;
      try { p = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch { p = null; }
      if (res.statusCode !== 201 || !p?.urls?.stream) { end(i, false, `create HTTP ${res.statusCode}`); return; }
      readStream(i, p.urls.stream);
    });
  });
  req.on('error', (e) => end(i, false, `create: ${e.code ?? e.message}`));
  req.end(CREATE_BODY);
}

function readStream(i, url) {
  const su = new URL(url);
  const req = http.request({ host: su.hostname, port: Number(su.port), path: su.pathname, agent: streamAgent,
    headers: { Accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { res.resume(); end(i, false, `stream HTTP ${res.statusCode}`); return; }
    opened();
    let event = '';
    let sawDone = false;
    res.setEncoding('latin1');
    const feed = lineReader((line) => {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) {
        if (event === 'output') token(i, line.slice(6), nowNs());
        else if (event === 'done') {
          sawDone = true;
          open--;
          end(i, true);
          res.destroy(); // the fake holds the stream after done, as Replicate does
        }
      }
    });
    res.on('data', feed);
    res.on('error', () => {});
    res.on('close', () => { if (!sawDone) { open--; end(i, false, 'stream closed before done'); } });
  });
  req.on('error', (e) => { if (!finished[i]) end(i, false, `stream: ${e.code ?? e.message}`); });
  req.end();
}

// ---------------------------------------------------------------- run
const start = o.mode === 'proxy' ? startProxyStream : startDirectStream;
const ramp = setInterval(() => {
  const due = o.rampMs > 0 ? Math.min(N, Math.floor(((Date.now() - t0) / o.rampMs) * N) + 1) : N;
  while (started < due) { startedNs[started] = nowNs(); start(started++); }
  if (started >= N) clearInterval(ramp);
}, 5);
const samples = []; // per second: open streams, CPU %, run-queue wait %, RSS
let lastCpu = o.watchPid ? cpuSeconds(o.watchPid) : 0, lastRq = rq0, lastM = machineCpu(), sampleN = 0, lastSelf = process.cpuUsage();
const sampler = setInterval(() => {
  if (!o.watchPid) return;
  const st = procStatus(o.watchPid);
  if (st && st.rssKb > rssMaxKb) rssMaxKb = st.rssKb;
  if (o.timeline && ++sampleN % 10 === 0) {
    const c = cpuSeconds(o.watchPid), rq = runqueueWaitSeconds(o.watchPid), m = machineCpu(), self = process.cpuUsage();
    samples.push({ s: Math.round((Date.now() - t0) / 1000), open, started,
      watchedCpuPct: Math.round((c - lastCpu) * 100), watchedRqWaitPct: Math.round((rq - lastRq) * 100),
      clientCpuPct: Math.round((self.user + self.system - lastSelf.user - lastSelf.system) / 1e4),
      machineBusyPct: Math.round(((m.busy - lastM.busy) / (m.total - lastM.total)) * 100),
      rssMb: st ? Math.round(st.rssKb / 1024) : null });
    lastCpu = c; lastRq = rq; lastM = m; lastSelf = self;
  }
}, 100);
const deadline = setTimeout(() => {
  for (let i = 0; i < N; i++) if (!finished[i]) { finished[i] = 2; failed++; noteError(i < started ? 'timeout' : 'never started'); }
  finish();
}, o.timeoutMs);

let finishedAll = false;
function finish() {
  if (finishedAll) return;
  finishedAll = true;
  clearInterval(ramp);
  clearInterval(sampler);
  clearTimeout(deadline);
  const elapsedMs = Date.now() - t0;
  // Hold phase: tokens sent while every stream was open (after the ramp-up,
  // before the first stream ended).
  const hold = [];
  if (allOpenNs !== null && firstEndNs !== null) {
    for (let k = 0; k < nLat; k++) if (sentAt[k] >= allOpenNs && sentAt[k] < firstEndNs) hold.push(lat[k]);
  }
  const h = Float64Array.from(hold).sort();
  // A sorted copy: lat stays in token order, aligned with sentAt, for the
  // timeline below (sorting it in place gave every second a slice of the
  // sorted latencies: a smooth, tight "drift" that was never there).
  const a = lat.slice(0, nLat).sort();
  const pct = (q) => (nLat ? a[Math.min(nLat - 1, Math.floor(q * nLat))] : null);
  const hpct = (q) => (h.length ? h[Math.min(h.length - 1, Math.floor(q * h.length))] : null);
  // Request to first token, per stream: the fake's first-token delay plus
  // the create and the stream's connection (a new TLS handshake shows here).
  const ft = [];
  for (let i = 0; i < N; i++) if (got[i]) ft.push((firstTokenNs[i] - startedNs[i]) / 1e6);
  const f = Float64Array.from(ft).sort();
  const fpct = (q) => (f.length ? +f[Math.min(f.length - 1, Math.floor(q * f.length))].toFixed(1) : null);
  let tokensTotal = 0, short = 0;
  for (let i = 0; i < N; i++) { tokensTotal += got[i]; if (o.tokens && got[i] !== o.tokens) short++; }
  const cpu = {};
  for (const [k, p] of cpuPids) { const t = cpuSeconds(p); cpu[k] = t === null || cpu0[k] === null ? null : t - cpu0[k]; }
  const sc = process.cpuUsage(selfCpu0);
  cpu.client = (sc.user + sc.system) / 1e6;
  const machine = load.end();
  const rqWait = o.watchPid && rq0 !== null ? (runqueueWaitSeconds(o.watchPid) ?? rq0) - rq0 : null;
  const end = o.watchPid ? procStatus(o.watchPid) : null;
  if (end && end.rssKb > rssMaxKb) rssMaxKb = end.rssKb;
  const out = {
    mode: o.mode, streams: N, rampMs: o.rampMs, tokensPerStream: o.tokens,
    completed: done, failed, errors, maxOpen, allOpenAtMs: allOpenAt, firstEndAtMs: firstEndAt,
    holdMs: allOpenAt !== null && firstEndAt !== null ? firstEndAt - allOpenAt : null,
    tokensExpected: N * o.tokens, tokensReceived: tokensTotal, streamsWithWrongCount: short,
    latencyUs: { n: nLat, p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), p999: pct(0.999), max: nLat ? a[nLat - 1] : null, negative },
    holdLatencyUs: { n: h.length, p50: hpct(0.5), p90: hpct(0.9), p99: hpct(0.99), p999: hpct(0.999), max: h.length ? h[h.length - 1] : null,
      tokensPerSec: h.length && firstEndNs > allOpenNs ? h.length / ((firstEndNs - allOpenNs) / 1e9) : null },
    firstTokenMs: { n: f.length, p50: fpct(0.5), p99: fpct(0.99), max: f.length ? +f[f.length - 1].toFixed(1) : null },
    elapsedMs, cpuSeconds: cpu,
    // machine load over the run: all cores busy, ours (client + --cpu-pids), others
    machine: { busyCores: machine.machineBusyCores, oursCores: machine.oursCores, otherCores: machine.otherCores },
    watchedRunqueueWaitPct: rqWait === null ? null : (rqWait / (elapsedMs / 1000)) * 100,
  };
  if (o.timeline) {
    // tokens by the second (of the fake's send time) since the client started
    const by = new Map();
    for (let k = 0; k < nLat; k++) {
      const sec = Math.floor((sentAt[k] - t0ns) / 1e9);
      if (!by.has(sec)) by.set(sec, []);
      by.get(sec).push(lat[k]);
    }
    out.timeline = [...by.keys()].sort((x, y) => x - y).map((sec) => {
      const v = Float64Array.from(by.get(sec)).sort();
      const smp = samples.find((x) => x.s === sec + 1) ?? {};
      return { sec, tokens: v.length, p50ms: +(v[Math.floor(v.length / 2)] / 1000).toFixed(3), p99ms: +(v[Math.floor(v.length * 0.99)] / 1000).toFixed(3), ...smp };
    });
  }
  if (o.watchPid) {
    out.watched = {
      rssAllOpenKb: rssAllOpen?.rssKb ?? null, fdsAllOpen, threads: rssAllOpen?.threads ?? null,
      rssMaxSampledKb: rssMaxKb, hwmKb: end?.hwmKb ?? null, rssEndKb: end?.rssKb ?? null,
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  streamAgent.destroy();
  createAgent.destroy();
  setTimeout(() => process.exit(0), 200).unref();
}
