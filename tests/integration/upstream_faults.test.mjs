// Issue 7, upstream side: never pay twice or for nothing. A create is never re-sent by
// the transport and one whose fate is unknown is looked up before anything else;
// transient poll/stream failures are retried while the prediction runs; failed cancels
// are retried; replies are bounded; the client never sees Replicate's address.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertChunks, assertErrorReply, closedPort, itExitsCleanly, setup, sseRequest, startProxy, user } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });

let bed;
const raw = (body, opts) => sseRequest(bed.url, '/v1/chat/completions', { stream: true, ...body }, opts);
const createsFor = (prompt) => bed.fake.creates().filter((c) => c.body?.input?.prompt?.includes(prompt));

// The in-band error event before [DONE].
function inBandError(r) {
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.bad, [], `SSE format violations in:\n${r.text}`);
  assert.equal(r.events.at(-1).data, '[DONE]', r.text.slice(-400));
  const ev = r.events.at(-2);
  assert.deepEqual(Object.keys(ev.json), ['error'], ev.data);
  return ev.json.error;
}

describe('upstream addresses stay out of client errors', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('an unreachable upstream: "could not reach Replicate (connection refused)", no host or port', async () => {
    const port = await closedPort();
    const p = await startProxy({ upstream: `http://127.0.0.1:${port}` });
    try {
      const r = await bed.request('POST', '/v1/chat/completions', { base: p.url, body: user('x') });
      assertErrorReply(r, 502, { code: 'upstream_unreachable', type: 'server_error' });
      assert.equal(r.json.error.message, 'could not reach Replicate (connection refused)');
      assert.ok(!r.text.includes('127.0.0.1') && !r.text.includes(String(port)), r.text);
    } finally {
      await p.stop();
    }
    assert.ok(p.stderr.includes(String(port)), 'the log keeps the detail (host and port)');
  });

  it('a stream host that is down: in-band error without its address', async () => {
    const port = await closedPort();
    bed.fake.script({ output: ['x'], streamBase: `http://127.0.0.1:${port}`, getBase: `http://127.0.0.1:${port}` });
    const r = await raw(ask('stream host down'));
    const e = inBandError(r);
    assert.equal(e.code, 'upstream_unreachable');
    assert.equal(e.message, 'could not reach Replicate (connection refused)');
    assert.ok(!r.text.includes(String(port)));
  });

  itExitsCleanly(() => bed, it);
});

describe('failed cancels are retried and logged', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a cancel answered 500, then reset, then accepted: three attempts, the prediction ends canceled', async () => {
    bed.fake.script({ output: ['Hello E', 'N', 'D', ' more', ' and more'], tokenDelay: 30, cancelFaults: [{ status: 500 }, 'reset'] });
    const r = await raw(ask('cancel retry', { stop: ['END'] }));
    assert.deepEqual(assertChunks(r.chunks, { finish: 'stop' }).contents, ['Hello ']);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 5000, 'the third cancel is accepted');
    const attempts = bed.fake.log.filter((e) => e.kind === 'cancel' && e.predictionId === id);
    assert.deepEqual(attempts.map((e) => e.status), [500, 'reset', 200]);
    assert.equal(bed.fake.prediction(id).status, 'canceled');
    // The reset may be retried by curl itself (a cancel may be sent twice) or by us.
    const warns = bed.proxy.stderr.split('\n').filter((l) => l.includes(`cancel of prediction ${id} failed`));
    assert.ok(warns.length >= 1, `a warning naming the prediction:\n${bed.proxy.stderr.slice(-2000)}`);
    assert.match(warns[0], /warn .*\(HTTP 500\); retry 1 of 4 in \d+ ms/);
    assert.ok(!warns.join('\n').includes('r8_'), 'no token in the log');
  });

  it('a cancel that keeps failing: five attempts, then an error in the log', async () => {
    const fail = { status: 503 };
    bed.fake.script({ output: ['Hello E', 'N', 'D', ' more', ' and more'], tokenDelay: 30, cancelFaults: [fail, fail, fail, fail, fail, fail] });
    const r = await raw(ask('cancel keeps failing', { stop: ['END'] }));
    assert.equal(assertChunks(r.chunks, { finish: 'stop' }).contents[0], 'Hello ');
    const id = bed.fake.creates()[0].predictionId;
    const line = await bed.fake.waitFor(
      () => bed.proxy.stderr.split('\n').find((l) => l.includes(`cancel of prediction ${id} failed 5 times`)), 10000, 'the final error');
    assert.match(line, /error/i);
    assert.equal(bed.fake.log.filter((e) => e.kind === 'cancel' && e.predictionId === id).length, 5);
  });

  itExitsCleanly(() => bed, it);
});

