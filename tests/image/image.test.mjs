// The image, built and run with podman by tests/image/run.sh (make image-test):
// non-root, read-only root filesystem, no capabilities; health (the image's own
// HEALTHCHECK), /ready, a chat completion and a stream against a fake Replicate on
// the host; `podman stop` during a long stream exits 0 within the default 10 s and
// cancels the prediction; workers follow --cpus.
// Needs IMAGE (the tag to test) and IMAGE_VERSION (its VERSION build argument).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLIENT_KEY, clientFor, closedPort, request, sdkStream, sleep, sseRequest, startFake } from '../integration/helpers.mjs';

const IMAGE = process.env.IMAGE;
const VERSION = process.env.IMAGE_VERSION;
const run = promisify(execFile);
const podman = (...args) => run('podman', args, { encoding: 'utf8', maxBuffer: 1 << 24 });
const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });

// Start a container (host network: the fake on the host's loopback is its
// upstream; nothing crosses a bridge); resolves {name, url, logs()} once it listens.
async function startContainer(fake, { extra = [], name } = {}) {
  const port = await closedPort();
  await podman('run', '-d', '--name', name, '--network', 'host',
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-v', `${name}:/var/lib/replicate-proxy`,
    '-e', `REPLICATE_PROXY_LISTEN=[::]:${port}`,
    '-e', `REPLICATE_PROXY_UPSTREAM=${fake.url}`,
    '-e', 'REPLICATE_PROXY_POLL_INTERVAL=20ms',
    ...extra, IMAGE);
  const c = {
    name,
    url: `http://127.0.0.1:${port}`,
    logs: async () => { const r = await podman('logs', name); return r.stdout + r.stderr; },
  };
  const t0 = Date.now();
  while (!/listening on/.test(await c.logs())) {
    if (Date.now() - t0 > 20000) throw new Error(`the container did not start:\n${await c.logs()}`);
    await sleep(100);
  }
  return c;
}

async function remove(name) {
  await podman('rm', '-f', '-v', '-t', '0', name).catch(() => {});
  await podman('volume', 'rm', '-f', name).catch(() => {});
}

