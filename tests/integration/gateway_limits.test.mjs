// The team gateway's enforcement and ledger: exact limits under concurrency (RPM,
// parallel, budget), 429 shapes and headers, the SDK not retrying insufficient_quota,
// and a ledger equal to the answers' usage × prices.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import {
  apiError, assertErrorReply, itExitsCleanly, runProxy, setup, sleep, sseRequest, tempDir, user,
} from './helpers.mjs';
import { gatewayBed } from './gateway_helpers.mjs';

const IN = 0.672;
const OUT = 2.016;
const price = (u) => (u.prompt_tokens * IN + u.completion_tokens * OUT) / 1e6;
const micro = (x) => Math.round(x * 1e6);

describe('gateway: limits, exact under concurrency', () => {
  let bed;
  before(async () => { bed = await gatewayBed({ config: { workers: 2 } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('rpm_limit 10 with 50 concurrent requests: exactly 10 succeed, 40 get 429 with Retry-After', async () => {
    const k = await bed.newKey({ key_alias: 'rpm', rpm_limit: 10 });
    const replies = await Promise.all(Array.from({ length: 50 }, () => bed.chat(user('hi'), { key: k.key })));
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status === 429);
    assert.equal(ok.length, 10);
    assert.equal(limited.length, 40);
    assert.equal(bed.fake.creates().length, 10);
    for (const r of limited) {
      const e = assertErrorReply(r, 429, { code: 'rate_limit_exceeded' });
      assert.match(e.message, /RPM\): Limit 10, Used 10, Requested 1/);
      const after = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(after) && after >= 1 && after <= 60, `Retry-After ${r.headers['retry-after']}`);
      assert.equal(r.headers['x-ratelimit-limit-requests'], '10');
      assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
    }
    const remaining = ok.map((r) => Number(r.headers['x-ratelimit-remaining-requests'])).sort((a, b) => a - b);
    assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('admin calls run off the event loop: 20 concurrent generates on 2 workers all answer', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => bed.admin('POST', '/key/generate', { key_alias: `c${i}` })));
    for (const r of rs) { assert.equal(r.status, 200, r.text); bed.proxy.addSecret(r.json.key); }
    assert.equal(new Set(rs.map((r) => r.json.token)).size, 20);
    const list = (await bed.admin('GET', '/key/list')).json.keys;
    for (const r of rs) assert.ok(list.includes(r.json.token));
    // A new key works at once on either worker.
    const served = await Promise.all(rs.slice(0, 8).map((r) => bed.chat(user('hi'), { key: r.json.key })));
    assert.ok(served.every((r) => r.status === 200));
  });

  it('max_parallel_requests 2 with 6 slow streams: 2 run, 4 get 429 naming the limit', async () => {
    const k = await bed.newKey({ max_parallel_requests: 2 });
    bed.fake.setDefault({ output: ['a', 'b', 'c', 'd'], tokenDelay: 150 });
    try {
      const body = { ...user('hi'), stream: true };
      const outs = await Promise.all(Array.from({ length: 6 }, () => sseRequest(bed.url, '/v1/chat/completions', body, { apiKey: k.key })));
      const ran = outs.filter((o) => o.status === 200);
      assert.equal(ran.length, 2);
      for (const o of ran) assert.equal(o.chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'abcd');
      const refused = outs.filter((o) => o.status === 429);
      assert.equal(refused.length, 4);
      for (const o of refused) {
        const e = JSON.parse(o.text).error;
        assert.equal(e.code, 'rate_limit_exceeded');
        assert.match(e.message, /parallel requests.*Limit 2, Used 2/);
      }
      // Once they ended, the slots are free again.
      bed.fake.setDefault({});
      const again = await bed.chat(user('hi'), { key: k.key });
      assert.equal(again.status, 200, again.text);
    } finally {
      bed.fake.setDefault({});
    }
  });

  it('a stream whose client hangs up frees its parallel slot', async () => {
    const k = await bed.newKey({ max_parallel_requests: 1 });
    bed.fake.script({ output: ['1', '2', '3', '4', '5', '6', '7', '8'], tokenDelay: 100 });
    let started;
    const first = new Promise((r) => { started = r; });
    let hangUp;
    const busy = sseRequest(bed.url, '/v1/chat/completions', { ...user('long'), stream: true }, {
      apiKey: k.key, onEvent: (ev, req) => { hangUp = () => req.hangUp(); started(); },
    });
    await first;
    assertErrorReply(await bed.chat(user('while busy'), { key: k.key }), 429, { code: 'rate_limit_exceeded' });
    hangUp();
    await busy;
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await sleep(50);
      bed.fake.script({ output: ['free'] });
      status = (await bed.chat(user('after'), { key: k.key })).status;
    }
    assert.equal(status, 200, 'the slot was released when the client left');
  });

  it('x-ratelimit-* headers on keyed answers, streams included (OpenAI duration format)', async () => {
    const k = await bed.newKey({ rpm_limit: 100, tpm_limit: 1000000 });
    const r = await bed.chat({ ...user('hi'), max_tokens: 50 }, { key: k.key });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-ratelimit-limit-requests'], '100');
    assert.equal(r.headers['x-ratelimit-remaining-requests'], '99');
    assert.match(r.headers['x-ratelimit-reset-requests'], /^(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/);
    assert.equal(r.headers['x-ratelimit-limit-tokens'], '1000000');
    assert.ok(Number(r.headers['x-ratelimit-remaining-tokens']) <= 1000000 - 50);
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('hi'), stream: true }, { apiKey: k.key });
    assert.equal(s.status, 200);
    assert.equal(s.headers['x-ratelimit-limit-requests'], '100');
    assert.equal(s.headers['x-ratelimit-remaining-requests'], '98');
    assert.ok(s.headers['x-ratelimit-reset-tokens']);
    // The master key has no limits: no headers.
    const m = await bed.chat(user('hi'));
    assert.equal(m.headers['x-ratelimit-limit-requests'], undefined);
  });

  it('tpm_limit: a request whose reservation does not fit → 429 naming TPM', async () => {
    const k = await bed.newKey({ tpm_limit: 500 });
    const e = assertErrorReply(await bed.chat({ ...user('hi'), max_tokens: 600 }, { key: k.key }), 429, { code: 'rate_limit_exceeded', type: 'tokens' });
    assert.match(e.message, /TPM\): Limit 500, Used 0, Requested \d+/);
    assert.equal(bed.fake.creates().length, 0);
    const ok = await bed.chat({ ...user('hi'), max_tokens: 100 }, { key: k.key });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a budget under concurrency is never exceeded; over budget → 429 insufficient_quota, x-should-retry: false', async () => {
    // Worst case of one request: ~10 prompt tokens + 1000 × $2.016/M ≈ $0.00202:
    // five fit in $0.0105 at once, a sixth does not.
    const k = await bed.newKey({ max_budget: 0.0105 });
    bed.fake.setDefault({ terminalAfterMs: 300, syncStatus: 'starting' });
    let replies;
    try {
      replies = await Promise.all(Array.from({ length: 20 }, () => bed.chat({ ...user('hi'), max_tokens: 1000 }, { key: k.key })));
    } finally {
      bed.fake.setDefault({});
    }
    const ok = replies.filter((r) => r.status === 200);
    assert.equal(ok.length, 5);
    for (const r of replies.filter((x) => x.status !== 200)) {
      assertErrorReply(r, 429, { code: 'insufficient_quota', type: 'insufficient_quota' });
      assert.equal(r.headers['x-should-retry'], 'false');
    }
    const spent = ok.reduce((s, r) => s + r.json.usage.cost, 0);
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(spent));
    assert.ok(info.json.info.spend <= 0.0105);
  });

  it('a budget window resets on time (budget_duration)', async () => {
    // Worst case ≈ $0.0000168 (about 22 prompt tokens estimated + 1), real ≈ $0.0000101
    // (12 + 1 tokens): two fit in $0.000035, the third does not until the window resets.
    const k = await bed.newKey({ max_budget: 0.000035, budget_duration: '2s' });
    const one = () => { bed.fake.script({ output: ['x'] }); return bed.chat({ ...user('hi'), max_tokens: 1 }, { key: k.key }); };
    assert.equal((await one()).status, 200);
    assert.equal((await one()).status, 200);
    const refused = await one();
    assertErrorReply(refused, 429, { code: 'insufficient_quota' });
    assert.ok(Number(refused.headers['retry-after']) <= 2, `Retry-After ${refused.headers['retry-after']}`);
    bed.fake.reset();
    await sleep(2300);
    const again = await one();
    assert.equal(again.status, 200, again.text);
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(again.json.usage.cost), 'spend counts the new window only');
  });

  it('the SDK does not retry insufficient_quota (one request reaches the proxy, none Replicate)', async () => {
    const k = await bed.newKey({ max_budget: 0 });
    bed.proxy.addSecret(k.key);
    const client = new OpenAI({ baseURL: `${bed.url}/v1`, apiKey: k.key, maxRetries: 2, timeout: 20000 });
    const e = await apiError(client.chat.completions.create(user('hi')));
    assert.equal(e.status, 429);
    assert.equal(e.code, 'insufficient_quota');
    assert.equal(bed.fake.creates().length, 0);
    const logs = await bed.admin('GET', `/spend/logs?api_key=${k.token}`);
    assert.equal(logs.json.length, 1, 'one row: the SDK asked once');
    assert.equal(logs.json[0].status, 429);
    assert.equal(logs.json[0].error_code, 'insufficient_quota');
  });

  itExitsCleanly(() => bed, it);
});

