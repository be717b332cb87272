// Issue 10, logs: X-Request-Id (kept when well-formed, else generated) on the
// answer, on every call to Replicate and in the access log line; log_format = json
// writes one object per request with its figures and never a key or token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { CLIENT_KEY, REPLICATE_TOKEN, configText, itExitsCleanly, setup, sleep, sseRequest, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';

let bed;
const GENERATED = /^req_[A-Za-z0-9]{24}$/;

// Every JSON line on the proxy's stderr so far (each must parse).
function allJsonLines() {
  return bed.proxy.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}
// The access lines (the others have level and msg).
function jsonLines() {
  return allJsonLines().filter((l) => 'status' in l && !('msg' in l));
}

async function lineFor(id) {
  await bed.fake.waitFor(() => jsonLines().some((l) => l.request_id === id), 5000, `log line of ${id}`);
  return jsonLines().find((l) => l.request_id === id);
}

describe('X-Request-Id (text log)', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('a well-formed client id is kept: answer, every Replicate call, log line', async () => {
    const id = 'trace.ABC-123_x';
    const r = await bed.chat(user('with id'), { headers: { 'X-Request-Id': id } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-request-id'], id);
    const calls = bed.fake.log.filter((e) => e.server === 'api');
    assert.ok(calls.length >= 1);
    for (const c of calls) assert.equal(c.headers['x-request-id'], id, `${c.method} ${c.path}`);
    // Other lines about the request end with its rid too: wait for the access line itself.
    const access = new RegExp(`POST /v1/chat/completions 200 \\d+ms rid=${id.replace(/\./g, '\\.')} model=deepseek-v3.1`);
    await bed.fake.waitFor(() => access.test(bed.proxy.stderr), 5000, 'the access line');
  });

  it('a warning about a request ends with its rid; the access line names it once', async () => {
    bed.fake.script({ http: { status: 503 } });
    bed.fake.script({ output: ['ok'] });
    const r = await bed.chat(user('retried'), { headers: { 'X-Request-Id': 'txt-warn' } });
    assert.equal(r.status, 200, r.text);
    await bed.fake.waitFor(() => /POST \/v1\/chat\/completions 200 .*rid=txt-warn/.test(bed.proxy.stderr), 5000, 'the access line');
    assert.match(bed.proxy.stderr, /warn  create for choice 0 failed [^\n]* rid=txt-warn\n/);
    assert.doesNotMatch(bed.proxy.stderr, /rid=txt-warn[^\n]*rid=/);
  });

  it('the access line: time, level, figures; a path that needs escapes', async () => {
    const r = await bed.chat(user('shape'), { headers: { 'X-Request-Id': 'txt-shape' } });
    assert.equal(r.status, 200, r.text);
    const line = new RegExp('^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z info  POST /v1/chat/completions 200 \\d+ms '
      + 'rid=txt-shape model=deepseek-v3.1 stream=0 tokens=\\d+/\\d+ retries=0 pred=\\S+$', 'm');
    await bed.fake.waitFor(() => line.test(bed.proxy.stderr), 5000, 'the access line');
    // Bytes outside 0x21..0x7e and the backslash as \xNN: one line whatever the path.
    const e = await bed.request('GET', '/v1/x%5c%C3%A9%20"y', { headers: { 'X-Request-Id': 'txt-esc' } });
    assert.equal(e.status, 404);
    await bed.fake.waitFor(() => /rid=txt-esc/.test(bed.proxy.stderr), 5000, 'the escaped line');
    const esc = bed.proxy.stderr.split('\n').find((l) => l.includes('rid=txt-esc'));
    assert.match(esc, /Z info  GET \/v1\/x\\x5c\\xc3\\xa9\\x20"y 404 \d+ms rid=txt-esc error=\S+$/);
  });

  it('none, or a malformed one: a new id per request', async () => {
    const a = await bed.chat(user('no id'));
    const b = await bed.chat(user('bad id'), { headers: { 'X-Request-Id': 'has space"quote' } });
    const c = await bed.chat(user('long id'), { headers: { 'X-Request-Id': 'x'.repeat(129) } });
    for (const r of [a, b, c]) {
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers['x-request-id'], GENERATED);
    }
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
    assert.ok(!bed.proxy.stderr.includes('has space'), 'the malformed id never reaches the log');
  });

  it('errors and streams carry it too (the stream GET gets it as well)', async () => {
    const e = await bed.request('GET', '/v1/nope', { headers: { 'X-Request-Id': 'err-1' } });
    assert.equal(e.status, 404);
    assert.equal(e.headers['x-request-id'], 'err-1');
    bed.fake.reset();
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('stream id'), stream: true },
      { headers: { 'X-Request-Id': 'stream-1' } });
    assert.equal(s.status, 200);
    assert.equal(s.headers['x-request-id'], 'stream-1');
    const stream = bed.fake.log.find((x) => x.server === 'stream');
    assert.equal(stream?.headers['x-request-id'], 'stream-1');
  });

  itExitsCleanly(() => bed, it);
});

