// SIGTERM in steps: not ready while still serving (drain_delay), then the listener
// closes, then running requests get shutdown_grace, then what is cut is canceled
// upstream before the exit.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertChunks, itExitsCleanly, request, setup, sseRequest } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });
const tokensFor = (prompt, k = 10) => Array.from({ length: k }, (_, i) => `<${prompt}:${i}> `);

// Resolves 'refused' when nothing accepts on the port, else 'connected'.
function probe(port) {
  return new Promise((resolveP) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolveP('connected'); });
    s.on('error', (e) => resolveP(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
  });
}

// Poll fn until it returns a truthy value (each try is a real request, so no
// fixed sleeps decide the outcome); throws after limitMs.
async function until(fn, what, limitMs = 8000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('drain: GET /ready', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('answers 200 {"status":"ready"} while serving, without a key', async () => {
    const r = await request(bed.url, 'GET', '/ready');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ready' });
    assert.match(String(r.headers['content-type']), /^application\/json/);
  });

  it('POST /ready is 405 with Allow: GET', async () => {
    const r = await request(bed.url, 'POST', '/ready', { body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
    assert.equal(r.json.error.code, 'method_not_allowed');
  });

  itExitsCleanly(() => bed, it);
});

describe('drain: SIGTERM during a stream', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('/ready 503 while /health is 200 and new requests are served (drain_delay), then the listener closes, the stream is cut at the grace, canceled upstream, exit 0', async () => {
    // drain 4 s, grace 500 ms; the stream has 100 tokens 100 ms apart (10 s): it
    // outlives both, so it must be cut and canceled.
    const p = await bed.addProxy({ config: { drain_delay: '4s', shutdown_grace: '500ms' } });
    const output = tokensFor('long', 100);
    bed.fake.script({ output, tokenDelay: 100 });
    let signaled = false;
    let streamEnded = false;
    const streaming = sseRequest(p.url, '/v1/chat/completions', { ...ask('long'), stream: true }, {
      onEvent: (e) => {
        if (!signaled && e.json?.choices?.[0]?.delta?.content) { signaled = true; p.proc.kill('SIGTERM'); }
      },
    }).then((r) => { streamEnded = true; return r; });
    await until(() => signaled, 'the first token');

    // Draining: not ready, but alive and still serving, new connections included.
    const notReady = await until(async () => {
      const r = await request(p.url, 'GET', '/ready');
      return r.status === 503 ? r : null;
    }, '/ready to fail');
    assert.equal(streamEnded, false, 'the stream still runs while draining');
    assert.deepEqual(notReady.json, {
      error: {
        message: 'The proxy is shutting down; send new requests to another instance',
        type: 'server_error',
        param: null,
        code: 'shutting_down',
      },
    });
    const health = await request(p.url, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    bed.fake.script({ output: ['still ', 'served'] });
    const served = await request(p.url, 'POST', '/v1/chat/completions', {
      headers: { Authorization: `Bearer ${bed.apiKey}` },
      body: ask('during drain'),
    });
    assert.equal(served.status, 200, served.text);
    assert.equal(served.json.choices[0].message.content, 'still served');
    assert.match(p.stderr, /received SIGTERM, draining for 4000 ms/);
    assert.doesNotMatch(p.stderr, /stopping \(grace/, 'the listener is still open');

    // Then the listener closes.
    await until(async () => (await probe(p.port)) === 'refused', 'the listener to close');
    assert.match(p.stderr, /draining for 4000 ms[\s\S]*received SIGTERM, stopping \(grace 500 ms\)/);

    // The stream is cut with an in-band error, and its prediction canceled.
    const r = await streaming;
    assert.equal(r.status, 200);
    assert.deepEqual(r.bad, [], r.text);
    assert.equal(r.error?.code, 'shutting_down', r.text.slice(-300));
    assert.equal(r.done, true);
    const a = assertChunks(r.chunks, { finished: false });
    assert.ok(a.contents[0].length > 0 && output.join('').startsWith(a.contents[0]), 'what came is a prefix of the output');
    assert.ok(a.contents[0].length < output.join('').length, 'the stream was cut, not finished');
    const id = bed.fake.creates()[0].predictionId;
    const ex = await p.exitPromise;
    assert.deepEqual(ex, { code: 0, signal: null }, p.stderr.slice(-2000));
    assert.ok(bed.fake.cancels.includes(id), 'the cut prediction was canceled before the exit');
    await p.stop();
  });

  it('a second SIGTERM ends the drain early', async () => {
    const p = await bed.addProxy({ config: { drain_delay: '60s' } });
    p.proc.kill('SIGTERM');
    await until(async () => (await request(p.url, 'GET', '/ready')).status === 503, '/ready to fail');
    p.proc.kill('SIGTERM');
    const ex = await p.exitPromise;
    assert.deepEqual(ex, { code: 0, signal: null }, p.stderr.slice(-2000));
    assert.match(p.stderr, /draining ends early/);
    await p.stop();
  });

  it('drain_delay 0s (the default): no drain phase, exit 0 at once', async () => {
    const p = await bed.addProxy();
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exitPromise, { code: 0, signal: null }, p.stderr.slice(-2000));
    assert.doesNotMatch(p.stderr, /draining/);
    await p.stop();
  });

  itExitsCleanly(() => bed, it);
});
