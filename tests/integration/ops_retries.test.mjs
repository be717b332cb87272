// Issue 10, retries and the circuit breaker: a create that made nothing (5xx, 429,
// no connection) is sent again with backoff before the client sees an error; when
// Replicate keeps failing the circuit opens (503 upstream_unavailable + Retry-After,
// no create at all), one probe goes after the cool-down and a success closes it.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { assertErrorReply, itExitsCleanly, setup, sleep, user } from './helpers.mjs';

let bed;

async function metric(name, labels = {}) {
  const r = await bed.request('GET', '/metrics', { auth: false });
  const f = parsePrometheusTextFormat(r.text).find((x) => x.name === name);
  assert.ok(f, name);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m ? Number(m.value) : 0;
}

describe('create retries', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a 503 on the create is retried: the client gets the answer, one prediction made', async () => {
    bed.fake.script({ http: { status: 503 } }, { output: ['fine'] });
    const r = await bed.chat(user('retry 503'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'fine');
    assert.equal(bed.fake.creates().length, 2);
    assert.equal(bed.fake.creates().filter((c) => c.predictionId).length, 1);
    assert.equal(await metric('replicate_proxy_upstream_retries_total', { kind: 'create' }), 1);
    assert.match(bed.proxy.stderr, /create for choice 0 failed \(reply, HTTP 503\); retry 1 of 2 in \d+ ms/);
  });

  it('a 429 waits at least its Retry-After before the retry', async () => {
    bed.fake.script({ http: { status: 429, headers: { 'Retry-After': '1' } } }, { output: ['later'] });
    const r = await bed.chat(user('retry 429'));
    assert.equal(r.status, 200, r.text);
    const [a, b] = bed.fake.creates();
    assert.ok(b.time - a.time >= 950, `retried after ${b.time - a.time} ms`);
  });

  it('three 5xx in a row: 2 retries, then the error (502), never a 4th create', async () => {
    bed.fake.script({ http: { status: 500 } }, { http: { status: 502 } }, { http: { status: 503 } });
    const r = await bed.chat(user('always 5xx'));
    assertErrorReply(r, 502, { type: 'server_error' });
    assert.equal(bed.fake.creates().length, 3);
    assert.equal(r.headers['x-should-retry'], undefined, 'a 5xx may pass: SDKs may retry');
  });

  it('a 4xx is not retried, and the SDK is told not to retry it', async () => {
    bed.fake.script({ http: { status: 422, body: { detail: 'bad input', status: 422, title: 'Invalid' } } });
    const r = await bed.chat(user('four two two'));
    assert.ok(r.status >= 400 && r.status < 500, r.text);
    assert.equal(bed.fake.creates().length, 1);
    assert.equal(r.headers['x-should-retry'], 'false');
    const bad = await bed.chat({ model: 'deepseek-v3.1' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-should-retry'], 'false');
  });

  itExitsCleanly(() => bed, it);
});

describe('circuit breaker', () => {
  before(async () => { bed = await setup({ config: { upstream_max_retries: '0', circuit_cooldown: '1s' } }); });
  after(async () => { await bed?.finish(); });

  it('5 failed creates open it: 503 upstream_unavailable with Retry-After, no create; a probe closes it', async () => {
    for (let i = 0; i < 5; i++) bed.fake.script({ http: { status: 500 } });
    for (let i = 0; i < 5; i++) assert.equal((await bed.chat(user(`fail ${i}`))).status, 502);
    assert.equal(bed.fake.creates().length, 5);
    assert.equal(await metric('replicate_proxy_circuit_state'), 1);

    const refused = await bed.chat(user('while open'));
    assertErrorReply(refused, 503, { code: 'upstream_unavailable', type: 'server_error' });
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(bed.fake.creates().length, 5, 'no create while open');
    assert.match(bed.proxy.stderr, /circuit to Replicate open/);
    const ready = await bed.request('GET', '/ready', { auth: false });
    assert.equal(ready.status, 200, 'an open circuit does not take the instance out');
    assert.deepEqual(ready.json, { status: 'ready', circuit: 'open' });

    await sleep(1100); // the cool-down
    bed.fake.script({ output: ['back'] });
    const probe = await bed.chat(user('probe'));
    assert.equal(probe.status, 200, probe.text);
    assert.equal(bed.fake.creates().length, 6);
    assert.equal(await metric('replicate_proxy_circuit_state'), 0);
    assert.match(bed.proxy.stderr, /circuit to Replicate closed/);
    assert.equal(await metric('replicate_proxy_circuit_opened_total'), 1);
    assert.equal((await bed.chat(user('closed again'))).status, 200);
  });

  itExitsCleanly(() => bed, it);
});

describe('circuit breaker with workers = 2: one circuit for the process', () => {
  before(async () => { bed = await setup({ config: { workers: '2', upstream_max_retries: '0', circuit_cooldown: '30s' } }); });
  after(async () => { await bed?.finish(); });

  it('5 failures spread over both workers open it for both: no more creates from either', async () => {
    // Each request on its own connection: the kernel spreads them over the two
    // workers' listeners, so with a circuit per worker neither would see 5.
    for (let i = 0; i < 5; i++) bed.fake.script({ http: { status: 500 } });
    for (let i = 0; i < 5; i++) assert.equal((await bed.chat(user(`fail ${i}`))).status, 502);
    assert.equal(bed.fake.creates().length, 5);
    for (let i = 0; i < 12; i++) {
      const r = await bed.chat(user(`while open ${i}`));
      assertErrorReply(r, 503, { code: 'upstream_unavailable', type: 'server_error' });
    }
    assert.equal(bed.fake.creates().length, 5, 'neither worker sent a create while open');
    assert.equal(await metric('replicate_proxy_circuit_state'), 1);
    assert.equal(await metric('replicate_proxy_circuit_opened_total'), 1);
    assert.equal(bed.proxy.stderr.match(/circuit to Replicate open/g)?.length, 1, 'logged once');
    assert.match(bed.proxy.stderr, /circuit to Replicate open: [^\n]* circuit=open cooldown_ms=30000/);
    // Both workers answer /ready with it (12 connections reach both).
    for (let i = 0; i < 6; i++)
      assert.deepEqual((await bed.request('GET', '/ready', { auth: false })).json, { status: 'ready', circuit: 'open' });
  });

  itExitsCleanly(() => bed, it);
});