describe('gateway: the ledger equals usage × prices', () => {
  let bed;
  let key;
  before(async () => {
    bed = await gatewayBed();
    key = await bed.newKey({ key_alias: 'ledger' });
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('non-stream, stream with usage, n > 1, stop sequence, legacy completions, hang-up: each row = its usage × prices', async () => {
    const client = bed.clientFor(key.key);
    const answers = [];
    bed.fake.script({ output: ['Hel', 'lo'] });
    answers.push((await client.chat.completions.create(user('plain'))).usage);
    bed.fake.script({ output: ['a', 'b', 'c'] });
    const stream = await client.chat.completions.create({ ...user('stream'), stream: true, stream_options: { include_usage: true } });
    let su;
    for await (const ch of stream) if (ch.usage) su = ch.usage;
    answers.push(su);
    bed.fake.script({ output: ['x'] }, { output: ['y', 'z'] });
    answers.push((await client.chat.completions.create({ ...user('two'), n: 2 })).usage);
    bed.fake.script({ output: ['keep', ' STOP', ' lost'] });
    const stopped = await client.chat.completions.create({ ...user('stop'), stop: ['STOP'] });
    assert.equal(stopped.choices[0].message.content, 'keep ');
    answers.push(stopped.usage);
    bed.fake.script({ output: ['legacy'] });
    answers.push((await client.completions.create({ model: 'deepseek-v3.1', prompt: 'p' })).usage);
    for (const u of answers) assert.equal(micro(u.cost), micro(price(u)), JSON.stringify(u));
    // A client that hangs up mid-stream is charged what the prediction produced.
    bed.fake.script({ output: ['1', '2', '3', '4', '5', '6'], tokenDelay: 80 });
    await sseRequest(bed.url, '/v1/chat/completions', { ...user('bye'), stream: true }, {
      apiKey: key.key, onEvent: (ev, req, out) => { if (out.chunks.length === 3) req.hangUp(); },
    });
    await sleep(300);
    const logs = (await bed.admin('GET', `/spend/logs?api_key=${key.token}`)).json;
    assert.equal(logs.length, 6);
    for (let i = 0; i < answers.length; i++) {
      const row = logs[i];
      assert.equal(row.prompt_tokens, answers[i].prompt_tokens);
      assert.equal(row.completion_tokens, answers[i].completion_tokens);
      assert.equal(micro(row.spend), micro(answers[i].cost));
      assert.equal(row.key_alias, 'ledger');
      assert.equal(row.api_key, key.token);
      assert.equal(row.status, 200);
    }
    assert.deepEqual(logs.map((r) => [r.call_type, r.stream, r.n]), [
      ['/v1/chat/completions', 0, 1], ['/v1/chat/completions', 1, 1], ['/v1/chat/completions', 0, 2],
      ['/v1/chat/completions', 0, 1], ['/v1/completions', 0, 1], ['/v1/chat/completions', 1, 1]]);
    assert.equal(logs[2].prediction_ids.split(',').length, 2);
    const hung = logs[5];
    assert.ok(hung.completion_tokens > 0, 'the hang-up is charged');
    assert.equal(micro(hung.spend), micro(price(hung)));
    for (const r of logs) {
      assert.match(r.startTime, /^\d{4}-\d\d-\d\dT/);
      assert.ok(Date.parse(r.endTime) >= Date.parse(r.startTime));
      assert.equal(r.upstream_model, 'deepseek-ai/deepseek-v3.1');
      assert.equal(r.requester_ip_address, '127.0.0.1');
    }
    const total = logs.reduce((s, r) => s + r.spend, 0);
    const info = await bed.admin('GET', `/key/info?key=${key.token}`);
    assert.equal(micro(info.json.info.spend), micro(total));
    const report = (await bed.admin('GET', '/global/spend/report?group_by=api_key')).json;
    const mine = report.find((g) => g.api_key === key.token);
    assert.equal(mine.requests, 6);
    assert.equal(micro(mine.spend), micro(total));
    const byModel = (await bed.admin('GET', '/global/spend/report?group_by=model')).json;
    assert.ok(byModel.some((g) => g.model === 'deepseek-v3.1'));
  });

  it('a client that leaves before any answer: a row with status 499', async () => {
    const k = await bed.newKey({ key_alias: 'gone' });
    bed.fake.script({ syncStatus: 'starting', terminalAfterMs: 1500, output: ['late'] });
    await assert.rejects(bed.chat(user('bye'), { key: k.key, timeoutMs: 300 }));
    let rows = [];
    for (let i = 0; i < 40 && rows.length === 0; i++) {
      await sleep(50);
      rows = (await bed.admin('GET', `/spend/logs?api_key=${k.token}`)).json;
    }
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 499);
    assert.equal(rows[0].prediction_ids.split(',').length, 1);
  });

  it('the user field and refusals are recorded; N concurrent requests make N rows', async () => {
    const k = await bed.newKey({ key_alias: 'many' });
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => bed.chat({ ...user(`q${i}`), user: 'member-7' }, { key: k.key })));
    assert.ok(replies.every((r) => r.status === 200));
    const bad = await bed.chat({ model: 'deepseek-v3.1', messages: [] }, { key: k.key });
    assert.equal(bad.status, 400);
    // A create Replicate refuses consumed nothing: recorded, charged $0.
    bed.fake.script({ http: { status: 422 } });
    const refused = await bed.chat(user('refused upstream'), { key: k.key });
    assert.ok(refused.status >= 400, refused.text);
    const logs = (await bed.admin('GET', `/spend/logs?api_key=${k.key}`)).json;
    assert.equal(logs.length, 62);
    assert.ok(logs.slice(0, 60).every((r) => r.user === 'member-7'));
    assert.equal(logs[60].status, 400, 'the invalid request');
    const last = logs.at(-1);
    assert.deepEqual([last.status, last.prompt_tokens, last.completion_tokens, last.spend, last.prediction_ids],
      [refused.status, 0, 0, 0, null]);
  });

  itExitsCleanly(() => bed, it);
});

