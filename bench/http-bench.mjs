// Non-streaming benchmark: wrk at each concurrency against
//   direct  wrk -> static upstream (nginx answering a fixed 201 prediction)
//   nginx   wrk -> nginx proxy_pass (keep-alive upstream pool) -> static upstream
//   proxy   wrk -> replicate-proxy -> static upstream
// in one run, same machine, same static upstream. The proxy gets an OpenAI chat
// request and sends Replicate's `POST .../predictions` with `Prefer: wait`; the
// static upstream answers `"status":"succeeded"` at once, so the proxy answers
// without polling. direct and nginx get that same Replicate request from wrk.
//
//   node bench/http-bench.mjs [--proxy build/replicate-proxy] [--duration 10]
//        [--conns 1,16,64] [--workers 1,2] [--threads 2] [--port 19200] [--json FILE]
//
// Ports: port (static upstream), port+1 (nginx hop), port+2 (proxy).
// nginx runs from a temporary prefix with its own config, as nobody when this
// runs as root, and is stopped at the end. Prints a table on stdout.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, childrenCpuSeconds, cpuSeconds, loadWindow, runqueueWaitSeconds } from './proc.mjs';
import { children, nginxHopServers, sleep, start, stop as stopChild } from './rig.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = {
  proxy: path.join(here, '..', 'build', 'replicate-proxy'),
  duration: 10, conns: [1, 16, 64], workers: [1, 2], threads: 2, port: 19200, json: '',
  nginx: 'nginx', wrk: 'wrk',
};
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    switch (a[i]) {
      case '--proxy': o.proxy = v(); break;
      case '--duration': o.duration = Number(v()); break;
      case '--conns': o.conns = v().split(',').map(Number); break;
      case '--workers': o.workers = v().split(',').map(Number); break;
      case '--threads': o.threads = Number(v()); break;
      case '--port': o.port = Number(v()); break;
      case '--json': o.json = v(); break;
      case '--nginx': o.nginx = v(); break;
      case '--wrk': o.wrk = v(); break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
}
const STATIC = o.port, HOP = o.port + 1, PROXY = o.port + 2;
const log = (s) => process.stderr.write(`[http] ${s}\n`);
// ------------------------------------------------------------------ processes
// A shorter SIGKILL grace than the rig's default.
const stop = (p, sig = 'SIGTERM', graceMs = 5000) => stopChild(p, sig, graceMs);

function request(port, method, pathName, headers, body) {
  return new Promise((ok) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: pathName, headers, agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => ok({ status: res.statusCode, body: b }));
    });
    req.on('error', (e) => ok({ status: 0, body: String(e.message) }));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const PREDICT = ['POST', '/v1/models/deepseek-ai/deepseek-v3.1/predictions',
  { 'Content-Type': 'application/json', Authorization: 'Bearer r8_bench', Prefer: 'wait' }, '{"input":{"prompt":"bench"}}'];
const CHAT = ['POST', '/v1/chat/completions',
  { 'Content-Type': 'application/json', Authorization: 'Bearer r8_bench' },
  '{"model":"deepseek-v3.1","messages":[{"role":"user","content":"bench"}]}'];

async function waitReady(port, req, want, ms = 10000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await request(port, ...req);
    if (last.status === want) return last;
    await sleep(50);
  }
  throw new Error(`127.0.0.1:${port} did not answer ${want}: last ${last?.status} ${last?.body?.slice(0, 300)}`);
}

// nginx: the master and its workers; the proxy: one process.
const pidsOf = (p) => [p.pid, ...childPids(p.pid)];
const cpuOf = (pids) => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
const rqOf = (pids) => pids.reduce((sum, pid) => sum + (runqueueWaitSeconds(pid) ?? 0), 0);
function rssKb(pid) {
  try { return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return null; }
}