describe('a create is never paid twice', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const predictionsFor = (prompt) => [...bed.fake.predictions.values()].filter((p) => p.input.prompt.includes(prompt));

  it('the pooled connection dies after the create was read: no re-send, the prediction is found in the list', async () => {
    // Warm the pool: the next create goes out on a reused connection, the case
    // where curl would silently send it again.
    bed.fake.script({ output: ['warm'] });
    assert.equal((await bed.client.chat.completions.create(user('warm up'))).choices[0].message.content, 'warm');
    bed.fake.reset();
    bed.fake.script({ output: ['Only', ' once'], createFault: 'reset-after-create' });
    const c = await bed.client.chat.completions.create(user('pay once'));
    assert.equal(c.choices[0].message.content, 'Only once');
    assert.equal(createsFor('pay once').length, 1, 'exactly one create reached Replicate');
    assert.equal(predictionsFor('pay once').length, 1, 'exactly one prediction exists');
    assert.equal(c.id, `chatcmpl-${predictionsFor('pay once')[0].id}`, 'the answer is that prediction\'s');
    assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 1, 'the list was read once');
    assert.deepEqual(bed.fake.cancels, []);
  });

  it('the create\'s reply is cut after its 201 headers: no re-send, the prediction is found in the list', async () => {
    bed.fake.script({ output: ['Cut', ' once'], createFault: 'cut-after-headers' });
    const c = await bed.client.chat.completions.create(user('cut reply'));
    assert.equal(c.choices[0].message.content, 'Cut once');
    assert.equal(createsFor('cut reply').length, 1, 'exactly one create reached Replicate');
    assert.equal(predictionsFor('cut reply').length, 1, 'exactly one prediction exists');
    assert.equal(c.id, `chatcmpl-${predictionsFor('cut reply')[0].id}`);
  });

  it('streaming: the lost create is adopted and streamed', async () => {
    bed.fake.script({ output: ['warm'] });
    await bed.client.chat.completions.create(user('warm up'));
    bed.fake.reset();
    bed.fake.script({ output: ['str', 'eamed'], createFault: 'reset-after-create' });
    const r = await raw(ask('pay once, streaming'));
    assert.deepEqual(assertChunks(r.chunks).contents, ['streamed']);
    assert.equal(createsFor('pay once, streaming').length, 1);
    assert.equal(predictionsFor('pay once, streaming').length, 1);
  });

  it('the connection dies before anything was created: the list proves it absent, created once more', async () => {
    bed.fake.script({ output: ['second ', 'try'], createFault: 'reset-before-create' }, { output: ['second ', 'try'] });
    const c = await bed.client.chat.completions.create(user('created again'));
    assert.equal(c.choices[0].message.content, 'second try');
    assert.equal(predictionsFor('created again').length, 1, 'one prediction in the end');
    assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 1);
  });

  it('a fresh connection reset after the create (empty reply): found in the list, answered', async () => {
    const p = await bed.addProxy();
    try {
      bed.fake.script({ output: ['fresh'], createFault: 'reset-after-create' });
      const r = await bed.request('POST', '/v1/chat/completions', { base: p.url, body: user('fresh conn') });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'fresh');
      assert.equal(predictionsFor('fresh conn').length, 1);
    } finally {
      await p.stop();
      bed.proxies.splice(bed.proxies.indexOf(p), 1);
    }
  });

  it('the list cannot be read, four times: 502, and nothing is created again', async () => {
    bed.fake.script({ output: ['x'], createFault: 'reset-after-create' });
    bed.fake.listFaults.push({ status: 500 }, { status: 500 }, { status: 503 }, { status: 500 });
    const r = await bed.chat(user('list fails'));
    assertErrorReply(r, 502, { code: 'upstream_error' });
    assert.match(r.json.error.message, /not created again/);
    assert.equal(createsFor('list fails').length, 1);
    assert.equal(predictionsFor('list fails').length, 1);
    assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 4, 'the first read and 3 retries');
  });

  it('the list fails once (500): read again, the prediction adopted, not 502', async () => {
    bed.fake.script({ output: ['after ', 'a retry'], createFault: 'reset-after-create' });
    bed.fake.listFaults.push({ status: 500 });
    const r = await bed.chat(user('list fails once'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'after a retry');
    assert.equal(createsFor('list fails once').length, 1);
    assert.equal(r.json.id, `chatcmpl-${predictionsFor('list fails once')[0].id}`);
    assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 2);
  });

  // Newer predictions made while the lost create is looked up (other clients of the
  // same account): copies of ours, later, with the given input.
  const newerCopies = (prompt, n, input) => () => {
    const mine = predictionsFor(prompt)[0];
    for (let i = 1; i <= n; i++) {
      bed.fake.predictions.set(`${mine.id}x${i}`, { ...mine, id: `${mine.id}x${i}`, seq: mine.seq + 1000 + i,
        createdAt: mine.createdAt + i, listeners: new Set(), input: input ?? mine.input });
    }
  };

  it('a lost create on the list\'s second page (newer predictions fill the first): found, not 502', async () => {
    bed.fake.listPageSize = 2;
    try {
      bed.fake.script({ output: ['page ', 'two'], createFault: 'reset-after-create' });
      bed.fake.listFaults.push(newerCopies('second page', 3, { prompt: 'someone else\'s' }));
      const r = await bed.chat(user('second page'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'page two');
      assert.equal(r.json.id, `chatcmpl-${predictionsFor('second page')[0].id}`);
      const lists = bed.fake.log.filter((e) => e.kind === 'list');
      assert.equal(lists.length, 2, 'two pages read');
      assert.match(lists[1].url, /^\/v1\/predictions\?cursor=/);
      assert.equal(createsFor('second page').length, 1);
    } finally { bed.fake.listPageSize = 100; }
  });

  it('identical newer predictions on the first page: the oldest match, ours on the second page, is adopted', async () => {
    bed.fake.listPageSize = 2;
    try {
      bed.fake.script({ output: ['the ', 'oldest'], createFault: 'reset-after-create' });
      bed.fake.listFaults.push(newerCopies('same input', 3));
      const r = await bed.chat(user('same input'));
      assert.equal(r.status, 200, r.text);
      const mine = [...bed.fake.predictions.values()].filter((p) => p.input.prompt.includes('same input'))
        .sort((a, b) => a.createdAt - b.createdAt)[0];
      assert.equal(r.json.id, `chatcmpl-${mine.id}`, 'not a newer copy');
      assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 2);
    } finally { bed.fake.listPageSize = 100; }
  });

  itExitsCleanly(() => bed, it);
});

