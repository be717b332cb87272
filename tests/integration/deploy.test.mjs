// Deployment helpers: --healthcheck (the container HEALTHCHECK), workers = 0
// following the CPU affinity, and the container's config file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { closedPort, itExitsCleanly, PROXY_BIN, request, runProxy, setup, startProxy, tempDir } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CONTAINER_CONF = resolve(here, '../../deploy/container.conf');

describe('--healthcheck', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('exits 0 against the running proxy its config describes (stdout and stderr empty)', async () => {
    const r = await runProxy(['--config', bed.proxy.file, '--listen', `127.0.0.1:${bed.proxy.port}`, '--healthcheck']);
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: '', stderr: '' });
    assert.match(bed.proxy.stderr, /GET \/health 200/);
  });

  it('a wildcard listen address (0.0.0.0, [::]) is probed on loopback', async () => {
    for (const [listen, probeHost] of [['0.0.0.0', '0.0.0.0'], ['[::]', '[::]']]) {
      // A server token on a public address needs master_key or open_gateway (issue 8).
      const p = await bed.addProxy({ config: { listen: `${listen}:0`, open_gateway: true } });
      const r = await runProxy(['--config', p.file, '--listen', `${probeHost}:${p.port}`, '--healthcheck']);
      assert.equal(r.code, 0, `${listen}: ${r.stderr}`);
      await p.stop();
    }
  });

  it('exits 1 and says why when nothing listens', async () => {
    const port = await closedPort();
    const r = await runProxy(['--listen', `127.0.0.1:${port}`, '--healthcheck']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `replicate-proxy --healthcheck: cannot connect to 127.0.0.1 port ${port}: Connection refused\n`);
  });

  it('exits 1 when /health answers other than 200', async () => {
    const srv = http.createServer((req, res) => {
      res.writeHead(req.url === '/health' ? 503 : 404);
      res.end('{}');
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address();
    try {
      const r = await runProxy(['--listen', `127.0.0.1:${port}`, '--healthcheck']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `replicate-proxy --healthcheck: GET /health on 127.0.0.1 port ${port}: status 503\n`);
    } finally {
      srv.close();
    }
  });

  it('exits 1 for listen port 0 (nothing to probe)', async () => {
    const r = await runProxy(['--listen', '127.0.0.1:0', '--healthcheck']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /port 0/);
  });

  it('a bad config is still a usage error (exit 2)', async () => {
    const r = await runProxy(['--listen', 'nonsense', '--healthcheck']);
    assert.equal(r.code, 2);
  });

  itExitsCleanly(() => bed, it);
});

// Start `command args...` (the proxy, possibly under taskset) and resolve the
// worker count from its startup line; then SIGTERM it and expect exit 0.
function startupWorkers(command, args, env = {}) {
  return new Promise((resolveW, reject) => {
    const proc = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let workers = null;
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no startup line: ${stderr}`)); }, 15000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on \S+ \((\d+) workers?,/.exec(stderr);
      if (m && workers === null) { workers = Number(m[1]); proc.kill('SIGTERM'); }
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) => { clearTimeout(t); resolveW({ workers, code, signal, stderr }); });
  });
}

describe('workers = 0', () => {
  const args = ['--listen', '127.0.0.1:0', '--workers', '0', '--upstream', 'http://127.0.0.1:9'];

  it('taskset -c 0: one worker, in the startup log line', async () => {
    const r = await startupWorkers('taskset', ['-c', '0', PROXY_BIN, ...args]);
    assert.equal(r.workers, 1, r.stderr);
    assert.match(r.stderr, /\(1 worker, /);
    assert.deepEqual([r.code, r.signal], [0, null], r.stderr);
  });

  it('unrestricted: one worker per CPU of the affinity mask at most', async () => {
    const r = await startupWorkers(PROXY_BIN, args);
    assert.ok(r.workers >= 1 && r.workers <= availableParallelism(), `${r.workers} workers for ${availableParallelism()} CPUs`);
    assert.deepEqual([r.code, r.signal], [0, null], r.stderr);
  });
});

describe('the container config file (deploy/container.conf)', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('loads; environment variables win over it; its drain_delay applies on SIGTERM', async () => {
    const dir = tempDir();
    const p = await startProxy({
      fake: bed.fake,
      noConfig: true,
      args: ['--config', CONTAINER_CONF],
      env: {
        REPLICATE_PROXY_LISTEN: '127.0.0.1:0',
        REPLICATE_PROXY_UPSTREAM: bed.fake.url,
        REPLICATE_PROXY_DATABASE: `${dir}/replicate-proxy.db`,
      },
    });
    assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'REPLICATE_PROXY_LISTEN beat the file');
    assert.equal((await request(p.url, 'GET', '/ready')).status, 200);
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exitPromise, { code: 0, signal: null }, p.stderr.slice(-2000));
    assert.match(p.stderr, /draining for 1000 ms[\s\S]*stopping \(grace 5000 ms\)/);
    await p.stop();
  });
});