// ---------------------------------------------------------------------- nginx
const created = new Date(Date.now() - 2000).toISOString().replace('Z', '123Z');
const completed = new Date().toISOString().replace('Z', '123Z');
const PRED_ID = 'benchp4s2x7d1k0m9q3r8t5v6w';
const up = `http://127.0.0.1:${STATIC}`;
const PREDICTION = JSON.stringify({
  id: PRED_ID, model: 'deepseek-ai/deepseek-v3.1', version: 'hidden', input: { prompt: 'bench' },
  logs: '', output: ['Hello', '!', ' How can', ' I help', ' you', ' today?'], data_removed: false, error: null,
  source: 'api', status: 'succeeded', created_at: created, started_at: created, completed_at: completed,
  urls: { cancel: `${up}/v1/predictions/${PRED_ID}/cancel`, get: `${up}/v1/predictions/${PRED_ID}`,
    web: `https://replicate.com/p/${PRED_ID}`, stream: `${up}/v1/streams/${PRED_ID}` },
  metrics: { predict_time: 1.8, total_time: 2.0, input_token_count: 12, output_token_count: 6, time_to_first_token: 0.05, tokens_per_second: 42.5 },
});

function nginxConf(prefix, name, workers, server) {
  return `# generated by bench/http-bench.mjs
worker_processes ${workers};
pid ${prefix}/${name}.pid;
error_log ${prefix}/${name}-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${prefix}/tmp/${name}-body;
  proxy_temp_path ${prefix}/tmp/${name}-proxy;
  fastcgi_temp_path ${prefix}/tmp/${name}-fastcgi;
  uwsgi_temp_path ${prefix}/tmp/${name}-uwsgi;
  scgi_temp_path ${prefix}/tmp/${name}-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
${server}
}
`;
}

function staticServer() {
  return `  server {
    listen 127.0.0.1:${STATIC} backlog=4096;
    location = /v1/models/deepseek-ai/deepseek-v3.1/predictions {
      default_type "application/json; charset=UTF-8";
      add_header Preference-Applied wait;
      return 201 '${PREDICTION}';
    }
    location / {
      default_type application/json;
      return 404 '{"detail":"The requested resource could not be found.","status":404}';
    }
  }`;
}

const hopServer = () => nginxHopServers(HOP, STATIC);

const asRoot = process.getuid?.() === 0;
let prefix;

function startNginx(name, workers, server) {
  const conf = path.join(prefix, `${name}.conf`);
  fs.writeFileSync(conf, nginxConf(prefix, name, workers, server));
  const args = ['-p', prefix, '-c', conf, '-e', path.join(prefix, `${name}-error.log`), '-g', 'daemon off;'];
  // Unprivileged: as nobody when we are root (nginx then ignores `user`).
  const p = start(o.nginx, args, `nginx-${name}`, asRoot ? { uid: 65534, gid: 65534 } : {});
  return p;
}

async function stopNginx(p) {
  return stop(p, 'SIGQUIT', 5000);
}

// ------------------------------------------------------------------------ wrk
async function runWrk(port, mode, conns) {
  const threads = Math.min(o.threads, conns);
  const args = ['-t', String(threads), '-c', String(conns), '-d', `${o.duration}s`, '--timeout', '5s',
    '-s', path.join(here, 'wrk-post.lua'), `http://127.0.0.1:${port}`];
  const w = start(o.wrk, args, 'wrk', { env: { ...process.env, WRK_MODE: mode } });
  const killer = setTimeout(() => w.kill('SIGKILL'), (o.duration + 30) * 1000);
  const r = await w.exited;
  clearTimeout(killer);
  const m = /WRKJSON (\{.*\})/.exec(w.out);
  if (r.code !== 0 || !m) throw new Error(`wrk failed (${r.code ?? r.sig}): ${w.out}\n${w.err}`);
  const j = JSON.parse(m[1]);
  j.rps = j.requests / (j.duration_us / 1e6);
  return j;
}

