// A client that hangs up is charged its real tokens: the proxy cancels the
// prediction, reads its final state until Replicate reports what it consumed,
// and settles once with those counts (the ledger row, the key's spend and its
// budget alike). The estimate from the text seen is the fallback, flagged.
// A create still in flight at the hang-up (Prefer: wait: it can be the whole
// generation) is waited for, and its prediction charged the same way.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { REPLICATE_TOKEN, clientFor, itExitsCleanly, runProxy, sleep, sseRequest, user } from './helpers.mjs';
import { gatewayBed } from './gateway_helpers.mjs';
import { REDIS_BIN, startRedis } from './engines.mjs';

const IN = 0.672;
const OUT = 2.016;
const price = (pt, ct) => (pt * IN + ct * OUT) / 1e6;
const micro = (x) => Math.round(x * 1e6);
const EIGHT = ['1', '2', '3', '4', '5', '6', '7', '8'];

// A stream cut after `after` chunks; resolves once the client is gone.
function cutStream(bed, key, afterChunks = 3, body = {}) {
  return sseRequest(bed.url, '/v1/chat/completions', { ...user('tell me more'), stream: true, ...body }, {
    apiKey: key, onEvent: (ev, req, out) => { if (out.chunks.length === afterChunks) req.hangUp(); },
  });
}

async function rowsOf(bed, token, count = 1) {
  let rows = [];
  for (let i = 0; i < 100 && rows.length < count; i++) {
    rows = (await bed.admin('GET', `/spend/logs?api_key=${token}`)).json;
    if (rows.length < count) await sleep(50);
  }
  assert.equal(rows.length, count, `ledger rows for the key: ${JSON.stringify(rows)}`);
  return rows;
}

// The key's rows in the database of a stopped proxy (through the CLI).
async function stoppedRows(bed, token) {
  const r = await runProxy(['spend', 'logs', '--database', bed.database]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).filter((x) => x.api_key === token);
}

