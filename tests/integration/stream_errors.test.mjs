// Streams that do not simply run to the end: stop sequences (with a cancel), n > 1,
// client disconnects, failures after the first byte (in-band error + [DONE]) and
// before it (plain JSON errors).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { REPLICATE_TOKEN, assertChunks, assertErrorReply, closedPort, itExitsCleanly, sdkStream, setup, sleep, sseRequest } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });

let bed;
const raw = (body, opts) => sseRequest(bed.url, '/v1/chat/completions', { stream: true, ...body }, opts);
const tail = (k, prefix = ' tail') => Array.from({ length: k }, (_, i) => `${prefix}${i}`);

// The in-band error event: exactly {"error":{message,type,param,code}}, then [DONE].
function assertInBandError(r, { code, message }) {
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.bad, [], `SSE format violations in:\n${r.text}`);
  assert.equal(r.events.at(-1).data, '[DONE]', `ends with [DONE]:\n${r.text.slice(-400)}`);
  const ev = r.events.at(-2);
  assert.deepEqual(Object.keys(ev.json), ['error'], `the event before [DONE] is an error: ${ev.data}`);
  assert.deepEqual(Object.keys(ev.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(ev.json.error.code, code, ev.data);
  if (message) assert.ok(ev.json.error.message.includes(message), `error message ${JSON.stringify(ev.json.error.message)} contains ${JSON.stringify(message)}`);
  assert.ok(r.text.endsWith(`data: ${ev.data}\n\ndata: [DONE]\n\n`), 'error then [DONE] as the last two events');
  return ev.json.error;
}

describe('streaming: stop and n', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('stop split across output events: content cut before the match, finish "stop", prediction canceled', async () => {
    bed.fake.script({ output: ['Hello E', 'N', 'D more', ...tail(30)], tokenDelay: 50 });
    const { chunks, error } = await sdkStream(bed.client, ask('stop', { stop: ['END'] }));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.equal(r.contents[0], 'Hello ');
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel of the stopped prediction');
    assert.equal(bed.fake.prediction(id).status, 'canceled');
    assert.ok(!JSON.stringify(chunks).includes('tail'), 'nothing after the match reaches the client');
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'stop' }, 'stop is not sent upstream');
    const s = await bed.fake.waitFor(() => { const e = bed.fake.streams(id)[0]; return e?.closedAt !== undefined && e; }, 2000, 'stream closed');
    assert.equal(s.closedBy, 'client');
    const sent = s.events.filter((e) => e.type === 'output').length;
    assert.ok(sent < 15, `the stream ended at the match: the fake sent ${sent} of 33 tokens`);
  });

  it('stop, raw: the held-back "E" is never sent, and the stream is well formed', async () => {
    bed.fake.script({ output: ['Hello E', 'N', 'D more', ...tail(10)], tokenDelay: 20 });
    const r = await raw(ask('stop raw', { stop: 'END', stream_options: { include_usage: true } }));
    assert.deepEqual(r.bad, [], r.text);
    assert.equal(r.done, true);
    assert.equal(r.error, null);
    const a = assertChunks(r.chunks, { finish: 'stop', usage: true });
    assert.equal(a.contents[0], 'Hello ');
    assert.ok(!r.text.includes('Hello E'), 'the partial match was held back');
  });

  it('a partial stop match that fails is released; several stops, earliest wins', async () => {
    bed.fake.script({ output: ['Hello E', 'NX and ', 'EN', 'D', ' never'], tokenDelay: 10 });
    let { chunks } = await sdkStream(bed.client, ask('partial', { stop: 'END' }));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], 'Hello ENX and ');
    bed.fake.script({ output: ['line one\n', '\nline', ' two ## x'], tokenDelay: 10 });
    ({ chunks } = await sdkStream(bed.client, ask('multi', { stop: ['##', '\n\n'] })));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], 'line one');
  });

  it('a stop that never matches: whole content, and the held-back tail is flushed at the end', async () => {
    bed.fake.script({ output: ['ends with E', 'N'], metrics: { input_token_count: 2, output_token_count: 2 } });
    const { chunks } = await sdkStream(bed.client, ask('nomatch', { stop: ['END'], stream_options: { include_usage: true } }));
    const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 2, completion_tokens: 2 } });
    assert.equal(r.contents[0], 'ends with EN');
    // (a late cancel from an earlier test may still land in the log: check this prediction only)
    assert.ok(!bed.fake.cancels.includes(bed.fake.creates()[0].predictionId), 'nothing to cancel');
  });

  it('stop: a long partial match held over many tokens, a match in the first token, unicode stops', async () => {
    bed.fake.script({ output: ['A', 'B', 'C', 'D', 'X', ' ok'], tokenDelay: 5 });
    let { chunks } = await sdkStream(bed.client, ask('long partial', { stop: 'ABCDEFGH' }));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], 'ABCDX ok');

    bed.fake.script({ output: ['STOP right away', ' more'] });
    ({ chunks } = await sdkStream(bed.client, ask('first', { stop: 'STOP' })));
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.equal(r.contents[0], '');

    bed.fake.script({ output: ['日本', '語で', 'す。', '以上'], tokenDelay: 5 });
    ({ chunks } = await sdkStream(bed.client, ask('unicode', { stop: ['す。'] })));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], '日本語で');
  });

  it('stop in the polling fallback (no urls.stream): cut and canceled too', async () => {
    bed.fake.script({ output: ['abc ', 'de', 'f', ' never', ' x', ' y'], noStream: true, polls: 6 });
    const { chunks } = await sdkStream(bed.client, ask('poll stop', { stop: 'def' }));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], 'abc ');
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel after the stop match');
  });

  it('n = 2: two predictions, per-index role and finish chunks, per-index content, one id', async () => {
    bed.fake.script(
      { output: ['first ', 'answer', ' here'], tokenDelay: 30, match: 'two', metrics: { input_token_count: 5, output_token_count: 3 } },
      { output: ['second', ' one'], tokenDelay: 45, match: 'two', metrics: { input_token_count: 6, output_token_count: 2 } },
    );
    const { chunks, error } = await sdkStream(bed.client, ask('two please', { n: 2, stream_options: { include_usage: true } }));
    assert.equal(error, null);
    const r = assertChunks(chunks, { n: 2, finish: ['stop', 'stop'], usage: { prompt_tokens: 11, completion_tokens: 5 } });
    assert.deepEqual([...r.contents].sort(), ['first answer here', 'second one']);
    const creates = bed.fake.creates();
    assert.equal(creates.length, 2);
    for (const c of creates) {
      assert.equal(c.headers.prefer, undefined);
      assert.deepEqual(c.body, { input: { prompt: 'two please' } });
    }
    assert.equal(bed.fake.streams().length, 2, 'one stream per prediction');
    const p0 = bed.fake.predictionByOutput(r.contents[0]);
    assert.equal(r.id, `chatcmpl-${p0.id}`, 'id from the prediction of choice 0');
    // tokens of both choices arrive interleaved (both streams relayed concurrently)
    const order = chunks.filter((c) => c.choices[0]?.delta?.content).map((c) => c.choices[0].index);
    const switches = order.slice(1).filter((x, i) => x !== order[i]).length;
    assert.ok(switches >= 2, `chunks of the two choices interleave: ${order.join('')}`);
  });

  it('n = 2 with max_tokens and stop: finish reason per choice', async () => {
    bed.fake.script(
      { output: ['a b ', 'c d'], match: 'mix', metrics: { input_token_count: 1, output_token_count: 4 } },
      { output: ['x|', 'y'], match: 'mix', tokenDelay: 20, metrics: { input_token_count: 1, output_token_count: 2 } },
    );
    const { chunks } = await sdkStream(bed.client, ask('mix', { n: 2, max_tokens: 4, stop: '|' }));
    const r = assertChunks(chunks, { n: 2 });
    const byContent = Object.fromEntries(r.contents.map((c, i) => [c, r.finishes[i]]));
    assert.deepEqual(byContent, { 'a b c d': 'length', x: 'stop' });
  });

  itExitsCleanly(() => bed, it);
});

