// Issue 10 and 13, the gateway's figures in /metrics: refusals by key alias and
// reason, ledger rows written / queued / dropped, the database's state, and
// Redis (up, failure mode, admissions decided locally while it is down).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itExitsCleanly, setup, sleep, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';
import { metricValue, parseMetrics } from './ops_prom.mjs';
import { PG_BIN, REDIS_BIN, startPostgres, startRedis } from './engines.mjs';

let bed;

async function scrape() {
  const r = await bed.request('GET', '/metrics', { auth: false, headers: { Authorization: `Bearer ${MASTER}` } });
  assert.equal(r.status, 200, r.text);
  return parseMetrics(r.text);
}

const value = metricValue;

describe('gateway refusals, ledger and database in /metrics', () => {
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });

  it('each refusal is counted by key alias and reason', async () => {
    const chat = (key, body = user('hi')) => bed.request('POST', '/v1/chat/completions', { key, body });
    const rpm = await bed.newKey({ key_alias: 'r-rpm', rpm_limit: 1 });
    const tpm = await bed.newKey({ key_alias: 'r-tpm', tpm_limit: 5 });
    const budget = await bed.newKey({ key_alias: 'r-budget', max_budget: 0.0000001 });
    const models = await bed.newKey({ key_alias: 'r-models', models: ['some-other-model'] });
    const par = await bed.newKey({ key_alias: 'r-par', max_parallel_requests: 1 });

    bed.fake.script({ output: ['ok'] });
    assert.equal((await chat(rpm.key)).status, 200);
    assert.equal((await chat(rpm.key)).status, 429);
    assert.equal((await chat(rpm.key)).status, 429);
    assert.equal((await chat(tpm.key)).status, 429);
    assert.equal((await chat(budget.key)).status, 429);
    assert.equal((await chat(models.key)).status, 403);
    assert.equal((await chat('sk-not-a-key-at-all')).status, 401);
    bed.fake.script({ output: ['a', 'b', 'c'], tokenDelay: 150 });
    const slow = bed.request('POST', '/v1/chat/completions', { key: par.key, body: { ...user('slow'), stream: true } });
    await sleep(150);
    assert.equal((await chat(par.key)).status, 429);
    assert.equal((await slow).status, 200);

    const m = await scrape();
    const refusals = (alias, reason) => value(m, 'replicate_proxy_refusals_total', { key_alias: alias, reason });
    assert.equal(refusals('r-rpm', 'rpm'), 2);
    assert.equal(refusals('r-tpm', 'tpm'), 1);
    assert.equal(refusals('r-budget', 'budget'), 1);
    assert.equal(refusals('r-models', 'model_not_allowed'), 1);
    assert.equal(refusals('', 'invalid_key'), 1);
    assert.equal(refusals('r-par', 'parallel'), 1);
    assert.equal(m.find((f) => f.name === 'replicate_proxy_refusals_total').metrics.length, 6, 'nothing else');
  });

  it('ledger rows written match the requests settled; the queue drains; the database is up', async () => {
    // The earlier test's rows first: wait until the figure stands still, queue empty.
    let before0 = -1;
    for (let i = 0; i < 50; i++) {
      const m0 = await scrape();
      const w = value(m0, 'replicate_proxy_ledger_rows_written_total');
      if (w === before0 && value(m0, 'replicate_proxy_ledger_rows_queued') === 0) break;
      before0 = w;
      await sleep(200);
    }
    const k = await bed.newKey({ key_alias: 'ledger' });
    for (let i = 0; i < 3; i++) bed.fake.script({ output: ['x'] });
    for (let i = 0; i < 3; i++)
      assert.equal((await bed.request('POST', '/v1/chat/completions', { key: k.key, body: user(`row ${i}`) })).status, 200);
    let m;
    for (let i = 0; i < 100; i++) {
      m = await scrape();
      if (value(m, 'replicate_proxy_ledger_rows_written_total') - before0 >= 3) break;
      await sleep(50);
    }
    // Each settled /v1 request makes one row; the scrapes are not /v1.
    assert.equal(value(m, 'replicate_proxy_ledger_rows_written_total') - before0, 3);
    assert.equal(value(m, 'replicate_proxy_ledger_rows_queued'), 0);
    assert.equal(value(m, 'replicate_proxy_ledger_rows_dropped_total'), 0);
    assert.equal(value(m, 'replicate_proxy_database_up', { backend: 'sqlite' }), 1);
    assert.ok(!m.some((f) => f.name.startsWith('replicate_proxy_redis_')), 'no Redis configured: no Redis series');
  });

  itExitsCleanly(() => bed, it);
});

