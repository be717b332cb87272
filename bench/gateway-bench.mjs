// Gateway overhead: the same binary, side by side in one run, at each concurrency:
//   bare          no master_key (usage.cost and keyless ledger rows still on)
//   keys          master_key set; a virtual key without limits (HMAC + snapshot lookup)
//   keys+limits   a virtual key with rpm/tpm/parallel/budget (reservation, settlement)
//                 and its ledger rows
//   shared        (--shared) keys+limits+ledger with the keys and ledger in PostgreSQL
//                 and rpm/tpm/parallel in Redis (a throwaway initdb cluster and
//                 redis-server on loopback ports, as tests/integration/engines.mjs)
// wrk drives POST /v1/chat/completions; the upstream is nginx answering a fixed
// "succeeded" prediction (as bench/http-bench.mjs), so the proxy's own cost shows.
//
//   node bench/gateway-bench.mjs [--proxy build/replicate-proxy] [--duration 10]
//        [--conns 16,64] [--workers 1] [--rounds 2] [--port 19300] [--json FILE] [--shared]
//
// Modes are interleaved (bare, keys, keys+limits, then again for each round) so
// drift on a shared machine hits them alike; the table gives the median round.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = { proxy: path.join(here, '..', 'build', 'replicate-proxy'), duration: 10, conns: [16, 64], workers: 1,
  rounds: 2, threads: 2, port: 19300, json: '', nginx: 'nginx', wrk: 'wrk' };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    switch (a[i]) {
      case '--proxy': o.proxy = v(); break;
      case '--duration': o.duration = Number(v()); break;
      case '--conns': o.conns = v().split(',').map(Number); break;
      case '--workers': o.workers = Number(v()); break;
      case '--rounds': o.rounds = Number(v()); break;
      case '--port': o.port = Number(v()); break;
      case '--json': o.json = v(); break;
      case '--nginx': o.nginx = v(); break;
      case '--wrk': o.wrk = v(); break;
      case '--shared': o.shared = true; break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
}
const STATIC = o.port, PROXY = o.port + 1;
const MASTER = 'sk-bench-master-0123456789abcdef0123456789';
const log = (s) => process.stderr.write(`[gateway] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();

function start(cmd, args, name, extra = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...extra });
  children.add(p);
  p.name = name;
  p.out = '';
  p.err = '';
  p.stdout.on('data', (d) => { if (p.out.length < 100000) p.out += d; });
  p.stderr.on('data', (d) => { if (p.err.length < 20000) p.err += d; });
  p.exited = new Promise((r) => p.on('exit', (code, sig) => { children.delete(p); r({ code, sig }); }));
  return p;
}

async function stop(p, sig = 'SIGTERM') {
  if (!children.has(p)) return p.exited;
  p.kill(sig);
  const t = setTimeout(() => { if (children.has(p)) p.kill('SIGKILL'); }, 10000);
  const r = await p.exited;
  clearTimeout(t);
  return r;
}

function request(port, key) {
  return new Promise((ok) => {
    const body = '{"model":"deepseek-v3.1","messages":[{"role":"user","content":"bench"}]}';
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent: false,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => ok({ status: res.statusCode, body: b }));
    });
    req.on('error', (e) => ok({ status: 0, body: String(e.message) }));
    req.end(body);
  });
}

async function waitReady(port, key) {
  for (let i = 0; i < 200; i++) {
    const r = await request(port, key);
    if (r.status === 200) return r;
    await sleep(50);
  }
  throw new Error(`127.0.0.1:${port} did not answer 200`);
}

const PRED_ID = 'gwbenchp4s2x7d1k0m9q3r8t5v6';
const up = `http://127.0.0.1:${STATIC}`;
const now = new Date().toISOString();
const PREDICTION = JSON.stringify({
  id: PRED_ID, model: 'deepseek-ai/deepseek-v3.1', version: 'hidden', input: { prompt: 'bench' }, logs: '',
  output: ['Hello', '!', ' How can', ' I help', ' you', ' today?'], data_removed: false, error: null, source: 'api',
  status: 'succeeded', created_at: now, started_at: now, completed_at: now,
  urls: { cancel: `${up}/v1/predictions/${PRED_ID}/cancel`, get: `${up}/v1/predictions/${PRED_ID}`,
    web: `https://replicate.com/p/${PRED_ID}`, stream: `${up}/v1/streams/${PRED_ID}` },
  metrics: { predict_time: 1.8, total_time: 2.0, input_token_count: 12, output_token_count: 6 },
});

function nginxConf(prefix) {
  return `worker_processes 1;
pid ${prefix}/static.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:${STATIC} backlog=4096;
    location = /v1/models/deepseek-ai/deepseek-v3.1/predictions {
      default_type application/json;
      return 201 '${PREDICTION}';
    }
  }
}
`;
}

async function runWrk(conns, key) {
  const args = ['-t', String(Math.min(o.threads, conns)), '-c', String(conns), '-d', `${o.duration}s`, '--timeout', '5s',
    '-s', path.join(here, 'wrk-post.lua'), `http://127.0.0.1:${PROXY}`];
  const w = start(o.wrk, args, 'wrk', { env: { ...process.env, WRK_MODE: 'chat', WRK_KEY: key } });
  const r = await w.exited;
  const m = /WRKJSON (\{.*\})/.exec(w.out);
  if (r.code !== 0 || !m) throw new Error(`wrk failed: ${w.out}\n${w.err}`);
  const j = JSON.parse(m[1]);
  j.rps = j.requests / (j.duration_us / 1e6);
  j.errors = j.errors_connect + j.errors_read + j.errors_write + j.errors_status + j.errors_timeout;
  return j;
}

// One proxy per mode for the whole run, each with its own database.
async function startMode(mode, dir) {
  const db = mode.db ?? path.join(dir, `${mode.name}.db`);
  let key = 'r8_bench';
  if (mode.keyArgs) {
    const out = execFileSync(o.proxy, ['keys', 'generate', '--database', db, ...mode.keyArgs], { encoding: 'utf8' });
    key = JSON.parse(out).key;
  }
  const args = ['--listen', `127.0.0.1:${PROXY}`, '--upstream', up, '--workers', String(o.workers),
    '--log_level', 'warn', '--shutdown_grace', '2s', '--database', db, '--replicate_api_token', 'r8_bench'];
  if (mode.gateway) args.push('--master_key', MASTER);
  if (mode.redis) args.push('--redis_url', mode.redis);
  const p = start(o.proxy, args, `proxy-${mode.name}`);
  const first = await waitReady(PROXY, key);
  if (!first.body.includes('"cost"')) throw new Error(`${mode.name}: unexpected reply ${first.body}`);
  return { p, key, db };
}

const MODES = [
  { name: 'bare' },
  { name: 'keys', gateway: true, keyArgs: ['--key_alias', 'bench'] },
  { name: 'keys+limits+ledger', gateway: true,
    keyArgs: ['--key_alias', 'bench', '--rpm_limit', '100000000', '--tpm_limit', '100000000000',
      '--max_parallel_requests', '100000', '--max_budget', '1000000000', '--budget_duration', '30d'] },
];

async function main() {
  let engines = [];
  if (o.shared) {
    const { startPostgres, startRedis } = await import('../tests/integration/engines.mjs');
    const pg = await startPostgres();
    pg.createdb('bench');
    const redis = await startRedis();
    engines = [pg, redis];
    const limits = MODES[MODES.length - 1];
    MODES.push({ ...limits, name: 'shared(pg+redis)', db: pg.url('bench'), redis: redis.url });
  }
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-gwbench-'));
  fs.mkdirSync(path.join(prefix, 'tmp'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) { fs.chownSync(prefix, 65534, 65534); fs.chownSync(path.join(prefix, 'tmp'), 65534, 65534); }
  fs.chmodSync(prefix, 0o755);
  fs.writeFileSync(path.join(prefix, 'static.conf'), nginxConf(prefix));
  const ngx = start(o.nginx, ['-p', prefix, '-c', path.join(prefix, 'static.conf'), '-g', 'daemon off;'], 'nginx',
    asRoot ? { uid: 65534, gid: 65534 } : {});
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-gwbench-db-'));
  const results = { when: new Date().toISOString(), params: o, runs: [] };
  try {
    await sleep(300);
    for (const c of o.conns) {
      for (let round = 0; round < o.rounds; round++) {
        for (const mode of MODES) {
          const m = await startMode(mode, dbDir);
          const cpu0 = cpuSeconds(m.p.pid);
          const r = await runWrk(c, m.key);
          // CPU per request: robust on a shared machine, where req/s is not.
          r.cpuUsPerReq = ((cpuSeconds(m.p.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
          const ex = await stop(m.p);
          r.mode = mode.name; r.conns = c; r.round = round; r.exit = ex.code ?? ex.sig;
          if (mode.gateway || mode.name === 'bare') {
            // Every request made a ledger row (the SIGTERM above flushed them).
            const rep = JSON.parse(execFileSync(o.proxy, ['spend', '--database', m.db], { encoding: 'utf8' }));
            r.ledgerRows = rep.reduce((s, g) => s + g.requests, 0);
          }
          if (!mode.db) fs.rmSync(m.db, { force: true });
          else execFileSync('psql', [mode.db, '-Xqc', 'TRUNCATE spend_logs']);
          log(`${mode.name.padEnd(19)} c=${c} round ${round}: ${Math.round(r.rps)} req/s, p99 ${(r.p99_us / 1000).toFixed(3)} ms, ${r.cpuUsPerReq.toFixed(1)} CPU us/req, errors ${r.errors}, ledger rows ${r.ledgerRows}`);
          results.runs.push(r);
        }
      }
    }
  } finally {
    await stop(ngx, 'SIGQUIT');
    fs.rmSync(prefix, { recursive: true, force: true });
    fs.rmSync(dbDir, { recursive: true, force: true });
    for (const e of engines) await e.close();
  }
  const L = ['', `== gateway overhead: wrk -t${o.threads} -d${o.duration}s, ${o.workers} worker(s), median of ${o.rounds} interleaved round(s) ==`];
  L.push('mode                | conns |   req/s |  p50 ms |  p99 ms | vs bare req/s | vs bare p99 | CPU us/req | vs bare CPU');
  for (const c of o.conns) {
    const med = (name, f) => {
      const v = results.runs.filter((r) => r.conns === c && r.mode === name).map(f).sort((a, b) => a - b);
      return v[Math.floor((v.length - 1) / 2)];
    };
    const bareRps = med('bare', (r) => r.rps), bareP99 = med('bare', (r) => r.p99_us), bareCpu = med('bare', (r) => r.cpuUsPerReq);
    for (const { name } of MODES) {
      const rps = med(name, (r) => r.rps), p50 = med(name, (r) => r.p50_us), p99 = med(name, (r) => r.p99_us);
      const cpu = med(name, (r) => r.cpuUsPerReq);
      L.push(`${name.padEnd(19)} | ${String(c).padStart(5)} | ${String(Math.round(rps)).padStart(7)} | ${(p50 / 1000).toFixed(3).padStart(7)} | ` +
        `${(p99 / 1000).toFixed(3).padStart(7)} | ${(((rps / bareRps) - 1) * 100).toFixed(1).padStart(12)}% | ${((p99 - bareP99) / 1000).toFixed(3).padStart(8)} ms | ` +
        `${cpu.toFixed(1).padStart(10)} | ${(((cpu / bareCpu) - 1) * 100).toFixed(1).padStart(10)}%`);
    }
  }
  L.push('target: gateway modes within 10% of bare throughput, p99 unchanged within noise (on a busy machine, read the CPU us/req columns:');
  L.push('the proxy\'s own CPU per request, which other processes do not inflate the way they do req/s and p99)');
  process.stdout.write(L.join('\n') + '\n');
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
}

process.on('SIGINT', () => { for (const p of children) p.kill('SIGKILL'); process.exit(130); });
main().catch((e) => {
  process.stderr.write(`gateway-bench: ${e.stack}\n`);
  for (const p of children) p.kill('SIGKILL');
  process.exit(1);
});
