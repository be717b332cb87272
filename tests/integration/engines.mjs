// Real PostgreSQL for the replica tests: a throwaway cluster (initdb into a
// temp dir) on a loopback port, run as the postgres user when the tests run as
// root (PostgreSQL refuses root). Debian's postgresql package provides it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { closedPort, tempDir } from './helpers.mjs';

function pgBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pg_ctl'))) return join(root, v, 'bin');
  return null;
}

export const PG_BIN = pgBin();

function uidOf(user) {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}

export async function startPostgres({ password = 'pg-Secret-Pass-For-Tests-77' } = {}) {
  if (!PG_BIN) throw new Error('PostgreSQL not installed (Debian package postgresql)');
  const dir = tempDir();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd, args, opts = {}) => (asRoot
    ? execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: 'pipe', ...opts })
    : execFileSync(join(PG_BIN, cmd), args, { stdio: 'pipe', ...opts }));
  if (asRoot) { const u = uidOf('postgres'); chownSync(dir, u, -1); chmodSync(dir, 0o700); }
  const port = await closedPort();
  const data = join(dir, 'data');
  // trust: any password is accepted, so the URL can carry one the logs must not show.
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'rp', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const pg = {
    dir,
    port,
    password,
    url: (db = 'postgres') => `postgresql://rp:${password}@127.0.0.1:${port}/${db}`,
    start: () => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']),
    stop: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    // SQL through psql (the client tools ship with the server); rows as arrays of strings.
    sql: (query, db = 'postgres') => execFileSync('psql', [pg.url(db), '-XAtq', '-F', '\t', '-c', query])
      .toString().split('\n').filter((l) => l !== '').map((l) => l.split('\t')),
    createdb: (name) => pg.sql(`CREATE DATABASE ${name}`),
    close: () => {
      try { pg.stop(); } catch { /* already stopped */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}

// Real Redis (Debian's redis-server) on a loopback port, no persistence.
// stop()/start() keep the port, as a restart does.
export const REDIS_BIN = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? null;

export async function startRedis({ password = 'redis-Secret-Pass-For-Tests-42' } = {}) {
  if (!REDIS_BIN) throw new Error('redis-server not installed (Debian package redis-server)');
  const port = await closedPort();
  const r = {
    port,
    password,
    url: `redis://:${password}@127.0.0.1:${port}`,
    proc: null,
    async start() {
      r.proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--requirepass', password], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      await new Promise((resolveR, reject) => {
        const t = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10000);
        r.proc.stdout.on('data', (d) => {
          out += d;
          if (/Ready to accept connections/.test(out)) { clearTimeout(t); resolveR(); }
        });
        r.proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`redis-server exited ${code}:\n${out}`)); });
      });
      r.proc.removeAllListeners('exit');
    },
    async stop() {
      if (!r.proc) return;
      const p = r.proc;
      r.proc = null;
      const gone = new Promise((res) => p.on('close', res));
      p.kill('SIGKILL');
      await gone;
    },
    close: () => r.stop(),
    // One command through redis-cli; its reply as text.
    cli: (...args) => {
      const out = spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', password, ...args], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`redis-cli ${args[0]}: ${out.stderr}`);
      return out.stdout.trim();
    },
  };
  await r.start();
  return r;
}