describe('transient failures while a prediction runs are retried', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const getsOf = (id) => bed.fake.log.filter((e) => e.kind === 'get' && e.predictionId === id);

  it('polls answered 429, 503 and reset, then success: the answer, no cancel', async () => {
    bed.fake.script({ output: ['Still', ' here'], syncStatus: 'starting', polls: 1,
      getFaults: [{ status: 429, headers: { 'Retry-After': '0' } }, { status: 503 }, 'reset'] });
    const c = await bed.client.chat.completions.create(user('poll faults'));
    assert.equal(c.choices[0].message.content, 'Still here');
    const id = bed.fake.creates()[0].predictionId;
    const statuses = getsOf(id).map((e) => e.status);
    assert.deepEqual(statuses.slice(0, 3), [429, 503, 'reset']);
    assert.equal(statuses.at(-1), 200);
    assert.deepEqual(bed.fake.cancels, [], 'the running prediction was not canceled');
    assert.equal(c.usage.completion_tokens, 2, 'Replicate\'s own counts');
  });

  it('Retry-After is honoured', async () => {
    bed.fake.script({ output: ['later'], syncStatus: 'starting', getFaults: [{ status: 429, headers: { 'Retry-After': '1' } }] });
    const c = await bed.client.chat.completions.create(user('retry after'));
    assert.equal(c.choices[0].message.content, 'later');
    const gets = getsOf(bed.fake.creates()[0].predictionId);
    assert.equal(gets[0].status, 429);
    assert.ok(gets[1].time - gets[0].time >= 900, `waited ${gets[1].time - gets[0].time} ms after Retry-After: 1`);
  });

  it('a stream cut mid-way: followed by polling, exact content, nothing twice', async () => {
    bed.fake.script({ output: ['one ', 'two ', 'three ', 'four'], dropAfter: 2, tokenDelay: 10, polls: 3 });
    const r = await raw(ask('stream cut', { stream_options: { include_usage: true } }));
    assert.equal(r.error, null, r.text);
    const a = assertChunks(r.chunks, { finish: 'stop', usage: true });
    assert.equal(a.contents[0], 'one two three four');
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(bed.fake.streams(id)[0].closedBy, 'drop');
    assert.ok(getsOf(id).length >= 1, 'followed by polling');
    assert.deepEqual(bed.fake.cancels, []);
  });

  it('a stream GET answered 503, 429 or refused: followed by polling, the answer', async () => {
    const port = await closedPort();
    const cases = [{ streamHttp: { status: 503 } }, { streamHttp: { status: 429, headers: { 'Retry-After': '0' } } }, { streamBase: `http://127.0.0.1:${port}` }];
    for (const [i, extra] of cases.entries()) {
      bed.fake.reset();
      bed.fake.script({ output: ['via ', 'polls'], ...extra });
      const r = await raw(ask(`stream fails ${i}`));
      assert.equal(r.error, null, r.text);
      assert.equal(assertChunks(r.chunks, { finish: 'stop' }).contents[0], 'via polls', `case ${i}`);
      assert.deepEqual(bed.fake.cancels, []);
    }
  });

  it('a stream cut, then polls failing too: retried, then the answer', async () => {
    bed.fake.script({ output: ['a', 'b', 'c'], dropAfter: 1, getFaults: ['reset', { status: 502 }] });
    const r = await raw(ask('cut and poll faults'));
    assert.equal(r.error, null, r.text);
    assert.equal(assertChunks(r.chunks, { finish: 'stop' }).contents[0], 'abc');
  });

  it('retries exhausted: a proper error (502 before the stream, in-band after), the prediction canceled', async () => {
    const five = () => Array.from({ length: 6 }, () => ({ status: 500 }));
    bed.fake.script({ output: ['x'], syncStatus: 'starting', getFaults: five() });
    const r = await bed.chat(user('exhausted'));
    assertErrorReply(r, 502, { code: 'upstream_error' });
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(getsOf(id).length, 6, 'one poll and five retries');
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 3000, 'the prediction is canceled');

    bed.fake.reset();
    bed.fake.script({ output: ['a', 'b'], noStream: true, getFaults: five() });
    const s = await raw(ask('exhausted stream'));
    assert.equal(inBandError(s).code, 'upstream_error');
  });

  itExitsCleanly(() => bed, it);
});

