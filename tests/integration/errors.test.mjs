// Upstream failures mapped to OpenAI errors; unreachable and slow upstreams.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { apiError, assertErrorReply, closedPort, setup, startProxy, user, itExitsCleanly } from './helpers.mjs';

describe('upstream errors', () => {
  let bed;
  // Each error's mapping as the client sees it: no create retries and no circuit
  // breaker (both are tested in ops_retries.test.mjs).
  before(async () => { bed = await setup({ config: { upstream_max_retries: '0', circuit_cooldown: '0' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  async function stillServes() {
    bed.fake.reset();
    bed.fake.script({ output: ['recovered'] });
    const c = await bed.client.chat.completions.create(user('again'));
    assert.equal(c.choices[0].message.content, 'recovered');
  }

  it('401 → 401 invalid_api_key', async () => {
    bed.fake.script({ http: { status: 401 } });
    const r = await bed.chat(user('x'));
    assertErrorReply(r, 401, { code: 'invalid_api_key' });
    bed.fake.script({ http: { status: 401 } });
    const e = await apiError(bed.client.chat.completions.create(user('x')));
    assert.equal(e.constructor.name, 'AuthenticationError');
    await stillServes();
  });

  it('402 → 402', async () => {
    bed.fake.script({ http: { status: 402 } });
    assertErrorReply(await bed.chat(user('x')), 402);
  });

  it('404 → 404', async () => {
    bed.fake.script({ http: { status: 404 } });
    assertErrorReply(await bed.chat(user('x')), 404);
  });

  it("422 → 400 carrying Replicate's detail", async () => {
    bed.fake.script({
      http: {
        status: 422,
        body: {
          detail: '- input.max_tokens: Must be less than or equal to 8192\n',
          status: 422,
          title: 'Input validation failed',
          invalid_fields: [{ type: 'number_lte', field: 'input.max_tokens', description: 'Must be less than or equal to 8192' }],
        },
      },
    });
    const e = assertErrorReply(await bed.chat(user('x')), 400);
    assert.ok(e.message.includes('Must be less than or equal to 8192'), e.message);
    await stillServes();
  });

  it('429 → 429 with Retry-After passed on', async () => {
    bed.fake.script({ http: { status: 429, headers: { 'Retry-After': '7' } } });
    const r = await bed.chat(user('x'));
    assertErrorReply(r, 429);
    assert.equal(r.headers['retry-after'], '7');
    assert.equal(bed.fake.creates().length, 1, 'the proxy does not retry the create itself');
  });

  it('429 without Retry-After → 429 (SDK RateLimitError)', async () => {
    bed.fake.script({ http: { status: 429 } });
    const e = await apiError(bed.client.chat.completions.create(user('x')));
    assert.equal(e.status, 429);
    assert.equal(e.constructor.name, 'RateLimitError');
  });

  for (const status of [500, 503]) {
    it(`${status} → 502`, async () => {
      bed.fake.script({ http: { status } });
      assertErrorReply(await bed.chat(user('x')), 502);
      await stillServes();
    });
  }

  it('a non-JSON 500 body and a garbage 201 body → 502', async () => {
    bed.fake.script({ http: { status: 500, body: '<html>oops</html>', headers: { 'Content-Type': 'text/html' } } });
    assertErrorReply(await bed.chat(user('x')), 502);
    bed.fake.script({ http: { status: 201, body: 'this is not json' } });
    assertErrorReply(await bed.chat(user('x')), 502);
    await stillServes();
  });

  it('a failed prediction (sync reply) → 502 with its error text', async () => {
    bed.fake.script({ status: 'failed', error: 'E1001 out of memory', syncStatus: 'terminal' });
    const e = assertErrorReply(await bed.chat(user('x')), 502);
    assert.ok(e.message.includes('E1001 out of memory'), e.message);
  });

  it('a prediction that fails while polled → 502 with its error text', async () => {
    bed.fake.script({ status: 'failed', error: 'E6716 Timed out starting model', syncStatus: 'starting', polls: 3 });
    const e = assertErrorReply(await bed.chat(user('x')), 502);
    assert.ok(e.message.includes('E6716 Timed out starting model'), e.message);
    assert.equal(bed.fake.gets().length, 3);
    await stillServes();
  });

  it('canceled → 502; aborted → 502', async () => {
    bed.fake.script({ status: 'canceled', polls: 2 });
    assertErrorReply(await bed.chat(user('x')), 502);
    bed.fake.script({ status: 'aborted', syncStatus: 'starting' });
    assertErrorReply(await bed.chat(user('x')), 502);
    await stillServes();
  });

  it('the SDK sees a 502 as InternalServerError', async () => {
    bed.fake.script({ http: { status: 500 } });
    const e = await apiError(bed.client.chat.completions.create(user('x')));
    assert.equal(e.status, 502);
    assert.equal(e.constructor.name, 'InternalServerError');
  });

  itExitsCleanly(() => bed, it);
});

describe('unreachable and slow upstreams', () => {
  let bed;
  let slow;
  before(async () => {
    bed = await setup({ config: { request_timeout: '300ms' } });
    slow = bed;
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('an unreachable upstream (closed port) → 502 quickly', async () => {
    const port = await closedPort();
    const p = await startProxy({ upstream: `http://127.0.0.1:${port}` });
    try {
      const t0 = Date.now();
      const r = await bed.request('POST', '/v1/chat/completions', { base: p.url, body: user('x') });
      assertErrorReply(r, 502);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    } finally {
      await p.stop();
    }
  });

  it('a create slower than request_timeout → 504', async () => {
    slow.fake.script({ createDelay: 3000 });
    const t0 = Date.now();
    const r = await slow.chat(user('x'));
    assertErrorReply(r, 504);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 2000, `took ${took} ms with request_timeout 300ms`);
  });

  it('a poll that hangs past request_timeout → 504', async () => {
    slow.fake.script({ syncStatus: 'starting', pollDelay: 3000 });
    const t0 = Date.now();
    assertErrorReply(await slow.chat(user('x')), 504);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('a prediction that never finishes (endless starting) → 504, polls stop afterwards', async () => {
    slow.fake.script({ syncStatus: 'starting', polls: 100000, startingPolls: 100000 });
    const t0 = Date.now();
    assertErrorReply(await slow.chat(user('x')), 504);
    assert.ok(Date.now() - t0 < 2000);
    const n = slow.fake.gets().length;
    assert.ok(n >= 3, `polled ${n} times`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(slow.fake.gets().length, n, 'no polling after the 504');
    assert.deepEqual(slow.fake.cancels, [slow.fake.creates()[0].predictionId], 'the timed-out prediction is canceled');
  });

  it('still serves a fast request', async () => {
    slow.fake.script({ output: ['fast'] });
    const c = await slow.client.chat.completions.create(user('x'));
    assert.equal(c.choices[0].message.content, 'fast');
  });

  itExitsCleanly(() => bed, it);
});
