// Config file, flags, environment, --help and startup errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_KEY, CREATE_PATH, REPLICATE_TOKEN, assertCompletion, closedPort, clientFor, runProxy, startFake, startProxy, tempDir, user,
} from './helpers.mjs';

const KEYS = [
  'listen', 'upstream', 'replicate_api_token', 'model', 'prompt_format', 'workers', 'connect_timeout',
  'request_timeout', 'poll_interval', 'keepalive_interval', 'max_body_size', 'shutdown_grace', 'log_level',
  'connection_memory', 'max_connections',
];

function writeConf(lines) {
  const file = join(tempDir(), 'proxy.conf');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('config and command line', () => {
  let fake;
  before(async () => { fake = await startFake(); });
  after(async () => { await fake.close(); });

  it('--help exits 0 and lists every option', async () => {
    const r = await runProxy(['--help']);
    assert.equal(r.code, 0, `--help exit status; stderr: ${r.stderr}`);
    const text = r.stdout + r.stderr;
    for (const k of KEYS) assert.ok(text.includes(k), `--help mentions ${k}:\n${text}`);
  });

  it('an unknown key in the file → exit 2, naming the key and the line', async () => {
    const file = writeConf(['# test config', 'listen = 127.0.0.1:0', '', 'bogus_key = 1', `upstream = ${fake.url}`]);
    const r = await runProxy(['--config', file]);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    assert.match(r.stderr, /bogus_key/);
    assert.match(r.stderr, /(:|line )4\b/, 'line number 4');
    assert.doesNotMatch(r.stderr, /listening on/);
  });

  it('a bad value (workers = lots) → exit 2, naming the key and the line', async () => {
    const file = writeConf(['listen = 127.0.0.1:0', `upstream = ${fake.url}`, 'workers = lots']);
    const r = await runProxy(['--config', file]);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    assert.match(r.stderr, /workers/);
    assert.match(r.stderr, /(:|line )3\b/, 'line number 3');
  });

  for (const [key, value] of [['poll_interval', 'soon'], ['request_timeout', '-5s'], ['max_body_size', 'huge'], ['prompt_format', 'fancy'], ['listen', 'nowhere'], ['otlp_sample_ratio', '1.5']]) {
    it(`a bad value (${key} = ${value}) → exit 2 naming ${key}`, async () => {
      const file = writeConf([`upstream = ${fake.url}`, `${key} = ${value}`]);
      const r = await runProxy(['--config', file]);
      assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(key));
      assert.match(r.stderr, /(:|line )2\b/, 'line number 2');
    });
  }

  it('a missing config file → exit 2, naming the file', async () => {
    const file = join(tempDir(), 'does-not-exist.conf');
    const r = await runProxy(['--config', file]);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes('does-not-exist.conf'), r.stderr);
  });

  it('an unknown flag → exit 2, naming it', async () => {
    const r = await runProxy(['--bogus_flag', '1', '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
    assert.match(r.stderr, /bogus_flag/);
  });

  it('runs from flags alone, taking the Replicate token from REPLICATE_API_TOKEN', async () => {
    const envToken = 'r8_EnvironmentToken00000000000000000000';
    const p = await startProxy({
      noConfig: true,
      args: ['--listen', '127.0.0.1:0', '--upstream', fake.url, '--poll_interval', '20ms', '--log_level', 'debug'],
      env: { REPLICATE_API_TOKEN: envToken },
      secrets: [envToken],
    });
    try {
      fake.reset();
      fake.script({ output: ['from', ' flags'], metrics: { input_token_count: 2, output_token_count: 2 } });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'from flags' }], usage: { prompt_tokens: 2, completion_tokens: 2 } });
      const [create] = fake.creates();
      assert.equal(create.path, CREATE_PATH);
      assert.equal(create.headers.authorization, `Bearer ${envToken}`);
    } finally {
      await p.stop();
    }
  });

  it('flags win over the file (upstream in the file is a dead port)', async () => {
    const dead = await closedPort();
    const p = await startProxy({ fake, config: { upstream: `http://127.0.0.1:${dead}` }, args: ['--upstream', fake.url] });
    try {
      fake.reset();
      fake.script({ output: ['flag wins'] });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assert.equal(c.choices[0].message.content, 'flag wins');
      assert.equal(fake.creates()[0].headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    } finally {
      await p.stop();
    }
  });

  it('an upstream URL with a trailing slash gives the same request paths', async () => {
    const p = await startProxy({ fake, config: { upstream: `${fake.url}/` } });
    try {
      fake.reset();
      fake.script({ output: ['slash'], syncStatus: 'starting', polls: 2 });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assert.equal(c.choices[0].message.content, 'slash');
      const reqs = fake.requests();
      assert.deepEqual(reqs.map((r) => r.path), [CREATE_PATH, `/v1/predictions/${reqs[0].predictionId}`, `/v1/predictions/${reqs[0].predictionId}`]);
    } finally {
      await p.stop();
    }
  });

  it('accepts comments, blank lines and every documented key with unit suffixes', async () => {
    const p = await startProxy({
      fake,
      config: {
        prompt_format: 'plain',
        keepalive_interval: '5s',
        max_body_size: '8MiB',
        connection_memory: '16KiB',
        max_connections: '1000',
        request_timeout: '5m',
        connect_timeout: '500ms',
        shutdown_grace: '2s',
        log_level: 'info',
      },
    });
    try {
      fake.reset();
      fake.script({ output: ['ok'] });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assert.equal(c.choices[0].message.content, 'ok');
      assert.match(p.stderr, new RegExp(`listening on http://127\\.0\\.0\\.1:${p.port}`));
    } finally {
      await p.stop();
    }
  });
});