describe('streaming: client disconnects', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('SDK abort after the first content chunk: the prediction is canceled within 2 s, upstream stream closed', async () => {
    bed.fake.script({ output: tail(40, 'slow'), tokenDelay: 200 });
    let abortedAt = 0;
    const { chunks } = await sdkStream(bed.client, ask('abort me'), {
      onChunk: (c, stream) => {
        if (c.choices[0]?.delta?.content && !abortedAt) { abortedAt = Date.now(); stream.controller.abort(); }
      },
    });
    assert.ok(abortedAt, `got a content chunk before aborting: ${JSON.stringify(chunks)}`);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel after the client hung up');
    const cancel = bed.fake.log.find((e) => e.kind === 'cancel' && e.predictionId === id);
    assert.ok(cancel.time - abortedAt < 2000, `cancel ${cancel.time - abortedAt} ms after the abort`);
    assert.equal(cancel.path, `/v1/predictions/${id}/cancel`);
    assert.equal(cancel.method, 'POST');
    const s = await bed.fake.waitFor(() => { const e = bed.fake.streams(id)[0]; return e?.closedAt !== undefined && e; }, 2000, 'upstream stream closed');
    assert.equal(s.closedBy, 'client');
    assert.ok(s.events.filter((e) => e.type === 'output').length < 15, 'the stream stopped long before its end');
  });

  it('raw hang-up while waiting for the first token (cold start): canceled too', async () => {
    bed.fake.script({ output: ['never seen'], firstTokenDelay: 5000 });
    const r = await raw(ask('hang up early'), { onEvent: (e, req) => { if (e.json?.choices?.[0]?.delta?.role) setTimeout(() => req.hangUp(), 200); } });
    assert.ok(r.aborted);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel after the hang-up');
  });

  it('n = 2: a hang-up cancels both predictions', async () => {
    bed.fake.script({ output: tail(30), tokenDelay: 100, match: 'both' }, { output: tail(30), tokenDelay: 100, match: 'both' });
    const r = await raw(ask('both', { n: 2 }), { onEvent: (e, req) => { if (e.json?.choices?.[0]?.delta?.content) req.hangUp(); } });
    assert.ok(r.aborted);
    const ids = bed.fake.creates().map((c) => c.predictionId);
    assert.equal(ids.length, 2);
    await bed.fake.waitFor(() => ids.every((id) => bed.fake.cancels.includes(id)), 2000, 'both predictions canceled');
  });

  it('hang-up during the polling fallback: canceled, polling stops', async () => {
    bed.fake.script({ output: tail(40), noStream: true, polls: 40, pollDelay: 20 });
    const r = await raw(ask('poll hang up'), { onEvent: (e, req) => { if (e.json?.choices?.[0]?.delta?.content) req.hangUp(); } });
    assert.ok(r.aborted);
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel after the hang-up');
    const n = bed.fake.gets(id).length;
    await sleep(300);
    assert.ok(bed.fake.gets(id).length <= n + 1, 'no more polls after the hang-up');
  });

  it('non-streaming too: a hang-up during the Prefer: wait create cancels the prediction once it exists', async () => {
    bed.fake.script({ output: tail(5), createDelay: 400 });
    const r = await sseRequest(bed.url, '/v1/chat/completions', ask('sync gone'), { onRequest: (req) => setTimeout(() => req.hangUp(), 100) });
    assert.ok(r.aborted);
    const created = await bed.fake.waitFor(() => bed.fake.creates().find((c) => c.predictionId), 1500, 'the create answered');
    assert.match(String(created.headers.prefer), /^wait/);
    await bed.fake.waitFor(() => bed.fake.cancels.includes(created.predictionId), 1500, 'the orphan prediction is canceled');
  });

  it('the proxy still serves normally after the hang-ups', async () => {
    bed.fake.script({ output: ['fine'] });
    const { chunks } = await sdkStream(bed.client, ask('after'));
    assert.deepEqual(assertChunks(chunks).contents, ['fine']);
  });

  itExitsCleanly(() => bed, it);
});