describe('ledger without master_key', () => {
  let bed;
  let dir;
  before(async () => {
    dir = tempDir();
    bed = await setup({ config: { database: join(dir, 'solo.db') } });
  });
  after(async () => { await bed?.finish(); rmSync(dir, { recursive: true, force: true }); });

  it('usage.cost in answers; rows without a key; `replicate-proxy spend` reads them', async () => {
    bed.fake.script({ output: ['solo'] });
    const c = await bed.client.chat.completions.create(user('hi'));
    assert.equal(micro(c.usage.cost), micro(price(c.usage)));
    await bed.proxy.stop(); // SIGTERM flushes the ledger
    const r = await runProxy(['spend', '--database', join(dir, 'solo.db')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.length, 1);
    assert.equal(report[0].api_key, null);
    assert.equal(report[0].requests, 1);
    assert.equal(micro(report[0].spend), micro(c.usage.cost));
    const logs = JSON.parse((await runProxy(['spend', 'logs', '--database', join(dir, 'solo.db')])).stdout);
    assert.equal(logs[0].prompt_tokens, c.usage.prompt_tokens);
    assert.equal(logs[0].tokens_estimated, 0);
  });

  it('the admin API needs gateway mode: 401', async () => {
    // The proxy of this bed was stopped above; a fresh one on the same file.
    const p = await bed.addProxy({ config: { database: join(dir, 'solo.db') } });
    const { request } = await import('./helpers.mjs');
    assertErrorReply(await request(p.url, 'GET', '/key/list'), 401, { code: 'invalid_api_key' });
  });
});