describe('bounded upstream replies', () => {
  before(async () => { bed = await setup({ config: { max_upstream_reply: '64KiB' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const big = (n, piece = 'x'.repeat(1000)) => Array.from({ length: n }, () => piece);

  it('a create reply over max_upstream_reply: 502, and the prediction it made is canceled', async () => {
    bed.fake.script({ output: big(100), polls: 50 });
    const r = await bed.chat(user('big create reply'));
    assertErrorReply(r, 502, { code: 'upstream_error', type: 'server_error' });
    assert.match(r.json.error.message, /larger than max_upstream_reply \(65536 bytes\)/);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 3000, 'the oversized prediction is canceled');
  });

  it('a poll reply over max_upstream_reply: 502, the prediction canceled', async () => {
    bed.fake.script({ output: big(100), syncStatus: 'starting', polls: 2 });
    const r = await bed.chat(user('big poll reply'));
    assertErrorReply(r, 502, { code: 'upstream_error' });
    assert.match(r.json.error.message, /max_upstream_reply/);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 3000, 'canceled');
  });

  it('a streamed output over max_upstream_reply is relayed whole; usage estimated', async () => {
    const out = Array.from({ length: 200 }, (_, i) => `<${i}>` + 'y'.repeat(995));
    bed.fake.script({ output: out });
    const r = await raw(ask('big stream', { stream_options: { include_usage: true } }));
    assert.equal(r.error, null, r.text.slice(-500));
    const a = assertChunks(r.chunks, { usage: true });
    assert.equal(a.contents[0], out.join(''));
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(bed.fake.gets(id).length, 0, 'the final state (the whole output again) was not fetched');
    assert.ok(r.chunks.at(-1).usage.completion_tokens > 0);
  });

  itExitsCleanly(() => bed, it);
});

describe('a create still running at the deadline', () => {
  before(async () => { bed = await setup({ config: { request_timeout: '300ms' } }); });
  after(async () => { await bed?.finish(); });

  it('504 at the deadline; the create is left to finish and its prediction is canceled', async () => {
    bed.fake.script({ output: ['late'], createDelay: 1500 });
    const r = await bed.chat(user('slow create'));
    assertErrorReply(r, 504, { code: 'upstream_timeout' });
    const create = await bed.fake.waitFor(() => bed.fake.creates()[0]?.predictionId && bed.fake.creates()[0], 5000, 'the create is answered');
    await bed.fake.waitFor(() => bed.fake.cancels.includes(create.predictionId), 5000, 'the late prediction is canceled');
  });

  itExitsCleanly(() => bed, it);
});