describe('log_format = json', () => {
  before(async () => {
    bed = await setup({ config: { log_format: 'json', input_price_per_mtok: '1000', output_price_per_mtok: '2000' } });
  });
  after(async () => { await bed?.finish(); });

  it('one object per request with its figures; no key, no token, no text', async () => {
    bed.fake.script({ output: ['sec', 'ret'], metrics: { input_token_count: 11, output_token_count: 3 } });
    const r = await bed.chat(user('a private prompt'), { headers: { 'X-Request-Id': 'json-1' } });
    assert.equal(r.status, 200, r.text);
    const l = await lineFor('json-1');
    const pred = bed.fake.creates()[0].predictionId;
    assert.deepEqual(
      { ...l, time: typeof l.time, duration_ms: typeof l.duration_ms, ttfb_ms: typeof l.ttfb_ms, upstream_ms: typeof l.upstream_ms },
      {
        request_id: 'json-1', time: 'string', client: '127.0.0.1', method: 'POST',
        path: '/v1/chat/completions', route: 'chat', key_alias: null, model: 'deepseek-v3.1', stream: false,
        status: 200, client_gone: false, prompt_tokens: 11, completion_tokens: 3,
        cost_usd: 0.017, ttfb_ms: 'number', duration_ms: 'number', retries: 0,
        finish_reason: 'stop', prediction_id: pred, error_code: null, upstream_ms: 'number',
      }, 'no request_body or answer unless log_bodies');
    assert.ok(Math.abs(Date.parse(l.time) - Date.now()) < 60000, l.time);
    const err = bed.proxy.stderr;
    for (const secret of [CLIENT_KEY, REPLICATE_TOKEN, 'a private prompt', 'secret'])
      assert.ok(!err.includes(secret), `the log has no ${secret}`);
  });

  it('every error answer names its error code (or type); successes have null', async () => {
    const nf = await bed.request('GET', '/v1/nope', { headers: { 'X-Request-Id': 'code-404' } });
    assert.equal(nf.status, 404);
    assert.equal((await lineFor('code-404')).error_code, nf.json.error.code ?? nf.json.error.type);
    const bad = await bed.chat({ model: 'deepseek-v3.1' }, { headers: { 'X-Request-Id': 'code-400' } });
    assert.equal(bad.status, 400);
    assert.equal((await lineFor('code-400')).error_code, bad.json.error.code ?? bad.json.error.type);
    bed.fake.script({ status: 'failed', error: 'E1001 out of memory', syncStatus: 'terminal' });
    const failed = await bed.chat(user('fails'), { headers: { 'X-Request-Id': 'code-5xx' } });
    assert.ok(failed.status >= 500, failed.text);
    const l = await lineFor('code-5xx');
    assert.ok(l.error_code, 'named');
    assert.equal(l.error_code, failed.json.error.code ?? failed.json.error.type);
    // After the first byte of a stream the error is an SSE event: the line still names it.
    bed.fake.script({ output: ['a', 'b', 'c'], tokenDelay: 20, dropAfter: 1, status: 'failed' });
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('drops'), stream: true },
      { headers: { 'X-Request-Id': 'code-sse' } });
    assert.equal(s.status, 200);
    const ls = await lineFor('code-sse');
    assert.ok(s.error, 'the stream ended with an error event');
    assert.equal(ls.error_code, s.error.code ?? s.error.type);
    const ok = await bed.chat(user('fine'), { headers: { 'X-Request-Id': 'code-ok' } });
    assert.equal(ok.status, 200);
    assert.equal((await lineFor('code-ok')).error_code, null);
  });

  it('the other lines are JSON too: time, level, msg; those about a request carry its id', async () => {
    const lines = bed.proxy.stderr.split('\n').filter((l) => l.trim());
    for (const l of lines) assert.ok(l.startsWith('{') && l.endsWith('}'), `a JSON object per line: ${l}`);
    const started = allJsonLines().find((l) => /listening on http:/.test(l.msg ?? ''));
    assert.ok(started, 'the startup line');
    assert.equal(started.level, 'info');
    assert.ok(Math.abs(Date.parse(started.time) - Date.now()) < 120000, started.time);
    assert.equal(started.request_id, undefined, 'not about a request');
    // A create that fails and is retried: the warning names the request.
    bed.fake.script({ http: { status: 503 } });
    bed.fake.script({ output: ['ok'] });
    const r = await bed.chat(user('retried'), { headers: { 'X-Request-Id': 'warn-1' } });
    assert.equal(r.status, 200, r.text);
    await lineFor('warn-1');
    const warn = allJsonLines().find((l) => l.level === 'warn' && /create for choice 0 failed/.test(l.msg));
    assert.ok(warn, bed.proxy.stderr);
    assert.equal(warn.request_id, 'warn-1');
    // A failed prediction's "request failed" line too (written from the exchange).
    bed.fake.script({ status: 'failed', error: 'E1001 out of memory', syncStatus: 'terminal' });
    await bed.chat(user('fails again'), { headers: { 'X-Request-Id': 'warn-2' } });
    await lineFor('warn-2');
    const failed = allJsonLines().find((l) => l.request_id === 'warn-2' && /request failed/.test(l.msg ?? ''));
    assert.ok(failed, bed.proxy.stderr);
    assert.equal(failed.level, 'warn');
  });

  it('a line over the 4 KiB bound is cut and still one JSON object', async () => {
    // A failed prediction whose error is all control bytes and quotes: each
    // is escaped to up to 6 bytes, so the "request failed" line overflows.
    bed.fake.script({ status: 'failed', error: '\t"'.repeat(500), syncStatus: 'terminal' });
    const from = bed.proxy.stderr.length;
    await bed.chat(user('long error'), { headers: { 'X-Request-Id': 'long-1' } });
    await lineFor('long-1');
    const lines = bed.proxy.stderr.slice(from).split('\n').filter((l) => l.trim());
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not JSON (${l.length} bytes): ${l.slice(-80)}`);
    const failed = lines.map((l) => JSON.parse(l)).find((o) => /request failed/.test(o.msg ?? ''));
    assert.ok(failed, 'the request failed line');
    assert.equal(failed.level, 'warn');
    assert.equal(failed.request_id, 'long-1', 'the cut keeps room for the request id');
    assert.ok(failed.msg.includes('\t"\t"'), 'its message, cut');
  });

  it('a reload (SIGHUP) is logged as JSON objects too', async () => {
    const p = bed.proxy;
    writeFileSync(p.file, configText({ ...p.config, keepalive_interval: '7s' }));
    const from = p.stderr.length;
    p.proc.kill('SIGHUP');
    await bed.fake.waitFor(() => /reload: 1 option changed/.test(p.stderr.slice(from)), 5000, 'the reload line');
    const lines = p.stderr.slice(from).split('\n').filter((l) => l.trim());
    assert.ok(lines.length >= 2);
    for (const l of lines) {
      const o = JSON.parse(l);
      assert.deepEqual(Object.keys(o).slice(0, 3), ['time', 'level', 'msg']);
    }
    assert.ok(lines.some((l) => JSON.parse(l).msg.startsWith('reload: 1 option changed: keepalive_interval')));
  });

  it('a path with a newline and quotes stays inside its own line', async () => {
    const nonAscii = await bed.request('GET', '/caf%C3%A9"x', { headers: { 'X-Request-Id': 'utf-1' } });
    assert.equal(nonAscii.status, 404);
    assert.equal((await lineFor('utf-1')).path, '/caf\u00c3\u00a9"x');
    const r = await bed.request('GET', '/x%0A{"request_id":"forged"}%22', { headers: { 'X-Request-Id': 'evil-1' } });
    assert.ok(r.status === 400 || r.status === 404, r.text); // the front may refuse a decoded newline
    const l = await lineFor('evil-1');
    assert.equal(l.status, r.status);
    assert.equal(l.error_code, r.json.error.code ?? r.json.error.type, 'refused by the front or by the routes');
    assert.equal(l.model, null);
    assert.equal(l.prompt_tokens, null);
    assert.ok(!jsonLines().some((x) => x.request_id === 'forged'));
  });

  itExitsCleanly(() => bed, it);
});

describe('log_bodies = true (log_format = json)', () => {
  before(async () => { bed = await setup({ config: { log_format: 'json', log_bodies: 'true' } }); });
  after(async () => { await bed?.finish(); });

  it('the line carries the request body and the answer text; keys and tokens redacted', async () => {
    bed.fake.script({ output: ['Hel', 'lo ', 'there'] });
    const body = { ...user(`my key is ${CLIENT_KEY} and the token ${REPLICATE_TOKEN}`), max_tokens: 50 };
    const r = await bed.chat(body, { headers: { 'X-Request-Id': 'body-1' } });
    assert.equal(r.status, 200, r.text);
    const l = await lineFor('body-1');
    const expected = JSON.stringify(body).replace(CLIENT_KEY, '[redacted]').replace(REPLICATE_TOKEN, '[redacted]');
    assert.equal(l.request_body, expected);
    assert.equal(l.request_body_truncated, false);
    assert.equal(l.answer, 'Hello there');
    assert.equal(l.answer_truncated, false);
    for (const secret of [CLIENT_KEY, REPLICATE_TOKEN])
      assert.ok(!bed.proxy.stderr.includes(secret), 'never a key or token');
  });

  it('a stream\'s answer too; long ones are cut at 4 KiB and marked', async () => {
    const long = 'x'.repeat(6000);
    bed.fake.script({ output: ['a'.repeat(3000), 'b'.repeat(3000)] });
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user(long), stream: true },
      { headers: { 'X-Request-Id': 'body-2' } });
    assert.equal(s.status, 200);
    const l = await lineFor('body-2');
    assert.equal(l.request_body.length, 4096);
    assert.equal(l.request_body_truncated, true);
    assert.equal(l.answer, 'a'.repeat(3000) + 'b'.repeat(1096));
    assert.equal(l.answer_truncated, true);
  });

  it('an error answer has its body logged and no answer', async () => {
    const r = await bed.chat({ model: 'deepseek-v3.1', messages: 'not a list' }, { headers: { 'X-Request-Id': 'body-3' } });
    assert.equal(r.status, 400);
    const l = await lineFor('body-3');
    assert.equal(l.request_body, JSON.stringify({ model: 'deepseek-v3.1', messages: 'not a list' }));
    assert.equal(l.answer, '');
  });

  itExitsCleanly(() => bed, it);
});

describe('gateway mode: the request id in the ledger, the key alias in the log', () => {
  before(async () => { bed = await gatewayBed({ config: { log_format: 'json' } }); });
  after(async () => { await bed?.finish(); });

  it('X-Request-Id is the ledger row\'s request_id; the JSON line has the alias, never the key', async () => {
    const k = await bed.newKey({ key_alias: 'team-a' });
    const r = await bed.request('POST', '/v1/chat/completions', { key: k.key, body: user('gw'), headers: { 'X-Request-Id': 'gw-1' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-request-id'], 'gw-1');
    const l = await lineFor('gw-1');
    assert.equal(l.key_alias, 'team-a');
    assert.ok(!JSON.stringify(l).includes(k.key.slice(3)));
    // The ledger writes in batches: poll until the row is there.
    let logs;
    for (let i = 0; i < 100; i++) {
      logs = await bed.request('GET', `/spend/logs?api_key=${k.token}`, { key: MASTER });
      if (logs.json?.length === 1) break;
      await sleep(50);
    }
    assert.equal(logs.json?.length, 1, logs.text);
    assert.equal(logs.json[0].request_id, 'gw-1');
  });

  itExitsCleanly(() => bed, it);
});
