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
//        [--perf DIR] [--modes bare,keys+limits+ledger] [--compare OTHER_BINARY]
//
// --perf DIR records each run's proxy with `perf record -g` into DIR/<mode>-c<conns>-r<round>.data
// (read with `perf report -i FILE --no-children`); --modes runs only the named modes;
// --compare runs each mode a second time with another build (e.g. main's), interleaved
// in the same rounds, to show a change's effect on CPU per request ("<mode>@compare").
//
// Modes are interleaved (bare, keys, keys+limits, then again for each round) so
// drift on a shared machine hits them alike; the table gives the median round.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayModes, MASTER } from './gateway-modes.mjs';
import { cpuSeconds } from './proc.mjs';
import { parseOptions, report, runBench, runWrk, sleep, start, startStatic, stop, waitReady } from './rig.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = { proxy: path.join(here, '..', 'build', 'replicate-proxy'), duration: 10, conns: [16, 64], workers: 1,
  rounds: 2, threads: 2, port: 19300, json: '', nginx: 'nginx', wrk: 'wrk' };
parseOptions(o, {
  '--shared': () => { o.shared = true; },
  '--perf': (v) => { o.perf = v(); },
  '--modes': (v) => { o.modes = v().split(','); },
  '--compare': (v) => { o.compare = v(); },
});
const STATIC = o.port, PROXY = o.port + 1;
const up = `http://127.0.0.1:${STATIC}`;
const log = (s) => process.stderr.write(`[gateway] ${s}\n`);
// One proxy per mode for the whole run, each with its own database.
async function startMode(mode, dir) {
  const db = mode.db ?? path.join(dir, `${mode.name}.db`);
  const bin = mode.proxy ?? o.proxy;
  let key = 'r8_bench';
  if (mode.keyArgs) {
    const out = execFileSync(bin, ['keys', 'generate', '--database', db, ...mode.keyArgs], { encoding: 'utf8' });
    key = JSON.parse(out).key;
  }
  const args = ['--listen', `127.0.0.1:${PROXY}`, '--upstream', up, '--workers', String(o.workers),
    '--log_level', 'warn', '--shutdown_grace', '2s', '--database', db, '--replicate_api_token', 'r8_bench'];
  if (mode.gateway) args.push('--master_key', MASTER);
  if (mode.redis) args.push('--redis_url', mode.redis);
  const p = start(bin, args, `proxy-${mode.name}`);
  const first = await waitReady(PROXY, key);
  if (!first.body.includes('"cost"')) throw new Error(`${mode.name}: unexpected reply ${first.body}`);
  return { p, key, db };
}

const MODES = gatewayModes();

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
  if (o.modes) {
    const keep = MODES.filter((m) => o.modes.includes(m.name));
    if (!keep.length) throw new Error(`--modes: none of ${o.modes.join(',')}`);
    MODES.splice(0, MODES.length, ...keep);
  }
  if (o.compare) {
    const other = MODES.map((m) => ({ ...m, name: `${m.name}@compare`, proxy: o.compare }));
    MODES.splice(0, MODES.length, ...MODES.flatMap((m, i) => [m, other[i]]));
  }
  const upstream = startStatic(o, STATIC, 'gwbench');
  const dbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-gwbench-db-'));
  const results = { when: new Date().toISOString(), params: o, runs: [] };
  try {
    await sleep(300);
    for (const c of o.conns) {
      for (let round = 0; round < o.rounds; round++) {
        for (const mode of MODES) {
          const m = await startMode(mode, dbDir);
          const cpu0 = cpuSeconds(m.p.pid);
          let perf = null;
          if (o.perf) {
            fs.mkdirSync(o.perf, { recursive: true });
            perf = start('perf', ['record', '-q', '--call-graph', 'dwarf,16384', '-F', '499', '-p', String(m.p.pid), '-o',
              path.join(o.perf, `${mode.name}-c${c}-r${round}.data`), '--', 'sleep', String(o.duration)], 'perf');
          }
          const r = await runWrk(o, PROXY, c, m.key);
          if (perf) await perf.exited;
          // CPU per request: robust on a shared machine, where req/s is not.
          r.cpuUsPerReq = ((cpuSeconds(m.p.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
          const ex = await stop(m.p);
          r.mode = mode.name; r.conns = c; r.round = round; r.exit = ex.code ?? ex.sig;
          if (mode.gateway || mode.name === 'bare') {
            // Every request made a ledger row (the SIGTERM above flushed them).
            const rep = JSON.parse(execFileSync(mode.proxy ?? o.proxy, ['spend', '--database', m.db], { encoding: 'utf8' }));
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
    await upstream.close();
    fs.rmSync(dbDir, { recursive: true, force: true });
    for (const e of engines) await e.close();
  }
  report(o, results, MODES, 'gateway overhead',
    'gateway modes within 10% of bare throughput, p99 unchanged within noise');
}

runBench('gateway-bench', main);