describe('Redis state in /metrics', { skip: !REDIS_BIN && 'redis-server not installed' }, () => {
  let redis;
  before(async () => {
    redis = await startRedis();
    bed = await setup({ config: { master_key: MASTER, redis_url: redis.url }, apiKey: MASTER });
    bed.proxy.addSecret(MASTER);
    bed.proxy.addSecret(redis.password);
  });
  after(async () => { await bed?.finish(); await redis?.close(); });

  it('up while it answers; down, failure mode open and local decisions counted once it is gone', async () => {
    const gen = await bed.request('POST', '/key/generate', { key: MASTER, body: { key_alias: 'shared', rpm_limit: 100 } });
    assert.equal(gen.status, 200, gen.text);
    bed.proxy.addSecret(gen.json.key);
    bed.fake.script({ output: ['x'] });
    assert.equal((await bed.request('POST', '/v1/chat/completions', { key: gen.json.key, body: user('shared') })).status, 200);
    let m = await scrape();
    assert.equal(value(m, 'replicate_proxy_redis_up'), 1);
    assert.equal(value(m, 'replicate_proxy_redis_failure_mode', { mode: 'open' }), 1);
    assert.equal(value(m, 'replicate_proxy_redis_local_fallbacks_total'), 0);

    await redis.stop();
    for (let i = 0; i < 2; i++) {
      bed.fake.script({ output: ['y'] });
      const r = await bed.request('POST', '/v1/chat/completions', { key: gen.json.key, body: user(`local ${i}`) });
      assert.equal(r.status, 200, r.text);
    }
    m = await scrape();
    assert.equal(value(m, 'replicate_proxy_redis_up'), 0);
    assert.equal(value(m, 'replicate_proxy_redis_local_fallbacks_total'), 2);
  });

  itExitsCleanly(() => bed, it);
});

describe('PostgreSQL state in /metrics', { skip: !PG_BIN && 'postgresql not installed' }, () => {
  let pg;
  before(async () => {
    pg = await startPostgres();
    pg.createdb('gw');
    bed = await setup({ config: { master_key: MASTER, database_url: pg.url('gw') }, apiKey: MASTER });
    bed.proxy.addSecret(MASTER);
    bed.proxy.addSecret(pg.password);
  });
  after(async () => { await bed?.finish(); pg?.close(); });

  it('up, no errors; once it stops: down, the reads that failed counted with the time of the last', async () => {
    let m = await scrape();
    assert.equal(value(m, 'replicate_proxy_database_up', { backend: 'postgresql' }), 1);
    assert.equal(value(m, 'replicate_proxy_database_errors_total', { op: 'keys' }), 0);
    assert.equal(value(m, 'replicate_proxy_database_last_error_timestamp_seconds'), 0);
    pg.stop();
    const stopped = Date.now() / 1000;
    for (let i = 0; i < 50; i++) {
      m = await scrape();
      if (value(m, 'replicate_proxy_database_up', { backend: 'postgresql' }) === 0) break;
      await sleep(100);
    }
    assert.equal(value(m, 'replicate_proxy_database_up', { backend: 'postgresql' }), 0);
    assert.ok(value(m, 'replicate_proxy_database_errors_total', { op: 'keys' }) >= 1);
    const last = value(m, 'replicate_proxy_database_last_error_timestamp_seconds');
    assert.ok(last >= stopped - 1 && last <= Date.now() / 1000 + 1, `${last}`);
    pg.start();
    for (let i = 0; i < 100; i++) {
      m = await scrape();
      if (value(m, 'replicate_proxy_database_up', { backend: 'postgresql' }) === 1) break;
      await sleep(100);
    }
    assert.equal(value(m, 'replicate_proxy_database_up', { backend: 'postgresql' }), 1, 'up again');
  });

  itExitsCleanly(() => bed, it);
});