async function measure(label, port, mode, conns, hopPids, staticPids) {
  const c0 = cpuOf(hopPids), s0 = cpuOf(staticPids), q0 = rqOf(hopPids), w0 = childrenCpuSeconds(process.pid);
  const load = loadWindow(() => [process.pid, ...hopPids, ...staticPids]);
  const r = await runWrk(port, mode, conns);
  const wrkCpu = childrenCpuSeconds(process.pid) - w0; // wrk has exited and been reaped
  r.machine = load.end(wrkCpu);
  r.wrkCpuS = wrkCpu;
  r.hopCpuS = hopPids.length ? cpuOf(hopPids) - c0 : null;
  r.hopRqWaitPct = hopPids.length ? ((rqOf(hopPids) - q0) / r.machine.wallS) * 100 : null;
  r.staticCpuS = cpuOf(staticPids) - s0;
  r.label = label;
  r.conns = conns;
  r.errors = r.errors_connect + r.errors_read + r.errors_write + r.errors_status + r.errors_timeout;
  log(`${label.padEnd(22)} c=${conns}: ${Math.round(r.rps)} req/s, p50 ${(r.p50_us / 1000).toFixed(3)} ms, p99 ${(r.p99_us / 1000).toFixed(3)} ms, errors ${r.errors}; ` +
    `machine ${r.machine.machineBusyCores.toFixed(2)} cores busy, ${r.machine.otherCores.toFixed(2)} by others`);
  return r;
}

// ----------------------------------------------------------------------- main
const results = { when: new Date().toISOString(), params: { duration: o.duration, conns: o.conns, workers: o.workers, threads: o.threads }, runs: [] };

async function main() {
  prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-bench-nginx-'));
  fs.mkdirSync(path.join(prefix, 'tmp'));
  if (asRoot) { fs.chownSync(prefix, 65534, 65534); fs.chownSync(path.join(prefix, 'tmp'), 65534, 65534); }
  fs.chmodSync(prefix, 0o755);

  const stat = startNginx('static', 1, staticServer());
  const direct = await waitReady(STATIC, PREDICT, 201);
  if (!direct.body.includes('"succeeded"')) throw new Error(`static upstream: unexpected body ${direct.body}`);
  const staticPids = () => pidsOf(stat);
  log(`static upstream: nginx (1 worker) on 127.0.0.1:${STATIC}; wrk -t${o.threads}, ${o.duration} s per run`);

  for (const c of o.conns) {
    const d = await measure('direct (no hop)', STATIC, 'predict', c, [], staticPids());
    d.kind = 'direct';
    results.runs.push(d);
    for (const w of o.workers) {
      const hop = startNginx(`hop${w}`, w, hopServer());
      await waitReady(HOP, PREDICT, 201);
      await sleep(200);
      const r = await measure(`nginx proxy_pass (${w}w)`, HOP, 'predict', c, pidsOf(hop), staticPids());
      r.kind = 'nginx'; r.workers = w;
      results.runs.push(r);
      await stopNginx(hop);

      const px = start(o.proxy, ['--listen', `127.0.0.1:${PROXY}`, '--upstream', `http://127.0.0.1:${STATIC}`,
        '--workers', String(w), '--poll_interval', '20ms', '--log_level', 'warn', '--shutdown_grace', '2s'], 'proxy');
      const first = await waitReady(PROXY, CHAT, 200);
      if (!first.body.includes('"chat.completion"') || !first.body.includes('"completion_tokens":6')) {
        throw new Error(`proxy: unexpected reply ${first.body}`);
      }
      const p = await measure(`replicate-proxy (${w}w)`, PROXY, 'chat', c, [px.pid], staticPids());
      p.kind = 'proxy'; p.workers = w;
      p.rssEndKb = rssKb(px.pid);
      const ex = await stop(px);
      p.proxyExit = ex.code ?? ex.sig;
      p.proxyStderr = px.err.slice(0, 2000);
      results.runs.push(p);
    }
  }
  await stopNginx(stat);
  report();
}

