// Self-test of the fake Replicate server (raw HTTP, no proxy involved).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OUTPUT, startFake } from '../fake-replicate.mjs';
import { request, sleep } from './helpers.mjs';

const TOKEN = 'r8_SelfTestToken000000000000000000000000';
const CREATE = '/v1/models/deepseek-ai/deepseek-v3.1/predictions';
let fake;
const auth = (t = TOKEN, scheme = 'Bearer') => ({ Authorization: `${scheme} ${t}` });
const post = (path, body, headers = { ...auth(), Prefer: 'wait' }) => request(fake.url, 'POST', path, { headers, body });
const get = (u, headers = auth()) => request(fake.url, 'GET', u, { headers });

// Read an SSE stream: resolves {text, events, closedBy} once `until(text)` is true
// (then the client closes) or the server ends/drops the connection.
function readStream(u, { until = () => false, headers = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolveS, reject) => {
    let text = '';
    let done = false;
    const finish = (closedBy, extra = {}) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolveS({ text, closedBy, status: res?.statusCode, headers: res?.headers, ...extra });
    };
    let res;
    const req = http.get(u, { headers: { Accept: 'text/event-stream', ...headers }, agent: false }, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (d) => {
        text += d;
        if (until(text)) { finish('client'); req.destroy(); }
      });
      r.on('end', () => finish('server'));
      r.on('error', () => finish('drop'));
      r.on('aborted', () => finish('drop'));
    });
    req.on('error', (e) => (res ? finish('drop') : reject(e)));
    const t = setTimeout(() => { finish('timeout'); req.destroy(); }, timeoutMs);
  });
}