describe('gateway: a hang-up is settled with the canceled prediction\'s final metrics', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the ledger row and /key/info spend equal the final metrics × prices, tokens_estimated 0', async () => {
    const k = await bed.newKey({ key_alias: 'hangup' });
    // The model had produced more than the client saw: the metrics say so.
    bed.fake.script({ output: EIGHT, tokenDelay: 80, metrics: { input_token_count: 321, output_token_count: 77 } });
    const out = await cutStream(bed, k.key);
    assert.equal(out.aborted, true);
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.prompt_tokens, 321);
    assert.equal(row.completion_tokens, 77);
    assert.equal(row.tokens_estimated, 0);
    assert.equal(row.status, 200);
    assert.equal(micro(row.spend), micro(price(321, 77)));
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(price(321, 77)));
    // Canceled, then read until terminal.
    const id = row.prediction_ids;
    assert.deepEqual(bed.fake.cancels, [id]);
    assert.equal(bed.fake.prediction(id).status, 'canceled');
    const cancelAt = bed.fake.log.find((e) => e.kind === 'cancel').seq;
    assert.ok(bed.fake.gets(id).some((g) => g.seq > cancelAt), 'a GET after the cancel');
  });

  it('a cancel that takes a while to land: GETs back off until the prediction is terminal', async () => {
    const k = await bed.newKey({ key_alias: 'lag' });
    bed.fake.script({ output: EIGHT, tokenDelay: 80, cancelLagMs: 700, metrics: { input_token_count: 40, output_token_count: 9 } });
    await cutStream(bed, k.key);
    await sleep(300);
    assert.deepEqual(await bed.admin('GET', `/spend/logs?api_key=${k.token}`).then((r) => r.json), [],
      'no row while the prediction still runs');
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [40, 9, 0]);
    assert.equal(micro(row.spend), micro(price(40, 9)));
    const gets = bed.fake.gets(row.prediction_ids);
    assert.ok(gets.length >= 2, `${gets.length} GETs`);
    assert.ok(gets.length <= 12, `backoff, not a busy loop: ${gets.length} GETs`);
  });

  it('n = 2: both predictions are read to the end and their final counts summed', async () => {
    const k = await bed.newKey({ key_alias: 'two' });
    bed.fake.script(
      { output: EIGHT, tokenDelay: 80, metrics: { input_token_count: 5, output_token_count: 7 } },
      { output: EIGHT, tokenDelay: 80, cancelLagMs: 300, metrics: { input_token_count: 6, output_token_count: 9 } },
    );
    await cutStream(bed, k.key, 4, { n: 2 });
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.n, 2);
    assert.equal(row.prediction_ids.split(',').length, 2);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [11, 16, 0]);
    assert.equal(micro(row.spend), micro(price(11, 16)));
    assert.equal(bed.fake.cancels.length, 2);
  });

  it('the fake\'s default: a canceled prediction reports the chunks it produced', async () => {
    const k = await bed.newKey({ key_alias: 'default' });
    bed.fake.script({ output: EIGHT, tokenDelay: 80 });
    await cutStream(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    const p = bed.fake.prediction(row.prediction_ids);
    assert.equal(row.prompt_tokens, 12);
    assert.equal(row.completion_tokens, p.visible);
    assert.equal(row.tokens_estimated, 0);
    assert.equal(micro(row.spend), micro(price(12, p.visible)));
  });

  it('no token counts in the final metrics: the estimate, flagged tokens_estimated', async () => {
    const k = await bed.newKey({ key_alias: 'nometrics' });
    bed.fake.script({ output: ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee'], tokenDelay: 80, metrics: null });
    await cutStream(bed, k.key, 2);
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.tokens_estimated, 1);
    assert.ok(row.completion_tokens > 0, `estimated from the text seen: ${row.completion_tokens}`);
    assert.equal(micro(row.spend), micro(price(row.prompt_tokens, row.completion_tokens)));
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(row.spend));
  });

  it('the prediction cannot be read (404): the estimate at once, flagged', async () => {
    const k = await bed.newKey({ key_alias: 'gone404' });
    bed.fake.script({ output: EIGHT, tokenDelay: 80, getFaults: Array(20).fill({ status: 404 }) });
    await cutStream(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.tokens_estimated, 1);
    assert.equal(micro(row.spend), micro(price(row.prompt_tokens, row.completion_tokens)));
    assert.equal(bed.fake.gets(row.prediction_ids).length, 1, 'a 404 is not retried');
  });

  it('the parallel slot is free at the hang-up; the budget stays reserved until the final settle', async () => {
    // Worst case of one request ≈ 1000 × $2.016/M ≈ $0.00202 (+ a few prompt tokens):
    // one fits in $0.003, two do not.
    const k = await bed.newKey({ key_alias: 'both', max_parallel_requests: 1, max_budget: 0.003 });
    bed.fake.script({ output: EIGHT, tokenDelay: 80, cancelLagMs: 1200, metrics: { input_token_count: 10, output_token_count: 20 } });
    await cutStream(bed, k.key, 3, { max_tokens: 1000 });
    // Still settling: a request within the parallel limit, but over the reserved budget.
    const during = await bed.chat({ ...user('now'), max_tokens: 1000 }, { key: k.key });
    assert.equal(during.status, 429, during.text);
    assert.equal(during.json.error.code, 'insufficient_quota', 'refused by the budget, not by the parallel slot');
    // A request that fits beside the reservation is admitted: the slot was given back.
    bed.fake.script({ output: ['ok'] });
    const small = await bed.chat({ ...user('small'), max_tokens: 50 }, { key: k.key });
    assert.equal(small.status, 200, small.text);
    const rows = await rowsOf(bed, k.token, 3);
    const hung = rows.find((r) => r.stream === 1);
    assert.deepEqual([hung.prompt_tokens, hung.completion_tokens, hung.tokens_estimated], [10, 20, 0]);
    // Settled: the reservation is released, the next full-size request fits.
    bed.fake.script({ output: ['later'] });
    const later = await bed.chat({ ...user('later'), max_tokens: 1000 }, { key: k.key });
    assert.equal(later.status, 200, later.text);
  });

  itExitsCleanly(() => bed, it);
});

