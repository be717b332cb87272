// Shared by the wrk benchmarks: child processes, a chat request, the fixed
// "succeeded" prediction nginx answers as the upstream, one wrk run, medians.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every child still running, so a failed run can kill them all.
export const children = new Set();

export function start(cmd, args, name, extra = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...extra });
  children.add(p);
  p.name = name;
  p.out = '';
  p.err = '';
  p.stdout?.on('data', (d) => { if (p.out.length < 100000) p.out += d; });
  p.stderr?.on('data', (d) => { if (p.err.length < 20000) p.err += d; });
  p.exited = new Promise((r) => p.on('exit', (code, sig) => { children.delete(p); r({ code, sig }); }));
  return p;
}

export async function stop(p, sig = 'SIGTERM', graceMs = 10000) {
  if (!children.has(p)) return p.exited;
  p.kill(sig);
  const t = setTimeout(() => { if (children.has(p)) p.kill('SIGKILL'); }, graceMs);
  const r = await p.exited;
  clearTimeout(t);
  return r;
}

// One POST /v1/chat/completions; never rejects (status 0 on a network error).
export function request(port, key) {
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

export async function waitReady(port, key) {
  for (let i = 0; i < 200; i++) {
    const r = await request(port, key);
    if (r.status === 200) return r;
    await sleep(50);
  }
  throw new Error(`127.0.0.1:${port} did not answer 200`);
}

// nginx config for a static upstream on staticPort answering one fixed
// "succeeded" prediction, so the proxy's own cost shows.
export function nginxConf(prefix, staticPort) {
  const PRED_ID = 'gwbenchp4s2x7d1k0m9q3r8t5v6';
  const up = `http://127.0.0.1:${staticPort}`;
  const now = new Date().toISOString();
  const PREDICTION = JSON.stringify({
    id: PRED_ID, model: 'deepseek-ai/deepseek-v3.1', version: 'hidden', input: { prompt: 'bench' }, logs: '',
    output: ['Hello', '!', ' How can', ' I help', ' you', ' today?'], data_removed: false, error: null, source: 'api',
    status: 'succeeded', created_at: now, started_at: now, completed_at: now,
    urls: { cancel: `${up}/v1/predictions/${PRED_ID}/cancel`, get: `${up}/v1/predictions/${PRED_ID}`,
      web: `https://replicate.com/p/${PRED_ID}`, stream: `${up}/v1/streams/${PRED_ID}` },
    metrics: { predict_time: 1.8, total_time: 2.0, input_token_count: 12, output_token_count: 6 },
  });
  return nginxFrame(prefix, 'static', `  server {
    listen 127.0.0.1:${staticPort} backlog=4096;
    location = /v1/models/deepseek-ai/deepseek-v3.1/predictions {
      default_type application/json;
      return 201 '${PREDICTION}';
    }
  }`);
}

// nginx proxy_pass on hopPort to the static upstream (keep-alive pool): the floor
// a forwarding hop costs (bench/nginx-compare.mjs).
export function nginxHopConf(prefix, hopPort, staticPort) {
  return nginxFrame(prefix, 'hop', nginxHopServers(hopPort, staticPort));
}

// The hop's upstream pool and server blocks (also bench/http-bench.mjs's).
export function nginxHopServers(hopPort, staticPort) {
  return `  upstream static_upstream {
    server 127.0.0.1:${staticPort};
    keepalive 128;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${hopPort} backlog=4096;
    location / {
      proxy_pass http://static_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`;
}

// One worker, its files under prefix named after `name`, no access log.
function nginxFrame(prefix, name, servers) {
  return `worker_processes 1;
pid ${prefix}/${name}.pid;
error_log ${prefix}/${name}-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/${name}-body;
  proxy_temp_path ${prefix}/tmp/${name}-proxy;
  fastcgi_temp_path ${prefix}/tmp/${name}-fastcgi;
  uwsgi_temp_path ${prefix}/tmp/${name}-uwsgi;
  scgi_temp_path ${prefix}/tmp/${name}-scgi;
  keepalive_requests 10000000;
${servers}
}
`;
}

// wrk with bench/wrk-post.lua in `mode` (chat, or predict for the upstream's own
// request) against proxyPort, on CPU `cpu` if given (taskset); its WRKJSON line
// plus rps and the summed errors.
export async function runWrk(o, proxyPort, conns, key, mode = 'chat', cpu = null) {
  const args = ['-t', String(Math.min(o.threads, conns)), '-c', String(conns), '-d', `${o.duration}s`, '--timeout', '5s',
    '-s', path.join(here, 'wrk-post.lua'), `http://127.0.0.1:${proxyPort}`];
  const env = { env: { ...process.env, WRK_MODE: mode, WRK_KEY: key } };
  const w = cpu === null ? start(o.wrk, args, 'wrk', env) : start('taskset', ['-c', String(cpu), o.wrk, ...args], 'wrk', env);
  const r = await w.exited;
  const m = /WRKJSON (\{.*\})/.exec(w.out);
  if (r.code !== 0 || !m) throw new Error(`wrk failed: ${w.out}\n${w.err}`);
  const j = JSON.parse(m[1]);
  j.rps = j.requests / (j.duration_us / 1e6);
  j.errors = j.errors_connect + j.errors_read + j.errors_write + j.errors_status + j.errors_timeout;
  return j;
}

// Table rows comparing each mode with the first (`base`) at each concurrency,
// from the median round of each.
export function overheadTable(runs, conns, modes, base) {
  const L = [];
  for (const c of conns) {
    const med = (name, f) => {
      const v = runs.filter((r) => r.conns === c && r.mode === name).map(f).sort((a, b) => a - b);
      return v[Math.floor((v.length - 1) / 2)];
    };
    const bareRps = med(base, (r) => r.rps), bareP99 = med(base, (r) => r.p99_us), bareCpu = med(base, (r) => r.cpuUsPerReq);
    for (const { name } of modes) {
      const rps = med(name, (r) => r.rps), p50 = med(name, (r) => r.p50_us), p99 = med(name, (r) => r.p99_us);
      const cpu = med(name, (r) => r.cpuUsPerReq);
      L.push(`${name.padEnd(19)} | ${String(c).padStart(5)} | ${String(Math.round(rps)).padStart(7)} | ${(p50 / 1000).toFixed(3).padStart(7)} | ` +
        `${(p99 / 1000).toFixed(3).padStart(7)} | ${(((rps / bareRps) - 1) * 100).toFixed(1).padStart(12)}% | ${((p99 - bareP99) / 1000).toFixed(3).padStart(8)} ms | ` +
        `${cpu.toFixed(1).padStart(10)} | ${(((cpu / bareCpu) - 1) * 100).toFixed(1).padStart(10)}%`);
    }
  }
  return L;
}

// Command-line options shared by the overhead benches, read into `o`;
// `more` maps a bench's own flags to a handler given the value reader.
export function parseOptions(o, more = {}) {
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
      default:
        if (!Object.hasOwn(more, a[i])) throw new Error(`unknown option ${a[i]}`);
        more[a[i]](v);
    }
  }
  return o;
}