// The python client's rules (replicate-api.md §5): an event is dispatched only with an
// `event` and after an `id` was seen; data lines joined with "\n"; comments skipped.
function parseSSE(text) {
  const events = [];
  let ev = null;
  let data = [];
  let id = null;
  for (const line of text.split('\n')) {
    if (line === '') {
      if (ev && id !== null) events.push({ event: ev, data: data.join('\n'), id });
      ev = null;
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') ev = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  return events;
}

describe('fake Replicate: predictions API', () => {
  before(async () => { fake = await startFake({ tokens: [TOKEN] }); });
  after(async () => { await fake.close(); });
  beforeEach(() => fake.reset());

  it('creates with Prefer: wait → 201, processing with the full output and no metrics (real sync reply)', async () => {
    fake.script({ output: ['He', 'llo\n', ''] });
    const r = await post(CREATE, { input: { prompt: 'Hi', max_tokens: 5 } });
    assert.equal(r.status, 201);
    assert.equal(r.headers['preference-applied'], 'wait');
    assert.equal(r.headers['ratelimit-remaining'], '599');
    assert.equal(r.headers['ratelimit-reset'], '1');
    assert.match(r.headers['content-type'], /^application\/json/);
    const p = r.json;
    assert.match(p.id, /^[a-z0-9]{26}$/);
    assert.equal(p.model, 'deepseek-ai/deepseek-v3.1');
    assert.equal(p.version, 'hidden');
    assert.deepEqual(p.input, { prompt: 'Hi', max_tokens: 5 });
    assert.equal(p.status, 'processing');
    assert.deepEqual(p.output, ['He', 'llo\n', '']);
    assert.equal(p.error, null);
    assert.equal(p.data_removed, false);
    assert.equal(p.metrics, undefined);
    assert.equal(p.completed_at, undefined);
    assert.match(p.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.equal(p.urls.get, `${fake.url}/v1/predictions/${p.id}`);
    assert.equal(p.urls.cancel, `${fake.url}/v1/predictions/${p.id}/cancel`);
    assert.equal(p.urls.web, `https://replicate.com/p/${p.id}`);
    assert.ok(p.urls.stream.startsWith(`${fake.streamUrl}/v1/streams/`), p.urls.stream);
    assert.notEqual(new URL(p.urls.stream).port, new URL(fake.url).port);
    const c = fake.creates()[0];
    assert.equal(c.predictionId, p.id);
    assert.equal(c.headers.prefer, 'wait');
    assert.deepEqual(c.body, { input: { prompt: 'Hi', max_tokens: 5 } });
  });

  it('polls to terminal after N GETs, with metrics only at the end', async () => {
    fake.script({ output: ['a', 'b', 'c', 'd'], syncStatus: 'starting', polls: 3, startingPolls: 1, metrics: { input_token_count: 3, output_token_count: 4 } });
    const r = await post(CREATE, { input: { prompt: 'x' } });
    assert.equal(r.json.status, 'starting');
    assert.equal(r.json.output, null);
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await get(r.json.urls.get.replace(fake.url, ''))).json);
    assert.deepEqual(seen.map((s) => s.status), ['starting', 'processing', 'succeeded']);
    assert.equal(seen[0].output, null);
    assert.deepEqual(seen[1].output, ['a', 'b']);
    assert.deepEqual(seen[2].output, ['a', 'b', 'c', 'd']);
    assert.equal(seen[1].metrics, undefined);
    assert.equal(seen[2].metrics.input_token_count, 3);
    assert.equal(seen[2].metrics.output_token_count, 4);
    assert.equal(typeof seen[2].metrics.predict_time, 'number');
    assert.ok(seen[2].completed_at);
    assert.equal(fake.gets(r.json.id).length, 3);
  });

  it('terminal sync reply, metrics null (no token counts) and false (no metrics key), async create', async () => {
    fake.script({ syncStatus: 'terminal', metrics: null }, { syncStatus: 'terminal', metrics: false }, {});
    const a = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.equal(a.status, 'succeeded');
    assert.deepEqual(a.output, DEFAULT_OUTPUT);
    assert.deepEqual(Object.keys(a.metrics).sort(), ['predict_time', 'total_time']);
    const b = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.equal(b.metrics, undefined);
    const c = await post(CREATE, { input: { prompt: 'x' } }, auth());
    assert.equal(c.status, 201);
    assert.equal(c.headers['preference-applied'], undefined);
    assert.equal(c.json.status, 'starting');
  });

  it('auth: Bearer and Token accepted, missing or unknown token → 401 problem body', async () => {
    assert.equal((await post(CREATE, { input: { prompt: 'x' } }, auth(TOKEN, 'Token'))).status, 201);
    const r = await post(CREATE, { input: { prompt: 'x' } }, auth('r8_wrong'));
    assert.equal(r.status, 401);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.deepEqual(r.json, { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 });
    assert.equal((await post(CREATE, { input: { prompt: 'x' } }, {})).status, 401);
    assert.equal((await get('/v1/predictions/nope', {})).status, 401);
  });

  it('strict body: extra keys, version on the models route, model on /v1/predictions, missing prompt, bad types', async () => {
    let r = await post(CREATE, { input: { prompt: 'x' }, stop: ['a'] });
    assert.equal(r.status, 422);
    assert.equal(r.json.detail, '- Additional property stop is not allowed\n');
    assert.equal(r.json.invalid_fields[0].type, 'additional_property_not_allowed');
    r = await post(CREATE, { version: 'abc', input: { prompt: 'x' } });
    assert.equal(r.json.detail, '- Additional property version is not allowed\n');
    r = await post('/v1/predictions', { model: 'deepseek-ai/deepseek-v3.1', input: { prompt: 'x' } });
    assert.equal(r.status, 422);
    assert.equal(r.json.detail, '- version is required\n- Additional property model is not allowed\n');
    r = await post('/v1/predictions', { version: 'deepseek-ai/deepseek-v3.1', input: { prompt: 'x' } });
    assert.equal(r.status, 201);
    r = await post(CREATE, { input: { max_tokens: 3 } });
    assert.equal(r.status, 422);
    assert.equal(r.json.detail, '- input: prompt is required\n');
    r = await post(CREATE, { input: { prompt: 'x', max_tokens: '3', thinking: 'high' } });
    assert.equal(r.status, 422);
    assert.match(r.json.detail, /input\.max_tokens: Invalid type/);
    assert.match(r.json.detail, /input\.thinking/);
    r = await post(CREATE, '{"input":');
    assert.equal(r.status, 400);
    r = await post('/v1/models/someone/else/predictions', { input: { prompt: 'x' } });
    assert.equal(r.status, 404);
    r = await post('/v1/deployments/acme/ds/predictions', { input: { prompt: 'x' } });
    assert.equal(r.status, 201);
    assert.equal(r.json.deployment, 'acme/ds');
    assert.deepEqual(fake.unknownInputKeys, []);
    r = await post(CREATE, { input: { prompt: 'x', seed: 1, stop: 'y' } });
    assert.equal(r.status, 201);
    assert.deepEqual(fake.unknownInputKeys.map((u) => u.key), ['seed', 'stop']);
    r = await post(CREATE, { input: { prompt: 'x' } }, { ...auth(), Prefer: 'wait=0' });
    assert.equal(r.status, 422);
  });

  it('scripted HTTP errors with headers, default §6 bodies, GET errors', async () => {
    fake.script({ http: { status: 429, headers: { 'Retry-After': '7' } } }, { http: { status: 503, body: 'upstream down' } }, { getHttp: { status: 500 } });
    let r = await post(CREATE, { input: { prompt: 'x' } });
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '7');
    assert.deepEqual(r.json, { detail: 'Request was throttled. Expected available in 1 second.', status: 429 });
    r = await post(CREATE, { input: { prompt: 'x' } });
    assert.equal(r.status, 503);
    assert.equal(r.text, 'upstream down');
    r = await post(CREATE, { input: { prompt: 'x' } });
    assert.equal(r.status, 201);
    assert.equal((await get(`/v1/predictions/${r.json.id}`)).status, 500);
    assert.equal(fake.creates().length, 3);
  });

  it('failed, canceled, aborted, data_removed, cancel route, delays, match', async () => {
    fake.script({ status: 'failed', error: 'E1001 out of memory', syncStatus: 'terminal' });
    let p = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.equal(p.status, 'failed');
    assert.equal(p.error, 'E1001 out of memory');
    assert.equal(p.output, null);
    fake.script({ status: 'canceled', polls: 2 });
    p = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.equal((await get(`/v1/predictions/${p.id}`)).json.status, 'processing');
    assert.equal((await get(`/v1/predictions/${p.id}`)).json.status, 'canceled');
    fake.script({ status: 'aborted', syncStatus: 'terminal' }, { dataRemoved: true, syncStatus: 'terminal' });
    assert.equal((await post(CREATE, { input: { prompt: 'x' } })).json.status, 'aborted');
    p = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.equal(p.data_removed, true);
    assert.equal(p.output, null);
    assert.deepEqual(p.input, {});
    fake.script({ syncStatus: 'starting', polls: 100 });
    p = (await post(CREATE, { input: { prompt: 'x' } })).json;
    const c = await post(`/v1/predictions/${p.id}/cancel`, undefined, auth());
    assert.equal(c.status, 200);
    assert.equal(c.json.status, 'canceled');
    assert.deepEqual(fake.cancels, [p.id]);
    assert.equal((await get(`/v1/predictions/${p.id}`)).json.status, 'canceled');
    p = (await post(CREATE, { input: { prompt: 'x' } }, { ...auth(), 'Cancel-After': '1m30s' })).json;
    assert.equal(Date.parse(p.deadline) - Date.parse(p.created_at), 90000);
    fake.script({ createDelay: 150, pollDelay: 100, syncStatus: 'starting' });
    const t0 = Date.now();
    p = (await post(CREATE, { input: { prompt: 'x' } })).json;
    assert.ok(Date.now() - t0 >= 140);
    const t1 = Date.now();
    await get(`/v1/predictions/${p.id}`);
    assert.ok(Date.now() - t1 >= 90);
    fake.script({ match: 'second', output: ['2'], syncStatus: 'terminal' }, { match: 'first', output: ['1'], syncStatus: 'terminal' });
    assert.deepEqual((await post(CREATE, { input: { prompt: 'the first' } })).json.output, ['1']);
    assert.deepEqual((await post(CREATE, { input: { prompt: 'the second' } })).json.output, ['2']);
    fake.script({ output: (input) => ['echo: ', input.prompt], outputShape: 'string', syncStatus: 'terminal' });
    assert.equal((await post(CREATE, { input: { prompt: 'ping' } })).json.output, 'echo: ping');
  });

  it('model schema route and 404s', async () => {
    const r = await get('/v1/models/deepseek-ai/deepseek-v3.1');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json.latest_version.openapi_schema.components.schemas.Input.properties).sort(),
      ['frequency_penalty', 'max_tokens', 'presence_penalty', 'prompt', 'temperature', 'thinking', 'top_p']);
    assert.equal((await get('/v1/predictions/doesnotexist')).status, 404);
    assert.deepEqual((await get('/v1/nothing')).json, { detail: 'The requested resource could not be found.', status: 404 });
  });

  it('control routes (standalone mode) script and read the log', async () => {
    let r = await request(fake.url, 'POST', '/_fake/script', { body: [{ output: ['via control'], syncStatus: 'terminal' }] });
    assert.deepEqual(r.json, { queued: 1 });
    r = await post(CREATE, { input: { prompt: 'x' } });
    assert.deepEqual(r.json.output, ['via control']);
    r = await request(fake.url, 'GET', '/_fake/log');
    assert.deepEqual(r.json.filter((e) => e.kind === 'create').map((e) => e.path), [CREATE]);
    r = await request(fake.url, 'GET', '/_fake/stats');
    assert.equal(r.json.creates, 1);
  });
});