describe('the image', { skip: !IMAGE && 'IMAGE not set (run make image-test)' }, () => {
  let fake;
  let c;
  const name = `rp-image-test-${process.pid}`;
  before(async () => {
    fake = await startFake();
    c = await startContainer(fake, { name });
  });
  after(async () => {
    await remove(name);
    await fake?.close();
  });

  it('is configured from its file (no ENV), runs as uid 10001 with a HEALTHCHECK on --healthcheck', async () => {
    const [img] = JSON.parse((await podman('image', 'inspect', IMAGE)).stdout);
    assert.equal(img.Config.User, '10001:10001');
    assert.ok(!(img.Config.Env ?? []).some((e) => e.startsWith('REPLICATE_PROXY_')), img.Config.Env);
    assert.deepEqual(img.Healthcheck.Test, ['CMD', '/usr/local/bin/replicate-proxy', '--config', '/etc/replicate-proxy/proxy.conf', '--healthcheck']);
    assert.equal(img.Labels['org.opencontainers.image.version'], VERSION);
    const v = await podman('run', '--rm', IMAGE, '--version');
    assert.equal(v.stdout, `replicate-proxy ${VERSION}\n`);
  });

  it('runs non-root, read-only, with the data volume writable', async () => {
    assert.equal((await podman('exec', name, 'id', '-u')).stdout.trim(), '10001');
    assert.equal((await podman('exec', name, 'id', '-un')).stdout.trim(), 'replicate-proxy');
    await assert.rejects(podman('exec', name, 'touch', '/etc/replicate-proxy/x'), /Read-only file system/);
    await podman('exec', name, 'touch', '/var/lib/replicate-proxy/probe');
    // No capabilities at all in the effective set.
    const status = (await podman('exec', name, 'cat', '/proc/1/status')).stdout;
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^Uid:\s+10001\s/m);
    assert.match(await c.logs(), /listening on http:\/\/\[::\]:\d+ \(\d+ workers?,/);
  });

  it('the image\'s HEALTHCHECK passes; /health and /ready answer', async () => {
    await podman('healthcheck', 'run', name); // rejects on unhealthy
    assert.deepEqual((await request(c.url, 'GET', '/health')).json, { status: 'ok' });
    assert.deepEqual((await request(c.url, 'GET', '/ready')).json, { status: 'ready' });
  });

  it('serves a chat completion (pass-through: the client key goes upstream)', async () => {
    fake.reset();
    fake.script({ output: ['Hello', ' from', ' the image'] });
    const r = await clientFor(c.url, CLIENT_KEY).chat.completions.create(ask('hi'));
    assert.equal(r.choices[0].message.content, 'Hello from the image');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(fake.creates()[0].headers.authorization, `Bearer ${CLIENT_KEY}`);
  });

  it('streams', async () => {
    fake.reset();
    const output = ['one ', 'two ', 'three'];
    fake.script({ output, tokenDelay: 20 });
    const { chunks, error } = await sdkStream(clientFor(c.url, CLIENT_KEY), ask('count'));
    assert.equal(error, null);
    assert.equal(chunks.map((k) => k.choices[0]?.delta?.content ?? '').join(''), output.join(''));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  it('SIGTERM: exit 0', async () => {
    await podman('kill', '--signal', 'TERM', name);
    const w = await podman('wait', name);
    assert.equal(w.stdout.trim(), '0', await c.logs());
    assert.match(await c.logs(), /draining for 1000 ms[\s\S]*stopped/);
  });
});

describe('the image under `podman stop` and --cpus', { skip: !IMAGE && 'IMAGE not set' }, () => {
  let fake;
  const names = [];
  before(async () => { fake = await startFake(); });
  after(async () => {
    for (const n of names) await remove(n);
    await fake?.close();
  });

  it('podman stop (default 10 s) during a long stream: exit 0 (not a SIGKILL), the stream ends in-band, the prediction is canceled', async () => {
    const name = `rp-image-stop-${process.pid}`;
    names.push(name);
    const c = await startContainer(fake, { name });
    fake.reset();
    fake.script({ output: Array.from({ length: 300 }, (_, i) => `t${i} `), tokenDelay: 100 }); // 30 s
    let stopping = null;
    const r = await sseRequest(c.url, '/v1/chat/completions', { ...ask('long'), stream: true }, {
      onEvent: (e) => { if (!stopping && e.json?.choices?.[0]?.delta?.content) stopping = podman('stop', name); },
      timeoutMs: 30000,
    });
    await stopping;
    const [info] = JSON.parse((await podman('inspect', name)).stdout);
    assert.equal(info.State.ExitCode, 0, `exit ${info.State.ExitCode} (137 = killed at the stop timeout):\n${await c.logs()}`);
    assert.equal(r.error?.code, 'shutting_down', r.text.slice(-300));
    assert.equal(r.done, true);
    const id = fake.creates()[0].predictionId;
    assert.ok(fake.cancels.includes(id), 'the cut prediction was canceled before the exit');
  });

  it('a mounted config file replaces the image\'s: its port is served and the HEALTHCHECK follows it', async () => {
    const name = `rp-image-conf-${process.pid}`;
    names.push(name);
    const port = await closedPort();
    const dir = mkdtempSync(join(tmpdir(), 'rp-image-conf-'));
    writeFileSync(join(dir, 'proxy.conf'), `listen = 127.0.0.1:${port}\nupstream = ${fake.url}\nworkers = 1\nshutdown_grace = 2s\n`);
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'proxy.conf'), 0o644);
    try {
      await podman('run', '-d', '--name', name, '--network', 'host', '--read-only', '--cap-drop', 'ALL',
        '-v', `${join(dir, 'proxy.conf')}:/etc/replicate-proxy/proxy.conf:ro`, IMAGE);
      for (let t0 = Date.now(); !/listening on/.test((await podman('logs', name)).stderr); await sleep(100)) {
        assert.ok(Date.now() - t0 < 20000, 'the container did not start');
      }
      assert.match((await podman('logs', name)).stderr, new RegExp(`listening on http://127\\.0\\.0\\.1:${port} \\(1 worker,`));
      await podman('healthcheck', 'run', name);
      assert.deepEqual((await request(`http://127.0.0.1:${port}`, 'GET', '/health')).json, { status: 'ok' });
      await podman('kill', '--signal', 'TERM', name);
      assert.equal((await podman('wait', name)).stdout.trim(), '0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--cpus 1: one worker (the cgroup quota, not the host\'s CPUs)', async () => {
    const name = `rp-image-cpus-${process.pid}`;
    names.push(name);
    const c = await startContainer(fake, { name, extra: ['--cpus', '1'] });
    assert.match(await c.logs(), /\(1 worker,/);
    await podman('kill', '--signal', 'TERM', name);
    assert.equal((await podman('wait', name)).stdout.trim(), '0');
  });
});
