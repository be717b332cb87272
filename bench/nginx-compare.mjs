// The proxy against nginx proxy_pass on the same non-streamed request (issue 11, goal 3):
//   direct  wrk -> static upstream (nginx, 1 worker, a fixed 201 "succeeded" prediction)
//   nginx   wrk -> nginx proxy_pass (1 worker, keep-alive upstream pool) -> static upstream
//   proxy   wrk -> replicate-proxy (--workers 1) -> static upstream
// nginx only forwards: it is the floor. Both hops run for the whole benchmark (the
// same process in every round, so a swing between identical rounds is the process's
// own, not a fresh start's) and the rounds interleave the targets at each concurrency.
// For each run: req/s, p50/p99 (wrk), and each hop's CPU per request from
// /proc/PID/stat utime+stime (nginx: master + worker).
//
//   node bench/nginx-compare.mjs [--proxy build/replicate-proxy] [--duration 5]
//        [--conns 16,64] [--rounds 4] [--port 19600] [--pin] [--json FILE] [--proxy-b OTHER_BINARY]
//
// --proxy-b: a second proxy binary (e.g. a build of main) as one more target,
// "proxyB", interleaved with the rest, for a before/after in one run.
//
// --pin: taskset the hop under test (nginx's worker, the proxy) to CPU 1 and wrk plus
// the static upstream to CPU 0, so the hop never migrates and never shares its core
// with the load generator.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childPids, childrenCpuSeconds, cpuSeconds, loadWindow, runqueueWaitSeconds } from './proc.mjs';
import { nginxHopConf, runBench, runWrk as rigWrk, sleep, start, startNginx, startStatic, stop } from './rig.mjs';
import os from 'node:os';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = { proxy: path.join(here, '..', 'build', 'replicate-proxy'), duration: 5, conns: [16, 64], rounds: 4,
  threads: 2, port: 19600, json: '', nginx: 'nginx', wrk: 'wrk', pin: false, proxyB: '' };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const v = () => a[++i];
    switch (a[i]) {
      case '--proxy': o.proxy = v(); break;
      case '--proxy-b': o.proxyB = v(); break;
      case '--duration': o.duration = Number(v()); break;
      case '--conns': o.conns = v().split(',').map(Number); break;
      case '--rounds': o.rounds = Number(v()); break;
      case '--port': o.port = Number(v()); break;
      case '--json': o.json = v(); break;
      case '--nginx': o.nginx = v(); break;
      case '--wrk': o.wrk = v(); break;
      case '--pin': o.pin = true; break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
}
const STATIC = o.port, HOP = o.port + 1, PROXY = o.port + 2, PROXY_B = o.port + 3;
const log = (s) => process.stderr.write(`[nginx-compare] ${s}\n`);
const pidsOf = (p) => [p.pid, ...childPids(p.pid)];
const cpuOf = (pids) => pids.reduce((s, pid) => s + (cpuSeconds(pid) ?? 0), 0);
const rqOf = (pids) => pids.reduce((s, pid) => s + (runqueueWaitSeconds(pid) ?? 0), 0);
// Context switches of every thread: [voluntary (went to sleep), involuntary (preempted)].
function ctxsw(pids) {
  const n = [0, 0];
  for (const pid of pids) {
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const st = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        n[0] += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
        n[1] += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
      } catch { /* exited */ }
    }
  }
  return n;
}
const pin = (pids, cpu) => { if (o.pin) for (const pid of pids) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }); };

const runWrk = (port, mode, conns) => rigWrk(o, port, conns, 'r8_bench', mode, o.pin ? 0 : null);