// A non-streamed request whose SDK gives up (timeout 300 ms) while the sync
// create (Prefer: wait) is still held by Replicate for ~1 s.
async function sdkTimeout(bed, key, body = {}) {
  const client = clientFor(bed.url, key);
  const t0 = Date.now();
  await assert.rejects(client.chat.completions.create({ ...user('a long answer'), ...body }, { timeout: 300 }),
    (e) => e.constructor.name === 'APIConnectionTimeoutError');
  assert.ok(Date.now() - t0 < 900, 'the client left before the create returned');
}

describe('gateway: a create in flight when the request is given up (hang-up, error) is charged its prediction', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the create returns a completed prediction: its final counts, exactly, and no cancel', async () => {
    const k = await bed.newKey({ key_alias: 'sync-done' });
    bed.fake.script({ createDelay: 1000, syncStatus: 'terminal', metrics: { input_token_count: 123, output_token_count: 456 } });
    await sdkTimeout(bed, k.key);
    await sleep(300);
    assert.deepEqual(await bed.admin('GET', `/spend/logs?api_key=${k.token}`).then((r) => r.json), [],
      'no row while the create is still in flight');
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated, row.status], [123, 456, 0, 499]);
    assert.equal(micro(row.spend), micro(price(123, 456)));
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(price(123, 456)));
    const creates = bed.fake.creates();
    assert.equal(creates.length, 1);
    assert.equal(row.prediction_ids, bed.fake.prediction(row.prediction_ids)?.id, 'the row lists the prediction');
    assert.deepEqual(bed.fake.cancels, [], 'a terminal prediction is not canceled');
  });

  it('the create returns a running prediction: one cancel, then its final counts are read', async () => {
    const k = await bed.newKey({ key_alias: 'sync-running' });
    bed.fake.script({ output: EIGHT, createDelay: 1000, metrics: { input_token_count: 77, output_token_count: 33 } });
    await sdkTimeout(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [77, 33, 0]);
    assert.equal(micro(row.spend), micro(price(77, 33)));
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(price(77, 33)));
    assert.equal(bed.fake.creates().length, 1);
    assert.deepEqual(bed.fake.cancels, [row.prediction_ids]);
    assert.equal(bed.fake.prediction(row.prediction_ids).status, 'canceled');
    const cancelAt = bed.fake.log.find((e) => e.kind === 'cancel').seq;
    assert.ok(bed.fake.gets(row.prediction_ids).some((g) => g.seq > cancelAt), 'a GET after the cancel');
  });

  it('n = 2, both creates in flight: both predictions charged, summed, once', async () => {
    const k = await bed.newKey({ key_alias: 'sync-two' });
    bed.fake.script(
      { createDelay: 1000, syncStatus: 'terminal', metrics: { input_token_count: 10, output_token_count: 20 } },
      { output: EIGHT, createDelay: 1000, metrics: { input_token_count: 11, output_token_count: 22 } },
    );
    await sdkTimeout(bed, k.key, { n: 2 });
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.n, 2);
    assert.equal(row.prediction_ids.split(',').length, 2);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [21, 42, 0]);
    assert.equal(micro(row.spend), micro(price(21, 42)));
    assert.equal(bed.fake.creates().length, 2);
    assert.equal(bed.fake.cancels.length, 1, 'only the running one is canceled');
    await sleep(300);
    assert.equal((await rowsOf(bed, k.token)).length, 1, 'settled once');
  });

  it('n = 2, one create fails at once: the error is answered, the other\'s prediction still charged', async () => {
    const k = await bed.newKey({ key_alias: 'sync-half' });
    bed.fake.script(
      { http: { status: 422 } },
      { createDelay: 1500, syncStatus: 'terminal', metrics: { input_token_count: 14, output_token_count: 28 } },
    );
    const t0 = Date.now();
    const r = await bed.chat({ ...user('two'), n: 2 }, { key: k.key });
    assert.ok(r.status >= 400, r.text);
    assert.ok(Date.now() - t0 < 1200, 'answered without waiting for the other create');
    const [row] = await rowsOf(bed, k.token);
    assert.equal(row.status, r.status);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [14, 28, 0]);
    assert.equal(micro(row.spend), micro(price(14, 28)));
    assert.equal(row.prediction_ids.split(',').length, 1);
  });

  // The create's answer is lost after it was sent (connection reset): Replicate
  // may have made the prediction. The list tells which, as for a live create.
  const lists = () => bed.fake.log.filter((e) => e.kind === 'list');

  it('its answer is lost, the prediction made: found in the list, canceled, its final counts charged', async () => {
    const k = await bed.newKey({ key_alias: 'lost-made' });
    bed.fake.script({ output: EIGHT, createDelay: 1000, createFault: 'reset-after-create',
      metrics: { input_token_count: 55, output_token_count: 3 } });
    await sdkTimeout(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    const [create] = bed.fake.creates();
    assert.equal(bed.fake.creates().length, 1, 'never created again');
    assert.ok(create.predictionId, 'the fake made a prediction');
    assert.equal(row.prediction_ids, create.predictionId, 'the row lists the prediction');
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated, row.status], [55, 3, 0, 499]);
    assert.equal(micro(row.spend), micro(price(55, 3)));
    const info = await bed.admin('GET', `/key/info?key=${k.token}`);
    assert.equal(micro(info.json.info.spend), micro(price(55, 3)));
    assert.ok(lists().length >= 1 && lists()[0].seq > create.seq, 'the list was read after the create');
    assert.deepEqual(bed.fake.cancels, [create.predictionId]);
    const cancel = bed.fake.log.find((e) => e.kind === 'cancel');
    assert.equal(cancel.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    assert.equal(bed.fake.prediction(create.predictionId).status, 'canceled');
    assert.match(bed.proxy.stderr, new RegExp(`prediction ${create.predictionId} found in the list: an abandoned create`));
  });

  it('its answer is lost, nothing made: the list proves it, no cancel, nothing charged, not created again', async () => {
    const k = await bed.newKey({ key_alias: 'lost-none' });
    bed.fake.script({ createDelay: 1000, createFault: 'reset-before-create' });
    await sdkTimeout(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated, row.spend], [0, 0, 0, 0]);
    assert.equal(row.prediction_ids ?? null, null);
    assert.equal(lists().length, 1, 'the list was read (one page covers the send time)');
    await sleep(200);
    assert.equal(bed.fake.creates().length, 1, 'never created again');
    assert.equal(bed.fake.cancels.length, 0);
    assert.match(bed.proxy.stderr, /an abandoned create whose answer was lost made no prediction/);
  });

  it('its answer is lost, nothing made; an identical prediction made well after its sending (a retry) is not taken for it', async () => {
    const k = await bed.newKey({ key_alias: 'lost-later' });
    bed.fake.script(
      { createDelay: 1000, createFault: 'reset-before-create' },
      { output: ['retried'], syncStatus: 'terminal', metrics: { input_token_count: 5, output_token_count: 1 } },
    );
    await sdkTimeout(bed, k.key);
    // The SDK's retry, the same input: its prediction reads as made 60 s after
    // the lost create was sent (past connect_timeout and the clock skew).
    const retry = await bed.chat({ ...user('a long answer') }, { key: k.key });
    assert.equal(retry.status, 200, retry.text);
    const other = bed.fake.creates()[1].predictionId;
    bed.fake.prediction(other).createdAt = Date.now() + 60000;
    const rows = await rowsOf(bed, k.token, 2);
    const lost = rows.find((r) => r.status === 499);
    assert.deepEqual([lost.prompt_tokens, lost.completion_tokens, lost.spend], [0, 0, 0]);
    assert.equal(lost.prediction_ids ?? null, null);
    assert.equal(lists().length, 1, 'the list was read');
    assert.equal(bed.fake.cancels.length, 0, 'the retry\'s prediction is not canceled');
    assert.match(bed.proxy.stderr, /an abandoned create whose answer was lost made no prediction/);
  });

  it('n = 2, the same input: the lost create\'s own prediction is found, not its sibling\'s', async () => {
    const k = await bed.newKey({ key_alias: 'lost-two' });
    bed.fake.script(
      { output: EIGHT, polls: 1000, metrics: { input_token_count: 10, output_token_count: 20 } },
      { output: EIGHT, createDelay: 1000, createFault: 'reset-after-create',
        metrics: { input_token_count: 11, output_token_count: 22 } },
    );
    await sdkTimeout(bed, k.key, { n: 2 });
    const [row] = await rowsOf(bed, k.token);
    const ids = bed.fake.creates().map((c) => c.predictionId);
    assert.equal(ids.length, 2);
    assert.deepEqual(row.prediction_ids.split(',').sort(), [...ids].sort());
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [21, 42, 0]);
    assert.deepEqual([...bed.fake.cancels].sort(), [...ids].sort(), 'each canceled once');
    const lost = bed.fake.creates().find((c) => c.status === 'reset');
    assert.equal(bed.fake.prediction(lost.predictionId).status, 'canceled');
  });

  it('its answer is lost, identical newer predictions fill the list\'s first page: the oldest, its own, is charged', async () => {
    const k = await bed.newKey({ key_alias: 'lost-paged' });
    bed.fake.listPageSize = 2;
    try {
      bed.fake.script({ output: EIGHT, createDelay: 1000, createFault: 'reset-after-create',
        metrics: { input_token_count: 66, output_token_count: 4 } });
      // Later identical requests of the same account, made before the list is read.
      bed.fake.listFaults.push(() => {
        const mine = bed.fake.prediction(bed.fake.creates()[0].predictionId);
        for (let i = 1; i <= 3; i++) {
          bed.fake.predictions.set(`${mine.id}x${i}`, { ...mine, id: `${mine.id}x${i}`, seq: mine.seq + 1000 + i,
            createdAt: mine.createdAt + i, listeners: new Set(), status: 'succeeded' });
        }
      });
      await sdkTimeout(bed, k.key);
      const [row] = await rowsOf(bed, k.token);
      const id = bed.fake.creates()[0].predictionId;
      assert.equal(row.prediction_ids, id, 'not a newer copy');
      assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [66, 4, 0]);
      assert.equal(lists().length, 2, 'two pages read');
      assert.match(lists()[1].url, /^\/v1\/predictions\?cursor=/);
      assert.deepEqual(bed.fake.cancels, [id]);
    } finally { bed.fake.listPageSize = 100; }
  });

  it('its answer is lost and the list cannot be read: logged as unknown, nothing charged, not created again', async () => {
    const k = await bed.newKey({ key_alias: 'lost-nolist' });
    bed.fake.script({ output: EIGHT, createDelay: 1000, createFault: 'reset-after-create' });
    bed.fake.listFaults.push({ status: 500 });
    await sdkTimeout(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.spend], [0, 0, 0]);
    assert.equal(lists().length, 1);
    assert.equal(bed.fake.creates().length, 1, 'never created again');
    assert.equal(bed.fake.cancels.length, 0);
    assert.match(bed.proxy.stderr, /listing predictions to find it failed \(page 1: reply, HTTP 500\)/);
  });

  it('the create fails: no prediction, no tokens charged, settled once', async () => {
    const k = await bed.newKey({ key_alias: 'sync-fail' });
    bed.fake.script({ createDelay: 1000, http: { status: 422 } });
    await sdkTimeout(bed, k.key);
    const [row] = await rowsOf(bed, k.token);
    assert.deepEqual([row.prompt_tokens, row.completion_tokens, row.tokens_estimated], [0, 0, 0]);
    assert.equal(row.spend, 0);
    assert.equal(bed.fake.cancels.length, 0);
  });

  itExitsCleanly(() => bed, it);
});