function report() {
  const f = (us) => (us / 1000).toFixed(3);
  const L = [];
  L.push('');
  L.push(`== non-streaming: wrk -t${o.threads} -d${o.duration}s, POST, keep-alive; static upstream = nginx returning a fixed 201 "succeeded" prediction ==`);
  L.push('added = through-hop minus direct at the same concurrency; CPU = CPU time of the hop process(es) / requests');
  const W = [24, 5, 9, 9, 9, 9, 10, 10, 7, 10, 9, 8, 8];
  const row = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(W[i]) : String(c).padStart(W[i]))).join(' | ');
  L.push(row(['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'added p50', 'added p99', 'errors', 'CPU us/req', 'hop cores', 'rq-wait', 'others']));
  for (const c of o.conns) {
    const rs = results.runs.filter((r) => r.conns === c);
    const d = rs.find((r) => r.kind === 'direct');
    for (const r of rs) {
      const isHop = r.kind !== 'direct';
      r.addedP50us = isHop ? r.p50_us - d.p50_us : null;
      r.addedP99us = isHop ? r.p99_us - d.p99_us : null;
      L.push(row([r.label, c, Math.round(r.rps), f(r.p50_us), f(r.p99_us), f(r.p999_us),
        isHop ? f(r.addedP50us) : '-', isHop ? f(r.addedP99us) : '-', r.errors,
        r.hopCpuS !== null ? ((r.hopCpuS * 1e6) / Math.max(1, r.requests)).toFixed(1) : '-',
        r.hopCpuS !== null ? (r.hopCpuS / r.machine.wallS).toFixed(2) : '-',
        r.hopRqWaitPct !== null ? `${r.hopRqWaitPct.toFixed(0)}%` : '-', r.machine.otherCores.toFixed(2)]));
    }
  }
  L.push('CPU us/req and hop cores: CPU of the hop (nginx master+workers, or the proxy); rq-wait: hop threads runnable but waiting for a CPU, % of the run;');
  L.push('others: cores used by processes other than wrk, the hop and the static upstream during the run (> 0.25: disturbed, rerun on a quiet machine)');
  L.push('targets: proxy throughput >= 1/2 of nginx proxy_pass (same worker count); added p99 < 1 ms');
  for (const c of o.conns) {
    for (const w of o.workers) {
      const p = results.runs.find((r) => r.conns === c && r.kind === 'proxy' && r.workers === w);
      const n = results.runs.find((r) => r.conns === c && r.kind === 'nginx' && r.workers === w);
      if (!p || !n) continue;
      const ratio = p.rps / n.rps;
      L.push(`  c=${c}, ${w} worker(s): throughput ${(ratio * 100).toFixed(0)}% of nginx ${ratio >= 0.5 ? 'MET' : 'MISSED'}; ` +
        `added p99 ${f(p.addedP99us)} ms ${p.addedP99us < 1000 ? 'MET' : 'MISSED'} (nginx: ${f(n.addedP99us)} ms)` +
        (p.errors ? `; ${p.errors} wrk errors` : ''));
    }
  }
  const noisy = results.runs.filter((r) => r.machine.otherCores > 0.25);
  if (noisy.length) L.push(`WARNING: other processes used CPU during ${noisy.length} run(s) (${noisy.map((r) => `${r.label} c=${r.conns}`).join(', ')}): figures disturbed; rerun on a quiet machine`);
  for (const r of results.runs) if (r.proxyStderr) L.push(`  ${r.label}: proxy stderr: ${r.proxyStderr.split('\n').slice(0, 5).join(' / ')}`);
  process.stdout.write(L.join('\n') + '\n');
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
}

async function cleanup() {
  for (const p of [...children]) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  if (prefix) fs.rmSync(prefix, { recursive: true, force: true });
}
process.on('SIGINT', () => { cleanup().then(() => process.exit(130)); });
process.on('SIGTERM', () => { cleanup().then(() => process.exit(143)); });
main().then(() => cleanup()).catch(async (e) => {
  process.stderr.write(`http-bench: ${e.stack}\n`);
  for (const p of [...children]) if (p.name.startsWith('nginx')) process.stderr.write(`${p.name}: ${p.err}\n`);
  await cleanup();
  process.exit(1);
});