async function measure(target, port, mode, conns, hopPids, round, allPids) {
  const c0 = cpuOf(hopPids), q0 = rqOf(hopPids), x0 = ctxsw(hopPids);
  const load = loadWindow(allPids), w0 = childrenCpuSeconds(process.pid);
  const r = await runWrk(port, mode, conns);
  const win = load.end(childrenCpuSeconds(process.pid) - w0); // wrk's own: reaped by now
  r.target = target; r.conns = conns; r.round = round;
  r.otherCores = win.otherCores;
  if (hopPids.length) {
    r.cpuUsPerReq = ((cpuOf(hopPids) - c0) * 1e6) / Math.max(1, r.requests);
    r.rqWaitPct = ((rqOf(hopPids) - q0) / win.wallS) * 100;
    const x1 = ctxsw(hopPids);
    r.volCsPerReq = (x1[0] - x0[0]) / Math.max(1, r.requests);
    r.invCsPerReq = (x1[1] - x0[1]) / Math.max(1, r.requests);
  }
  log(`${target.padEnd(6)} c=${conns} round ${round}: ${Math.round(r.rps)} req/s, p50 ${(r.p50_us / 1000).toFixed(3)} ms, ` +
    `p99 ${(r.p99_us / 1000).toFixed(3)} ms` + (hopPids.length ? `, ${r.cpuUsPerReq.toFixed(1)} CPU us/req, rq-wait ${r.rqWaitPct.toFixed(0)}%, ` +
      `ctx switches/req ${r.volCsPerReq.toFixed(3)} vol ${r.invCsPerReq.toFixed(3)} preempted` : '') +
    `, errors ${r.errors}, others ${win.otherCores.toFixed(2)} cores`);
  return r;
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const spread = (v) => { const m = median(v); return [(Math.min(...v) / m - 1) * 100, (Math.max(...v) / m - 1) * 100]; };

async function main() {
  const upstream = startStatic(o, STATIC, 'ngxcmp');
  const hopNginx = startNginx(o, (prefix) => nginxHopConf(prefix, HOP, STATIC), 'ngxcmp-hop');
  const hop = hopNginx.ngx;
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-ngxcmp-db-'));
  const startProxy = (bin, port, name) => start(bin, ['--listen', `127.0.0.1:${port}`, '--upstream', `http://127.0.0.1:${STATIC}`,
    '--workers', '1', '--log_level', 'warn', '--shutdown_grace', '2s', '--replicate_api_token', 'r8_bench',
    '--database', path.join(dbDir, `${name}.db`)], name);
  const proxies = [{ name: 'proxy', port: PROXY, p: startProxy(o.proxy, PROXY, 'proxy') }];
  if (o.proxyB) proxies.push({ name: 'proxyB', port: PROXY_B, p: startProxy(o.proxyB, PROXY_B, 'proxyB') });
  const TARGETS = ['direct', 'nginx', ...proxies.map((x) => x.name)];
  const results = { when: new Date().toISOString(), params: o, runs: [] };
  try {
    await sleep(500);
    // One warm-up request each (and a check that the proxy answers a chat completion).
    for (const x of proxies) await runWrk(x.port, 'chat', 1).catch((e) => { throw new Error(`${x.name} not answering: ${e.message}\n${x.p.err}`); });
    await runWrk(HOP, 'predict', 1);
    pin(pidsOf(upstream.ngx), 0);
    pin(pidsOf(hop), 1);
    for (const x of proxies) pin([x.p.pid], 1);
    const allPids = () => [process.pid, ...pidsOf(upstream.ngx), ...pidsOf(hop), ...proxies.map((x) => x.p.pid)];
    for (const c of o.conns) {
      for (let round = 0; round < o.rounds; round++) {
        // Alternate which hop goes first so slow drift hits both alike.
        const order = round % 2 ? [...TARGETS].reverse() : TARGETS;
        for (const t of order) {
          const x = proxies.find((y) => y.name === t);
          if (t === 'direct') results.runs.push(await measure('direct', STATIC, 'predict', c, [], round, allPids));
          else if (t === 'nginx') results.runs.push(await measure('nginx', HOP, 'predict', c, pidsOf(hop), round, allPids));
          else results.runs.push(await measure(t, x.port, 'chat', c, [x.p.pid], round, allPids));
        }
      }
    }
  } finally {
    for (const x of proxies) await stop(x.p);
    await hopNginx.close();
    await upstream.close();
    fs.rmSync(dbDir, { recursive: true, force: true });
  }
  const L = ['', `== proxy vs nginx proxy_pass: wrk -t${o.threads} -d${o.duration}s, 1 worker each, ${o.rounds} interleaved rounds, ` +
    `pinned: ${o.pin ? 'yes (hops CPU 1, wrk + upstream CPU 0)' : 'no'} ==`,
  'conns | target | req/s (median) | p50 ms | p99 ms | CPU us/req median [min..max vs median] | ctx sw/req vol+preempted | others (cores)'];
  const sum = {};
  for (const c of o.conns) {
    for (const t of TARGETS) {
      const rs = results.runs.filter((r) => r.conns === c && r.target === t);
      const s = { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50_us)), p99: median(rs.map((r) => r.p99_us)),
        others: Math.max(...rs.map((r) => r.otherCores)) };
      if (t !== 'direct') {
        s.cpu = median(rs.map((r) => r.cpuUsPerReq)); s.cpuSpread = spread(rs.map((r) => r.cpuUsPerReq));
        s.vol = median(rs.map((r) => r.volCsPerReq)); s.inv = median(rs.map((r) => r.invCsPerReq));
      }
      sum[`${t}${c}`] = s;
      L.push(`${String(c).padStart(5)} | ${t.padEnd(6)} | ${String(Math.round(s.rps)).padStart(14)} | ${(s.p50 / 1000).toFixed(3).padStart(6)} | ` +
        `${(s.p99 / 1000).toFixed(3).padStart(6)} | ` + (s.cpu === undefined ? '-'.padStart(37)
        : `${s.cpu.toFixed(1).padStart(6)} [${s.cpuSpread[0].toFixed(0)}%..+${s.cpuSpread[1].toFixed(0)}%]`.padEnd(37)) +
        ` | ${s.vol === undefined ? '-'.padStart(24) : `${s.vol.toFixed(3)}+${s.inv.toFixed(3)}`.padStart(24)} | ${s.others.toFixed(2)}`);
    }
  }
  L.push('', 'conns | proxy/nginx CPU per req (target <= 2) | proxy/nginx req/s (target >= 0.5) | added p99 vs direct (c=16 target < 1 ms) | vs nginx');
  for (const c of o.conns) {
    const n = sum[`nginx${c}`], p = sum[`proxy${c}`], d = sum[`direct${c}`], b = sum[`proxyB${c}`];
    if (b) L.push(`${String(c).padStart(5)} | proxyB/nginx CPU ${(b.cpu / n.cpu).toFixed(2)}, req/s ${(b.rps / n.rps).toFixed(2)}; proxy/proxyB CPU ${(p.cpu / b.cpu).toFixed(2)}`);
    L.push(`${String(c).padStart(5)} | ${(p.cpu / n.cpu).toFixed(2).padStart(38)} | ${(p.rps / n.rps).toFixed(2).padStart(33)} | ` +
      `${((p.p99 - d.p99) / 1000).toFixed(3).padStart(38)} ms | ${((p.p99 - n.p99) / 1000).toFixed(3)} ms`);
  }
  L.push('others: the most cores used by processes outside the benchmark in any round of that row (> 0.25: disturbed, rerun on a quiet machine)');
  process.stdout.write(L.join('\n') + '\n');
  results.summary = sum;
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(results, null, 2));
}

runBench('nginx-compare', main);