describe('gateway: a hang-up still settling at SIGTERM', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });

  it('settles on the estimate (flagged) and the proxy exits within its grace', async () => {
    const k = await bed.newKey({ key_alias: 'shutdown' });
    // The cancel never lands in time: the prediction stays 'processing'.
    bed.fake.script({ output: EIGHT, tokenDelay: 80, cancelLagMs: 60000 });
    await cutStream(bed, k.key);
    await sleep(300);
    const t0 = Date.now();
    await bed.proxy.stop();
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    const rows = await stoppedRows(bed, k.token);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].tokens_estimated, 1);
    assert.ok(rows[0].completion_tokens > 0);
    assert.equal(micro(rows[0].spend), micro(price(rows[0].prompt_tokens, rows[0].completion_tokens)));
  });
});

describe('gateway: a create in flight at SIGTERM, its client gone', () => {
  let bed;
  before(async () => { bed = await gatewayBed({ config: { shutdown_grace: '1s' } }); });
  after(async () => { await bed?.finish(); });

  it('the create returns within the grace: settled with its final counts', async () => {
    const k = await bed.newKey({ key_alias: 'term-sync' });
    bed.fake.script({ createDelay: 900, syncStatus: 'terminal', metrics: { input_token_count: 31, output_token_count: 62 } });
    await sdkTimeout(bed, k.key);
    await bed.proxy.stop();
    const rows = await stoppedRows(bed, k.token);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0].prompt_tokens, rows[0].completion_tokens, rows[0].tokens_estimated], [31, 62, 0]);
    assert.equal(micro(rows[0].spend), micro(price(31, 62)));
  });
});