describe('streaming: failures', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('prediction failed mid-stream: the SDK throws an APIError with the error text', async () => {
    bed.fake.script({ output: ['partial ', 'answer'], status: 'failed', error: 'E1001 out of memory', tokenDelay: 10 });
    const { chunks, error } = await sdkStream(bed.client, ask('fail'));
    assert.ok(error instanceof OpenAI.APIError, `APIError, got ${error?.constructor?.name}: ${error?.message}`);
    assert.ok(error.message.includes('E1001 out of memory'), error.message);
    assert.equal(error.code, 'prediction_failed');
    const r = assertChunks(chunks, { finished: false });
    assert.equal(r.contents[0], 'partial answer', 'the output before the failure was relayed');
  });

  it('prediction failed mid-stream, raw: partial content, then data: {"error":…} and data: [DONE]', async () => {
    bed.fake.script({ output: ['partial'], status: 'failed', error: 'E1001 out of memory' });
    const r = await raw(ask('fail raw'));
    const e = assertInBandError(r, { code: 'prediction_failed', message: 'E1001 out of memory' });
    assert.equal(e.type, 'server_error');
    assert.equal(e.param, null);
    const a = assertChunks(r.chunks, { finished: false });
    assert.equal(a.finishes[0], null, 'no finish chunk before the error');
    assert.equal(a.contents[0], 'partial');
  });

  it('upstream connection dropped without done: followed by polling (issue 7), then an in-band error if polls fail too', async () => {
    bed.fake.script({ output: ['one ', 'two ', 'three'], dropAfter: 2, tokenDelay: 10 });
    const ok = await raw(ask('drop'));
    assert.equal(ok.error, null, ok.text);
    assert.equal(assertChunks(ok.chunks).contents[0], 'one two three');
    assert.equal(bed.fake.streams()[0].closedBy, 'drop');

    bed.fake.script({ output: ['one ', 'two ', 'three'], dropAfter: 1, getHttp: { status: 500 } });
    const { error } = await sdkStream(bed.client, ask('drop sdk'));
    assert.ok(error instanceof OpenAI.APIError, `APIError, got ${error?.constructor?.name}: ${error?.message}`);
  });

  it('canceled mid-stream (done {"reason":"canceled"}): in-band error', async () => {
    bed.fake.script({ output: ['about to be '], status: 'canceled' });
    const r = await raw(ask('canceled'));
    assertInBandError(r, { code: 'prediction_canceled' });
    bed.fake.script({ output: ['x'], status: 'canceled' });
    const { error } = await sdkStream(bed.client, ask('canceled sdk'));
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.code, 'prediction_canceled');
  });

  it('a prediction canceled elsewhere while streaming (cancel through the API) ends with an in-band error', async () => {
    bed.fake.script({ output: tail(30), tokenDelay: 50 });
    let canceled = false;
    const r = await raw(ask('cancel elsewhere'), {
      onEvent: (e) => {
        if (!canceled && e.json?.choices?.[0]?.delta?.content) {
          canceled = true;
          const id = bed.fake.creates()[0].predictionId;
          fetch(`${bed.fake.url}/v1/predictions/${id}/cancel`, { method: 'POST', headers: { Authorization: 'Bearer r8_other' } });
        }
      },
    });
    assertInBandError(r, { code: 'prediction_canceled' });
  });

  it('the stream GET answered with an HTTP error (after the role chunk) and polls failing too (issue 7): in-band error, prediction canceled', async () => {
    bed.fake.script({ output: tail(5), streamHttp: { status: 500 }, getFaults: Array.from({ length: 6 }, () => ({ status: 500 })) });
    let r = await raw(ask('stream 500'));
    assertInBandError(r, { code: 'upstream_error' });
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(bed.fake.streams(id)[0].status, 500);
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel of the prediction whose stream failed');

    bed.fake.script({ output: tail(5), streamHttp: { status: 404 } });
    r = await raw(ask('stream 404'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.bad, []);
    assert.ok(r.error, `in-band error: ${r.text}`);
    assert.equal(r.events.at(-1).data, '[DONE]');
  });

  it('urls.stream and urls.get unreachable (closed port; issue 7: a stream alone falls back to polls): in-band error after the role chunk, prediction canceled', async () => {
    const port = await closedPort();
    bed.fake.script({ output: tail(5), streamBase: `http://127.0.0.1:${port}`, getBase: `http://127.0.0.1:${port}` });
    const r = await raw(ask('stream host down'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.bad, []);
    assert.ok(r.error, `in-band error: ${r.text}`);
    assert.equal(r.events.at(-1).data, '[DONE]');
    assert.equal(r.error.type, 'server_error');
    assert.equal(r.error.code, 'upstream_unreachable');
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'cancel of the prediction whose stream is unreachable');
  });

  it('the Replicate token is not sent to a stream host other than the upstream; a stream that demands it fails in-band', async () => {
    bed.fake.script({ output: ['x'] });
    const ok = await raw(ask('no token on stream'));
    assert.deepEqual(assertChunks(ok.chunks).contents, ['x']);
    const s = bed.fake.streams()[0];
    assert.equal(s.headers.authorization, undefined, 'no Authorization to the stream server (another host:port, not *.replicate.com)');
    assert.equal(bed.fake.gets()[0].headers.authorization, `Bearer ${REPLICATE_TOKEN}`, 'urls.get on the upstream gets the token');

    bed.fake.script({ output: ['x'], streamAuth: true });
    const r = await raw(ask('stream auth'));
    assert.equal(bed.fake.streams().at(-1).status, 401);
    assert.ok(r.error, `in-band error: ${r.text}`);
    assert.equal(r.events.at(-1).data, '[DONE]');
  });

  it('n = 2, one prediction fails mid-stream: in-band error, the other prediction is canceled', async () => {
    bed.fake.script(
      { output: ['ok ', 'so far'], status: 'failed', error: 'E1001 out of memory', tokenDelay: 20, match: 'pair' },
      { output: tail(40), tokenDelay: 50, match: 'pair' },
    );
    const r = await raw(ask('pair', { n: 2 }));
    assertInBandError(r, { code: 'prediction_failed', message: 'E1001' });
    const other = bed.fake.creates().map((c) => bed.fake.prediction(c.predictionId)).find((p) => p.chunks.length === 40);
    await bed.fake.waitFor(() => bed.fake.cancels.includes(other.id), 2000, 'the other prediction is canceled');
  });

  it('polling fallback: a poll that fails mid-stream gives an in-band error', async () => {
    bed.fake.script({ output: ['a', 'b'], noStream: true, getHttp: { status: 500 } });
    const r = await raw(ask('poll fails'));
    assertInBandError(r, { code: 'upstream_error' });
    assert.ok(bed.fake.gets().length >= 1);
  });

  it('polling fallback: a prediction that fails while polled gives an in-band error with its text', async () => {
    bed.fake.script({ output: ['a', 'b', 'c'], noStream: true, polls: 3, status: 'failed', error: 'E6716 timeout starting' });
    const r = await raw(ask('poll failed'));
    assertInBandError(r, { code: 'prediction_failed', message: 'E6716 timeout starting' });
  });

  it('errors known before the first byte are plain JSON: create 429 keeps Retry-After', async () => {
    bed.fake.script({ http: { status: 429, headers: { 'Retry-After': '7' } } });
    const r = await raw(ask('throttled'));
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 429, { code: 'rate_limit_exceeded' });
    assert.equal(r.headers['retry-after'], '7');
    assert.deepEqual(bed.fake.streams(), []);

    bed.fake.script({ http: { status: 429, headers: { 'Retry-After': '3' } } });
    const e = await bed.client.chat.completions.create(ask('throttled sdk', { stream: true })).then(
      () => assert.fail('expected a RateLimitError'), (x) => x);
    assert.ok(e instanceof OpenAI.RateLimitError, `${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.status, 429);
    assert.equal(e.headers.get('retry-after'), '3');
  });

  it('errors known before the first byte: upstream 401 → 401, 500 → 502, unknown model → 404', async () => {
    bed.fake.script({ http: { status: 401 } });
    let r = await raw(ask('unauth'));
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 401, { code: 'invalid_api_key' });
    assert.ok(!String(r.headers['content-type']).includes('event-stream'));

    bed.fake.script({ http: { status: 500 } });
    r = await raw(ask('boom'));
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 502, { code: 'upstream_error' });

    r = await raw({ model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }] });
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 404, { code: 'model_not_found' });
    const e = await bed.client.chat.completions.create({ model: 'gpt-nope', messages: [{ role: 'user', content: 'x' }], stream: true }).then(
      () => assert.fail('expected a NotFoundError'), (x) => x);
    assert.ok(e instanceof OpenAI.NotFoundError, `${e?.constructor?.name}`);
  });

  it('n = 2 where one create fails: a plain JSON error, and the created prediction is canceled', async () => {
    // the good create is answered at once, the failing one 150 ms later
    bed.fake.script({ output: tail(20), tokenDelay: 50, match: 'half' }, { http: { status: 429, headers: { 'Retry-After': '2' } }, createDelay: 150, match: 'half' });
    const r = await raw(ask('half', { n: 2 }));
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 429, { code: 'rate_limit_exceeded' });
    const created = bed.fake.creates().find((c) => c.predictionId);
    assert.ok(created, 'one prediction was created');
    await bed.fake.waitFor(() => bed.fake.cancels.includes(created.predictionId), 2000, 'the orphan prediction is canceled');
  });

  // A create still in flight when the exchange ends must not be simply aborted:
  // Replicate creates the prediction anyway, and only its reply tells the id to cancel.
  it('n = 2: a create still in flight when the other fails is canceled once it exists', async () => {
    bed.fake.script({ http: { status: 429 }, match: 'late' }, { output: tail(20), tokenDelay: 50, createDelay: 200, match: 'late' });
    const r = await raw(ask('late', { n: 2 }));
    assertErrorReply({ ...r, json: JSON.parse(r.text) }, 429, { code: 'rate_limit_exceeded' });
    const created = await bed.fake.waitFor(() => bed.fake.creates().find((c) => c.predictionId), 1000, 'the second create answered');
    await bed.fake.waitFor(() => bed.fake.cancels.includes(created.predictionId), 1500, 'the prediction created after the failure is canceled');
  });

  it('a client that hangs up while the create is in flight: the prediction is canceled once it exists', async () => {
    bed.fake.script({ output: tail(20), tokenDelay: 50, createDelay: 400 });
    const r = await raw(ask('gone early'), { onRequest: (req) => setTimeout(() => req.hangUp(), 100) });
    assert.ok(r.aborted);
    const created = await bed.fake.waitFor(() => bed.fake.creates().find((c) => c.predictionId), 1500, 'the create answered');
    await bed.fake.waitFor(() => bed.fake.cancels.includes(created.predictionId), 1500, 'the orphan prediction is canceled');
  });

  itExitsCleanly(() => bed, it);
});

describe('streaming: request_timeout', () => {
  before(async () => { bed = await setup({ config: { request_timeout: '800ms' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a stream that outlives request_timeout ends with an in-band upstream_timeout error; the prediction is canceled', async () => {
    bed.fake.script({ output: tail(40), tokenDelay: 100 });
    const t0 = Date.now();
    const r = await raw(ask('too slow'));
    const took = Date.now() - t0;
    assertInBandError(r, { code: 'upstream_timeout' });
    assert.ok(took >= 700 && took < 2500, `ended after ${took} ms (request_timeout 800ms)`);
    assert.ok(assertChunks(r.chunks, { finished: false }).contents[0].startsWith(' tail0 tail1'));
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'the prediction is canceled');
  });

  it('the polling fallback times out the same way', async () => {
    bed.fake.script({ output: tail(10), noStream: true, polls: 1000 });
    const r = await raw(ask('poll forever'));
    assertInBandError(r, { code: 'upstream_timeout' });
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.includes(id), 2000, 'the prediction is canceled');
  });

  itExitsCleanly(() => bed, it);
});