describe('fake Replicate: SSE streams', () => {
  before(async () => { fake = await startFake({ tokens: [TOKEN], streamHoldMs: 400 }); });
  after(async () => { await fake.close(); });
  beforeEach(() => fake.reset());

  const create = async (scenario) => {
    fake.script(scenario);
    return (await post(CREATE, { input: { prompt: 'x' } }, auth())).json;
  };

  it('the §5 transcript: `: hi`, id on every event, multi-line data, empty event, done {}; held open, then :408', async () => {
    const p = await create({ output: ['Hello', '! Line one\nline two', ''] });
    const t0 = Date.now();
    const s = await readStream(p.urls.stream);
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'text/event-stream');
    const base = Math.floor(Date.parse(p.created_at) / 1000);
    assert.equal(s.text, [
      ': hi', '',
      'event: output', `id: ${base}:0`, 'data: Hello', '',
      'event: output', `id: ${base}:1`, 'data: ! Line one', 'data: line two', '',
      'event: output', `id: ${base}:2`, 'data: ', '',
      'event: done', `id: ${base}:3`, 'data: {}', '',
      ':408: 408 Request Timeout', '', '',
    ].join('\n'));
    assert.equal(s.closedBy, 'server');
    assert.ok(Date.now() - t0 >= 380, 'connection held open after done');
    assert.deepEqual(parseSSE(s.text).map((e) => [e.event, e.data]), [
      ['output', 'Hello'], ['output', '! Line one\nline two'], ['output', ''], ['done', '{}'],
    ]);
    const st = fake.streams(p.id)[0];
    assert.equal(st.closedBy, 'server');
    assert.ok(st.doneAt <= st.closedAt);
    assert.equal((await get(`/v1/predictions/${p.id}`)).json.status, 'succeeded');
  });

  it('newline-only tokens survive the python-style decoder; a client closing on done is recorded', async () => {
    const out = ['\n\n', 'a\n', '\nb', 'c\r\nd'];
    const p = await create({ output: out, tokenDelay: 5, firstTokenDelay: 30 });
    const s = await readStream(p.urls.stream, { until: (t) => t.includes('event: done') });
    assert.equal(s.closedBy, 'client');
    assert.deepEqual(parseSSE(s.text).filter((e) => e.event === 'output').map((e) => e.data), ['\n\n', 'a\n', '\nb', 'c\nd']);
    await fake.waitFor(() => fake.streams(p.id)[0]?.closedBy === 'client', 2000, 'stream close recorded');
  });

  it('endings: cancel mid-stream → done canceled; failed → error + done error; drop; noStream; extras', async () => {
    let p = await create({ output: ['a', 'b', 'c', 'd', 'e'], tokenDelay: 100 });
    const reading = readStream(p.urls.stream, { until: (t) => t.includes('event: done') });
    await sleep(150);
    await post(`/v1/predictions/${p.id}/cancel`, undefined, auth());
    let s = await reading;
    let ev = parseSSE(s.text);
    assert.deepEqual(ev.at(-1), { event: 'done', data: '{"reason":"canceled"}', id: ev.at(-1).id });
    assert.ok(ev.filter((e) => e.event === 'output').length < 5);
    assert.deepEqual(fake.cancels, [p.id]);

    p = await create({ output: ['a'], status: 'failed', error: 'E1001 out of memory' });
    s = await readStream(p.urls.stream, { until: (t) => t.includes('event: done') });
    ev = parseSSE(s.text);
    assert.deepEqual(ev.map((e) => [e.event, e.data]), [['output', 'a'], ['error', '{"detail":"E1001 out of memory"}'], ['done', '{"reason":"error"}']]);

    p = await create({ output: ['a', 'b', 'c'], dropAfter: 2 });
    s = await readStream(p.urls.stream);
    assert.ok(['drop', 'server'].includes(s.closedBy), s.closedBy);
    assert.deepEqual(parseSSE(s.text).map((e) => e.data), ['a', 'b']);

    p = await create({ noStream: true });
    assert.equal(p.urls.stream, undefined);

    p = await create({ output: ['x'], streamExtras: true, holdAfterDone: 0 });
    s = await readStream(p.urls.stream);
    assert.match(s.text, /^: hi\n\nretry: 3000\n\n/);
    assert.deepEqual(parseSSE(s.text).map((e) => e.event), ['output', 'logs', 'done']);

    assert.equal((await readStream(`${fake.streamUrl}/v1/streams/unknown`)).status, 404);
  });

  it('raw mode (benchmarks): same events, straight on the socket, Connection: close', async () => {
    const p = await create({ output: ['Hello', '! Line one\nline two', ''], rawStream: true, holdAfterDone: 50 });
    const s = await readStream(p.urls.stream);
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'text/event-stream');
    assert.equal(s.headers.connection, 'close');
    assert.equal(s.headers['transfer-encoding'], undefined);
    assert.equal(s.closedBy, 'server');
    assert.match(s.text, /^: hi\n\n/);
    assert.match(s.text, /:408: 408 Request Timeout\n\n$/);
    assert.deepEqual(parseSSE(s.text).map((e) => [e.event, e.data]), [
      ['output', 'Hello'], ['output', '! Line one\nline two'], ['output', ''], ['done', '{}'],
    ]);
    const q = await create({ output: ['a', 'b', 'c'], rawStream: true, tokenDelay: 100 });
    const reading = readStream(q.urls.stream, { until: (t) => t.includes('event: done') });
    await sleep(120);
    await post(`/v1/predictions/${q.id}/cancel`, undefined, auth());
    const ev = parseSSE((await reading).text);
    assert.deepEqual(ev.at(-1).data, '{"reason":"canceled"}');
    const d = await create({ output: ['a', 'b', 'c'], rawStream: true, dropAfter: 1 });
    assert.deepEqual(parseSSE((await readStream(d.urls.stream)).text).map((e) => e.data), ['a']);
  });

  it('holds 300 concurrent streams', async () => {
    const ps = [];
    for (let i = 0; i < 300; i++) fake.script({ output: ['a', 'b', 'c'], tokenDelay: 20, holdAfterDone: 0 });
    for (let i = 0; i < 300; i++) ps.push(post(CREATE, { input: { prompt: `p${i}` } }, auth()));
    const preds = (await Promise.all(ps)).map((r) => r.json);
    const t0 = Date.now();
    const results = await Promise.all(preds.map((p) => readStream(p.urls.stream, { timeoutMs: 10000 })));
    for (const r of results) assert.deepEqual(parseSSE(r.text).map((e) => e.data), ['a', 'b', 'c', '{}']);
    assert.ok(Date.now() - t0 < 8000, `300 streams took ${Date.now() - t0} ms`);
  });
});

describe('fake Replicate: standalone mode', () => {
  it('starts from the command line, prints its URLs and obeys SIGTERM', async () => {
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'fake-replicate.mjs');
    const proc = spawn(process.execPath, [file, '--port', '0', '--scenario', '{"output":["standalone"],"syncStatus":"terminal"}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const m = await new Promise((resolveM, reject) => {
      proc.stdout.on('data', (d) => {
        out += d;
        const mm = /api (http:\/\/\S+) stream (http:\/\/\S+)/.exec(out);
        if (mm) resolveM(mm);
      });
      proc.on('close', (code) => reject(new Error(`exited ${code}`)));
    });
    const r = await request(m[1], 'POST', CREATE, { headers: { Authorization: 'Bearer anything', Prefer: 'wait' }, body: { input: { prompt: 'x' } } });
    assert.deepEqual(r.json.output, ['standalone']);
    assert.ok(r.json.urls.stream.startsWith(`${m[2]}/v1/streams/`));
    proc.kill('SIGTERM');
    const code = await new Promise((res) => proc.on('close', res));
    assert.equal(code, 0);
  });
});
