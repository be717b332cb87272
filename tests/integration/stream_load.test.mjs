// Streams under load (hundreds at once) and during a graceful shutdown.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertChunks, clientFor, itExitsCleanly, sdkStream, setup, sleep, sseRequest } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });
const tokensFor = (prompt, k = 10) => Array.from({ length: k }, (_, i) => `<${prompt}:${i}>${i % 3 === 0 ? '\n' : ' '}`);

// Resolves 'refused' when nothing accepts on the port, else 'connected'.
function probe(port) {
  return new Promise((resolveP) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolveP('connected'); });
    s.on('error', (e) => resolveP(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
  });
}

describe('streaming: many at once', () => {
  let bed;
  // A load test: on a busy machine 300 streams can take longer than the
  // suite's usual 10 s deadline; the test is about delivery, not speed.
  before(async () => { bed = await setup({ config: { keepalive_interval: '5s', request_timeout: '60s' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('300 concurrent streams (10 tokens, 50 ms apart) each receive exactly their content', async () => {
    const N = 300;
    bed.fake.setDefault({ output: (input) => tokensFor(input.prompt), tokenDelay: 50, metrics: { input_token_count: 3, output_token_count: 10 } });
    try {
      const t0 = Date.now();
      const jobs = Array.from({ length: N }, (_, i) => {
        const prompt = `s${i}`;
        // half through the SDK, half as raw bytes (checked strictly)
        if (i % 2 === 0) {
          return sdkStream(bed.client, ask(prompt, { stream_options: { include_usage: true } })).then(({ chunks, error }) => {
            assert.equal(error, null, `stream ${i}: ${error?.message}`);
            const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 3, completion_tokens: 10 } });
            assert.equal(r.contents[0], tokensFor(prompt).join(''), `stream ${i}`);
            return r.id;
          });
        }
        return sseRequest(bed.url, '/v1/chat/completions', { ...ask(prompt), stream: true }).then((r) => {
          assert.equal(r.status, 200, `stream ${i}: ${r.text.slice(0, 300)}`);
          assert.deepEqual(r.bad, [], `stream ${i}`);
          assert.equal(r.done, true, `stream ${i} ends with [DONE]`);
          const a = assertChunks(r.chunks, { finish: 'stop' });
          assert.equal(a.contents[0], tokensFor(prompt).join(''), `stream ${i}`);
          return a.id;
        });
      });
      const ids = await Promise.all(jobs);
      const took = Date.now() - t0;
      assert.equal(new Set(ids).size, N, 'every stream has its own id');
      assert.equal(bed.fake.creates().length, N);
      assert.equal(bed.fake.streams().length, N);
      assert.deepEqual(bed.fake.cancels, []);
      // 10 tokens × 50 ms = 0.5 s each; concurrently, not one after the other
      assert.ok(took < 20000, `300 streams took ${took} ms (one after the other: 150 s)`);
      const closed = await bed.fake.waitFor(() => bed.fake.streams().every((s) => s.closedAt !== undefined), 3000, 'all upstream streams closed');
      assert.ok(closed);
      assert.ok(bed.fake.streams().every((s) => s.closedBy === 'client'), 'the proxy closed every upstream stream on done');
    } finally {
      bed.fake.setDefault({});
    }
  });

  itExitsCleanly(() => bed, it);
});

describe('streaming: graceful shutdown', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('SIGTERM during a stream (shutdown_grace 5s): the stream finishes normally, new connections are refused, exit 0 right after', async () => {
    // (5s rather than 2s so that "exits when the last request ends, not when the
    // grace runs out" is observable: the stream ends ~1 s after SIGTERM)
    const p = await bed.addProxy({ config: { shutdown_grace: '5s' } });
    const client = clientFor(p.url, bed.apiKey);
    const output = tokensFor('grace');
    bed.fake.script({ output, tokenDelay: 100, metrics: { input_token_count: 2, output_token_count: 10 } });
    let signaledAt = 0;
    let probeResult = null;
    const probes = [];
    const done = sdkStream(client, ask('grace', { stream_options: { include_usage: true } }), {
      onChunk: (c) => {
        if (!signaledAt && c.choices[0]?.delta?.content) {
          signaledAt = Date.now();
          p.proc.kill('SIGTERM');
          probes.push(sleep(300).then(() => probe(p.port)).then((r) => { probeResult = r; }));
        }
      },
    });
    const { chunks, error } = await done;
    const endedAt = Date.now();
    assert.ok(signaledAt, 'SIGTERM was sent mid-stream');
    assert.equal(error, null, `the running stream was not cut: ${error?.message}`);
    const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 2, completion_tokens: 10 } });
    assert.equal(r.contents[0], output.join(''));
    await Promise.all(probes);
    assert.equal(probeResult, 'refused', 'a new connection after SIGTERM is refused');
    const ex = await p.exitPromise;
    const exitedAt = Date.now();
    assert.deepEqual(ex, { code: 0, signal: null }, p.stderr.slice(-2000));
    assert.ok(exitedAt >= endedAt - 50, 'the proxy exited after the stream ended');
    assert.ok(exitedAt - endedAt < 2500, `exited ${exitedAt - endedAt} ms after the last request ended (not after the whole grace)`);
    assert.ok(!bed.fake.cancels.includes(bed.fake.creates()[0].predictionId), 'nothing canceled');
    await p.stop(); // checks stderr (no sanitizer report, no secret)
  });

  it('SIGTERM with a short grace (200ms): in-band shutting_down error + [DONE], the prediction is canceled, exit 0', async () => {
    const p = await bed.addProxy({ config: { shutdown_grace: '200ms' } });
    bed.fake.script({ output: tokensFor('long', 60), tokenDelay: 100 });
    let signaledAt = 0;
    const r = await sseRequest(p.url, '/v1/chat/completions', { ...ask('long'), stream: true }, {
      onEvent: (e) => {
        if (!signaledAt && e.json?.choices?.[0]?.delta?.content) { signaledAt = Date.now(); p.proc.kill('SIGTERM'); }
      },
    });
    assert.ok(signaledAt);
    const endedAt = r.events.at(-1).at;
    assert.equal(r.status, 200);
    assert.deepEqual(r.bad, [], r.text);
    assert.equal(r.done, true, `[DONE] at the end: ${r.text.slice(-300)}`);
    assert.ok(r.error, `an in-band error: ${r.text.slice(-300)}`);
    assert.equal(r.error.code, 'shutting_down');
    assert.equal(r.events.at(-2).json.error.code, 'shutting_down');
    const a = assertChunks(r.chunks, { finished: false });
    assert.ok(a.contents[0].length > 0 && tokensFor('long', 60).join('').startsWith(a.contents[0]), 'the content before the shutdown is a prefix of the output');
    assert.ok(endedAt - signaledAt >= 150 && endedAt - signaledAt < 3000, `the stream was ended ${endedAt - signaledAt} ms after SIGTERM (grace 200ms; the stream had 6 s left)`);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'the prediction is canceled');
    const ex = await p.exitPromise;
    assert.deepEqual(ex, { code: 0, signal: null }, p.stderr.slice(-2000));
    await p.stop();
  });

  it('SIGTERM while a stream waits for its first token (grace 200ms): in-band error after the role chunk', async () => {
    const p = await bed.addProxy({ config: { shutdown_grace: '200ms' } });
    bed.fake.script({ output: ['too late'], firstTokenDelay: 5000 });
    let signaled = false;
    const r = await sseRequest(p.url, '/v1/chat/completions', { ...ask('cold'), stream: true }, {
      onEvent: (e) => { if (!signaled && e.json?.choices?.[0]?.delta?.role) { signaled = true; p.proc.kill('SIGTERM'); } },
    });
    assert.ok(signaled);
    assert.deepEqual(r.bad, []);
    assert.equal(r.error?.code, 'shutting_down', r.text);
    assert.equal(r.events.at(-1).data, '[DONE]');
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'the prediction is canceled');
    assert.deepEqual(await p.exitPromise, { code: 0, signal: null }, p.stderr.slice(-2000));
    await p.stop();
  });

  it('SIGTERM while the create is in flight (grace 200ms): a plain 503 shutting_down JSON; the prediction is canceled once created; exit 0', async () => {
    const p = await bed.addProxy({ config: { shutdown_grace: '200ms' } });
    bed.fake.script({ output: ['a', 'b'], createDelay: 800 });
    const pending = sseRequest(p.url, '/v1/chat/completions', { ...ask('slow create'), stream: true });
    await bed.fake.waitFor(() => bed.fake.log.some((e) => e.kind === 'create') || bed.fake.queued === 0, 2000, 'the create reached the fake');
    p.proc.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.status, 503, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(JSON.parse(r.text).error.code, 'shutting_down');
    assert.deepEqual(await p.exitPromise, { code: 0, signal: null }, p.stderr.slice(-2000));
    const id = bed.fake.creates()[0]?.predictionId;
    assert.ok(id, 'the prediction was created');
    assert.ok(bed.fake.cancels.includes(id), 'and canceled before the proxy exited');
    await p.stop();
  });

  itExitsCleanly(() => bed, it);
});