// nginx as the static upstream, from a temporary prefix (as nobody when run as
// root); close() stops it and removes the prefix.
export function startStatic(o, staticPort, tag) {
  return startNginx(o, (prefix) => nginxConf(prefix, staticPort), tag);
}

// nginx from a temporary prefix with the config conf(prefix) makes.
export function startNginx(o, conf, tag) {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `rp-${tag}-`));
  fs.mkdirSync(path.join(prefix, 'tmp'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) { fs.chownSync(prefix, 65534, 65534); fs.chownSync(path.join(prefix, 'tmp'), 65534, 65534); }
  fs.chmodSync(prefix, 0o755);
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf(prefix));
  const ngx = start(o.nginx, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'], 'nginx',
    asRoot ? { uid: 65534, gid: 65534 } : {});
  return {
    ngx,
    async close() {
      await stop(ngx, 'SIGQUIT');
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

// Prints the overhead table (modes against the first) with its heading and
// target lines, and writes the JSON results if asked.
export function report(o, results, modes, title, target) {
  const base = modes[0].name;
  const L = ['', `== ${title}: wrk -t${o.threads} -d${o.duration}s, ${o.workers} worker(s), median of ${o.rounds} interleaved round(s) ==`];
  L.push(`mode                | conns |   req/s |  p50 ms |  p99 ms | vs ${base} req/s | vs ${base} p99 | CPU us/req | vs ${base} CPU`);
  L.push(...overheadTable(results.runs, o.conns, modes, base));
  L.push(`target: ${target} (on a busy machine, read the CPU us/req columns:`);
  L.push('the proxy\'s own CPU per request, which other processes do not inflate the way they do req/s and p99)');
  process.stdout.write(L.join('\n') + '\n');
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
}

// Runs main; on Ctrl-C or a failure, kills every child first.
export function runBench(name, main) {
  process.on('SIGINT', () => { for (const p of children) p.kill('SIGKILL'); process.exit(130); });
  main().catch((e) => {
    process.stderr.write(`${name}: ${e.stack}\n`);
    for (const p of children) p.kill('SIGKILL');
    process.exit(1);
  });
}