describe('gateway: a create that outlives the grace, its client gone', () => {
  let bed;
  before(async () => { bed = await gatewayBed({ config: { shutdown_grace: '1s' } }); });
  after(async () => { await bed?.finish(); });

  it('the proxy exits on time and settles on the prompt estimate, flagged', async () => {
    const k = await bed.newKey({ key_alias: 'term-late' });
    bed.fake.script({ createDelay: 20000, syncStatus: 'terminal' });
    await sdkTimeout(bed, k.key);
    const t0 = Date.now();
    await bed.proxy.stop();
    assert.ok(Date.now() - t0 < 8000, `stopped in ${Date.now() - t0} ms`);
    const rows = await stoppedRows(bed, k.token);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].tokens_estimated, 1);
    assert.ok(rows[0].prompt_tokens > 0, 'the prompt estimate');
    assert.equal(rows[0].completion_tokens, 0);
    assert.equal(micro(rows[0].spend), micro(price(rows[0].prompt_tokens, 0)));
  });
});

describe('gateway: a hang-up with the limits shared in Redis', { skip: !REDIS_BIN && 'redis-server not installed' }, () => {
  let bed, redis;
  before(async () => {
    redis = await startRedis();
    bed = await gatewayBed({ config: { redis_url: redis.url } });
    bed.proxy.addSecret(redis.password);
  });
  after(async () => { await bed?.finish(); await redis?.close(); });

  it('the shared parallel slot is free at the hang-up, before the final settle', async () => {
    const k = await bed.newKey({ key_alias: 'shared-slot', max_parallel_requests: 1 });
    bed.fake.script({ output: EIGHT, tokenDelay: 80, cancelLagMs: 3000, metrics: { input_token_count: 10, output_token_count: 20 } });
    await cutStream(bed, k.key);
    // The release reaches Redis through its client thread; the settlement
    // (which frees the slot too) waits ~3 s for the cancel to land.
    const held = () => redis.cli('ZCARD', `rp:{${k.token}}:par`);
    for (let i = 0; i < 30 && held() !== '0'; i++) await sleep(50);
    assert.equal(held(), '0', 'no slot held in Redis while settling');
    assert.deepEqual(await bed.admin('GET', `/spend/logs?api_key=${k.token}`).then((r) => r.json), [],
      'still settling');
    bed.fake.script({ output: ['ok'] });
    const next = await bed.chat({ ...user('next') }, { key: k.key });
    assert.equal(next.status, 200, next.text);
    const rows = await rowsOf(bed, k.token, 2);
    const hung = rows.find((r) => r.stream === 1);
    assert.deepEqual([hung.prompt_tokens, hung.completion_tokens, hung.tokens_estimated], [10, 20, 0]);
  });

  itExitsCleanly(() => bed, it);
});
