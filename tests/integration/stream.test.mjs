// Streaming chat completions (stream: true): the upstream side (create without
// Prefer, GET urls.stream, close on done, GET urls.get for usage), OpenAI's chunk
// format through the SDK and as raw bytes, exact content, real-time relay, usage,
// the polling fallback, keep-alive comments and the legacy completions stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CREATE_PATH, REPLICATE_TOKEN, assertChunks, itExitsCleanly, sdkStream, setup, sseRequest } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (content, extra) => ({ model: M, messages: [{ role: 'user', content }], ...extra });

let bed;
const raw = (body, opts) => sseRequest(bed.url, '/v1/chat/completions', { stream: true, ...body }, opts);

describe('streaming: upstream protocol and chunk format', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('SDK: role chunk, content chunks, finish chunk, one id/created; create without Prefer, then GET urls.stream', async () => {
    bed.fake.script({ output: ['Hel', 'lo', ' there', '!'], tokenDelay: 5, metrics: { input_token_count: 7, output_token_count: 4 } });
    const { chunks, error } = await sdkStream(bed.client, ask('Say hi'));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.deepEqual(r.contents, ['Hello there!']);
    // one content chunk per output event, in order
    assert.deepEqual(chunks.slice(1, -1).map((c) => c.choices[0].delta.content), ['Hel', 'lo', ' there', '!']);

    const creates = bed.fake.creates();
    assert.equal(creates.length, 1);
    const c = creates[0];
    assert.equal(c.path, CREATE_PATH);
    assert.equal(c.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    assert.equal(c.headers.prefer, undefined, 'a streaming create has no Prefer: wait');
    assert.deepEqual(c.body, { input: { prompt: 'Say hi' } }, 'stream is not an input');
    assert.deepEqual(bed.fake.unknownInputKeys, []);
    assert.equal(r.id, `chatcmpl-${c.predictionId}`);

    const streams = bed.fake.streams();
    assert.equal(streams.length, 1, 'one GET of urls.stream');
    const s = streams[0];
    assert.equal(s.server, 'stream', 'the stream request went to the stream server (urls.stream used as given)');
    assert.equal(s.method, 'GET');
    assert.equal(s.path, `/v1/streams/${bed.fake.prediction(c.predictionId).streamToken}`, 'the path of urls.stream');
    assert.equal(s.predictionId, c.predictionId);
    assert.match(String(s.headers.accept), /^text\/event-stream/, 'Accept: text/event-stream');
    assert.ok(s.time >= c.time, 'stream GET after the create');
    assert.ok(!bed.fake.cancels.includes(c.predictionId), 'a stream that finished normally cancels nothing');
  });

  it('raw bytes: only data: lines, blank-line terminated events, [DONE] last; SSE response headers', async () => {
    bed.fake.script({ output: ['a', 'b\nc', ''], streamExtras: true });
    const r = await raw(ask('raw'));
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['x-accel-buffering'], 'no');
    assert.deepEqual(r.bad, [], `SSE format violations in:\n${r.text}`);
    assert.ok(!/^(event|id|retry):/m.test(r.text), 'no event:/id:/retry: lines');
    assert.ok(r.text.endsWith('data: [DONE]\n\n'), `ends with [DONE]: ${JSON.stringify(r.text.slice(-80))}`);
    assert.ok(r.text.startsWith('data: {'), 'starts with a data line');
    assert.equal(r.done, true);
    assert.equal(r.error, null);
    assert.equal(r.events.at(-1).data, '[DONE]');
    const a = assertChunks(r.chunks, { finish: 'stop' });
    assert.deepEqual(a.contents, ['ab\nc']);
    // the logs event and retry: line are not relayed in any form
    assert.ok(!r.text.includes('generating'), 'logs event not relayed');
    assert.ok(!r.text.includes('retry'), 'retry: line not relayed');
    // the role chunk carries logprobs: null and finish_reason: null
    assert.deepEqual(r.chunks[0].choices[0], { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
  });

  it('exact content: newlines (multi-line data), "\\n"-only and empty tokens, unicode, JSON escapes', async () => {
    const output = [
      '\n\n', 'Line one\nline two', '', '\n', 'tab\there', '', '"quoted" \\ back\\slash',
      ' 日本語 ', '🙂👍🏽', ' e\u0301 ', '\u2028\u2029', ' </script> ', '\u0001\u001f', '\n\n\n', 'end', '',
    ];
    bed.fake.script({ output, metrics: { input_token_count: 3, output_token_count: output.length } });
    const { chunks, error } = await sdkStream(bed.client, ask('weird'));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.equal(r.contents[0], output.join(''));
    // empty output events produce nothing visible: either no chunk or an empty one
    for (const c of chunks.slice(1, -1)) assert.equal(typeof c.choices[0].delta.content, 'string');

    // and the same through raw bytes: each event one data line (newlines escaped in JSON)
    bed.fake.script({ output });
    const rr = await raw(ask('weird raw'));
    assert.deepEqual(rr.bad, [], rr.text);
    assert.equal(assertChunks(rr.chunks).contents[0], output.join(''));
  });

  it('real-time relay: each token reaches the client as it is produced, not buffered', async () => {
    const output = ['one ', 'two ', 'three ', 'four ', 'five ', 'six'];
    bed.fake.script({ output, tokenDelay: 200 });
    const t0 = Date.now();
    const { chunks, error } = await sdkStream(bed.client, ask('slow'));
    assert.equal(error, null);
    assertChunks(chunks, { finish: 'stop' });
    const sent = bed.fake.streams()[0].events.filter((e) => e.type === 'output');
    assert.equal(sent.length, output.length);
    const got = chunks.filter((c) => c.choices[0]?.delta?.content);
    assert.deepEqual(got.map((c) => c.choices[0].delta.content), output);
    const last = sent.at(-1).at;
    assert.ok(got[0]._at < sent[1].at, `first content chunk at +${got[0]._at - t0} ms, before the fake sent the second token (+${sent[1].at - t0} ms)`);
    assert.ok(last - got[0]._at > 500, `first content chunk ${last - got[0]._at} ms before the last token was sent`);
    for (let i = 0; i < output.length; i++) {
      const lag = got[i]._at - sent[i].at;
      assert.ok(lag < 150, `token ${i} relayed after ${lag} ms (tokens 200 ms apart)`);
    }
  });

  it('the role chunk is sent before the first token (cold start), at once', async () => {
    bed.fake.script({ output: ['late'], firstTokenDelay: 600 });
    const t0 = Date.now();
    const r = await raw(ask('cold'));
    assert.deepEqual(assertChunks(r.chunks).contents, ['late']);
    const roleAt = r.chunks[0]._at - t0;
    const contentAt = r.chunks[1]._at - t0;
    assert.ok(roleAt < 400, `role chunk after ${roleAt} ms`);
    assert.ok(contentAt >= 550, `content after ${contentAt} ms`);
  });

  it('include_usage: a usage chunk with choices [] after the finish chunk, from the finished prediction (GET urls.get after done)', async () => {
    bed.fake.script({ output: ['x', 'y', 'z'], metrics: { input_token_count: 21, output_token_count: 3 } });
    const { chunks, error } = await sdkStream(bed.client, ask('usage', { stream_options: { include_usage: true } }));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 21, completion_tokens: 3 } });
    assert.equal(r.usage.total_tokens, 24);
    assert.equal(chunks.at(-1).choices.length, 0, 'usage chunk is last');
    const id = bed.fake.creates()[0].predictionId;
    const gets = bed.fake.gets(id);
    assert.ok(gets.length >= 1, 'the proxy read the finished prediction');
    const s = bed.fake.streams(id)[0];
    assert.ok(gets.at(-1).time >= s.doneAt, 'GET urls.get after done');
    assert.equal(gets.at(-1).headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    assert.equal(gets.at(-1).path, `/v1/predictions/${id}`);

    // raw: the usage chunk is `data: {...,"choices":[],"usage":{...}}` right before [DONE]
    bed.fake.script({ output: ['x'], metrics: { input_token_count: 2, output_token_count: 1 } });
    const rr = await raw(ask('usage raw', { stream_options: { include_usage: true } }));
    assert.deepEqual(rr.bad, []);
    const u = rr.events.at(-2).json;
    assert.deepEqual(u.choices, []);
    // cost: USD at the default prices (0.672 / 2.016 per million tokens).
    assert.deepEqual(u.usage, { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3, cost: Number(((2 * 0.672 + 1 * 2.016) / 1e6).toPrecision(12)) });
    assert.equal(rr.events.at(-1).data, '[DONE]');
  });

  it('include_usage when the API lags behind the stream (still "processing" after done): polled until terminal', async () => {
    bed.fake.script({ output: ['lag', 'ging'], statusLag: 3, metrics: { input_token_count: 8, output_token_count: 2 } });
    const { chunks, error } = await sdkStream(bed.client, ask('lag', { stream_options: { include_usage: true } }));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 8, completion_tokens: 2 } });
    assert.deepEqual(r.contents, ['lagging'], 'the full output is not relayed twice');
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(bed.fake.gets(id).length, 4, 'three "processing" GETs, then the terminal one');
  });

  it('include_usage without token counts in the metrics: estimated at ceil(bytes/4)', async () => {
    // prompt "Hello, world!" 13 bytes → 4; output 日本語です 15 bytes → 4
    bed.fake.script({ output: ['日本', '語です'], metrics: null });
    const { chunks } = await sdkStream(bed.client, ask('Hello, world!', { stream_options: { include_usage: true } }));
    assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 4, completion_tokens: 4 } });
  });

  it('without include_usage (or include_usage false) there is no usage chunk', async () => {
    bed.fake.script({ output: ['x'] }, { output: ['y'] });
    let { chunks } = await sdkStream(bed.client, ask('no usage'));
    assertChunks(chunks, { usage: false });
    ({ chunks } = await sdkStream(bed.client, ask('no usage', { stream_options: { include_usage: false } })));
    assertChunks(chunks, { usage: false });
  });

  it('finish_reason "length" when output tokens reach max_tokens; usage then counts them', async () => {
    bed.fake.script({ output: ['a ', 'b ', 'c'], metrics: { input_token_count: 4, output_token_count: 3 } });
    let { chunks } = await sdkStream(bed.client, ask('limit', { max_tokens: 3, stream_options: { include_usage: true } }));
    assertChunks(chunks, { finish: 'length', usage: { prompt_tokens: 4, completion_tokens: 3 } });
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'limit', max_tokens: 3 });

    bed.fake.script({ output: ['a ', 'b'], metrics: { input_token_count: 4, output_token_count: 2 } });
    ({ chunks } = await sdkStream(bed.client, ask('limit', { max_completion_tokens: 3 })));
    assertChunks(chunks, { finish: 'stop' });
  });

  it('the proxy closes the upstream stream on done (the fake holds it open afterwards)', async () => {
    bed.fake.script({ output: ['held', ' open'], holdAfterDone: 20000 });
    const t0 = Date.now();
    const { chunks, error } = await sdkStream(bed.client, ask('hold'));
    assert.equal(error, null);
    assert.deepEqual(assertChunks(chunks).contents, ['held open']);
    assert.ok(Date.now() - t0 < 3000, `the client's stream ended ${Date.now() - t0} ms after start, without waiting for the upstream EOF`);
    const s = await bed.fake.waitFor(() => { const e = bed.fake.streams()[0]; return e?.closedAt !== undefined && e; }, 2000, 'upstream stream closed');
    assert.equal(s.closedBy, 'client', 'the proxy (the client of the stream) closed it');
    assert.ok(s.doneAt !== undefined);
    assert.ok(s.closedAt - s.doneAt < 500, `closed ${s.closedAt - s.doneAt} ms after done`);
  });

  it('streamExtras (a retry: line and a logs event) are ignored', async () => {
    bed.fake.script({ output: ['with ', 'extras'], streamExtras: true, tokenDelay: 10 });
    const { chunks, error } = await sdkStream(bed.client, ask('extras'));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.deepEqual(r.contents, ['with extras']);
    assert.ok(bed.fake.streams()[0].events.some((e) => e.type === 'logs'), 'the fake did send a logs event');
  });

  it('polling fallback (no urls.stream): output relayed as it grows, same chunk format', async () => {
    const output = ['grow', 'ing ', 'bit by', ' bit'];
    // GET k returns the first k chunks (processing) until GET 4, terminal; each GET takes 100 ms
    bed.fake.script({ output, noStream: true, polls: 4, pollDelay: 100, metrics: { input_token_count: 5, output_token_count: 4 } });
    const { chunks, error } = await sdkStream(bed.client, ask('poll', { stream_options: { include_usage: true } }));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 5, completion_tokens: 4 } });
    assert.deepEqual(r.contents, [output.join('')]);
    const id = bed.fake.creates()[0].predictionId;
    assert.equal(r.id, `chatcmpl-${id}`);
    assert.equal(bed.fake.creates()[0].headers.prefer, undefined);
    assert.deepEqual(bed.fake.streams(), [], 'no stream request without urls.stream');
    const gets = bed.fake.gets(id);
    assert.equal(gets.length, 4);
    const content = chunks.filter((c) => c.choices[0]?.delta?.content);
    assert.deepEqual(content.map((c) => c.choices[0].delta.content), output, 'one chunk per poll with only the new output');
    assert.ok(content[0]._at < gets[3].time, 'the first chunk arrived before the last poll was even sent');
  });

  it('polling fallback: an output already complete in one poll, and a string output', async () => {
    bed.fake.script({ output: ['all', ' at', ' once'], noStream: true, polls: 1 });
    let { chunks } = await sdkStream(bed.client, ask('poll once'));
    assert.deepEqual(assertChunks(chunks, { finish: 'stop' }).contents, ['all at once']);
    bed.fake.script({ output: ['str', 'ing ', 'out'], noStream: true, polls: 3, outputShape: 'string' });
    ({ chunks } = await sdkStream(bed.client, ask('poll string')));
    assert.deepEqual(assertChunks(chunks, { finish: 'stop' }).contents, ['string out']);
  });

  it('large output: a 256 KiB token and 2 MiB in total arrive intact', async () => {
    const big = 'x'.repeat(256 * 1024 - 7) + '¶\n"\\end';
    const many = Array.from({ length: 256 }, (_, i) => `${String(i).padStart(4, '0')}:${'y'.repeat(7000)}\n`);
    bed.fake.script({ output: [big, ...many, 'fin'] });
    const { chunks, error } = await sdkStream(bed.client, ask('big'));
    assert.equal(error, null);
    const r = assertChunks(chunks, { finish: 'stop' });
    assert.equal(r.contents[0].length, big.length + many.join('').length + 3);
    assert.ok(r.contents[0] === [big, ...many, 'fin'].join(''), 'content is exact');
  });

  it('a client that stops reading for a while (backpressure) still gets every byte, in order', async () => {
    const output = Array.from({ length: 800 }, (_, i) => `[${i}]${'z'.repeat(8000)}`); // 6 MB: more than the socket buffers hold
    bed.fake.script({ output, metrics: { input_token_count: 1, output_token_count: 500 } }); // reported count < 1024: "stop"
    const text = await new Promise((resolveT, reject) => {
      const body = JSON.stringify({ ...ask('slow reader'), stream: true });
      const req = http.request(new URL('/v1/chat/completions', bed.url), {
        method: 'POST', agent: false,
        headers: { Authorization: `Bearer ${bed.apiKey}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      }, (res) => {
        res.pause();
        const parts = [];
        setTimeout(() => { res.on('data', (d) => parts.push(d)); res.resume(); }, 1000);
        res.on('end', () => resolveT(Buffer.concat(parts).toString('utf8')));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    const chunks = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)));
    assert.equal(assertChunks(chunks, { finish: 'stop' }).contents[0], output.join(''));
    const s = bed.fake.streams()[0];
    assert.ok(s.doneAt !== undefined, 'the upstream stream ran to done');
  });

  it('legacy POST /v1/completions with stream: text_completion chunks, a finish chunk, usage, [DONE]', async () => {
    bed.fake.script({ output: ['Once', ' upon', ' a time'], metrics: { input_token_count: 3, output_token_count: 3 } });
    const r = await sseRequest(bed.url, '/v1/completions', { model: M, prompt: 'Tell me', stream: true, stream_options: { include_usage: true } });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.deepEqual(r.bad, [], r.text);
    assert.equal(r.done, true);
    const id = r.chunks[0].id;
    assert.equal(id, `cmpl-${bed.fake.creates()[0].predictionId}`);
    assert.equal(bed.fake.creates()[0].headers.prefer, undefined);
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Tell me' });
    let text = '';
    const body = r.chunks.filter((c) => c.choices.length);
    for (const c of r.chunks) {
      assert.equal(c.object, 'text_completion');
      assert.equal(c.id, id);
      assert.equal(c.created, r.chunks[0].created);
      assert.equal(c.model, M);
    }
    for (const c of body.slice(0, -1)) {
      assert.equal(c.choices[0].finish_reason, null);
      assert.equal(c.choices[0].index, 0);
      text += c.choices[0].text;
    }
    assert.equal(text, 'Once upon a time');
    assert.equal(body.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(body.at(-1).choices[0].text, '');
    assert.deepEqual(r.chunks.at(-1).choices, []);
    assert.deepEqual(r.chunks.at(-1).usage, { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6, cost: Number(((3 * 0.672 + 3 * 2.016) / 1e6).toPrecision(12)) });

    // and through the SDK
    bed.fake.script({ output: ['a', 'b'] });
    const s = await sdkStream(bed.client, { model: M, prompt: 'x' }, { api: 'completions' });
    assert.equal(s.error, null);
    assert.equal(s.chunks.map((c) => c.choices[0]?.text ?? '').join(''), 'ab');
    assert.equal(s.chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  itExitsCleanly(() => bed, it);
});

describe('streaming: keep-alive comments', () => {
  before(async () => { bed = await setup({ config: { keepalive_interval: '200ms' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('raw: ": keep-alive" comments while waiting for the first token, then the content', async () => {
    bed.fake.script({ output: ['after', ' the wait'], firstTokenDelay: 900 });
    const r = await raw(ask('wait'));
    assert.equal(r.status, 200);
    assert.deepEqual(r.bad, [], r.text);
    const before = r.comments.filter((c) => c.index === 1); // between the role chunk and the first content chunk
    assert.ok(before.length >= 2, `keep-alives before the first content chunk: ${JSON.stringify(r.comments)}`);
    assert.ok(before.length <= 8, `not too many keep-alives: ${before.length}`);
    for (const c of r.comments) assert.equal(c.text, ': keep-alive');
    assert.ok(r.text.includes('\n\n: keep-alive\n\n'), 'a comment is its own block');
    assert.deepEqual(assertChunks(r.chunks, { finish: 'stop' }).contents, ['after the wait']);
    // The mean period, not each gap: a loaded client may read two comments in one chunk.
    const period = (before.at(-1).at - before[0].at) / (before.length - 1);
    assert.ok(period >= 100 && period < 1000, `keep-alive period ${period} ms (keepalive_interval 200ms)`);
  });

  it('SDK: keep-alive comments are ignored; content is exact', async () => {
    bed.fake.script({ output: ['still', ' here'], firstTokenDelay: 700, tokenDelay: 300 });
    const { chunks, error } = await sdkStream(bed.client, ask('wait sdk', { stream_options: { include_usage: true } }));
    assert.equal(error, null);
    assert.deepEqual(assertChunks(chunks, { finish: 'stop', usage: true }).contents, ['still here']);
  });

  it('no keep-alive while tokens flow faster than the interval', async () => {
    bed.fake.script({ output: Array.from({ length: 12 }, (_, i) => `t${i} `), tokenDelay: 60 });
    const r = await raw(ask('busy'));
    assert.deepEqual(r.bad, []);
    // a fixed 200 ms timer would give 3-4 in these ~700 ms; allow one for a loaded machine
    assert.ok(r.comments.length <= 1, `keep-alives only when idle: ${JSON.stringify(r.comments)}`);
  });

  itExitsCleanly(() => bed, it);
});
