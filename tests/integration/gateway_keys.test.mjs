// The team gateway: master key and virtual keys, the admin API (LiteLLM's shapes),
// the CLI against a running server, restarts, and no key in the database or logs.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  REPLICATE_TOKEN, apiError, assertErrorReply, itExitsCleanly, runProxy, setup, sleep, startProxy,
  tempDir, user,
} from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';

const cli = (args, bed) => runProxy([...args, '--config', bed.proxy.file]);

describe('gateway: who may call', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('no key, an unknown key → 401 invalid_api_key before any upstream call', async () => {
    assertErrorReply(await bed.chat(user('hi'), { auth: false }), 401, { code: 'invalid_api_key' });
    assertErrorReply(await bed.chat(user('hi'), { key: 'sk-not-a-key-of-this-gateway' }), 401, { code: 'invalid_api_key' });
    assertErrorReply(await bed.chat(user('hi'), { key: REPLICATE_TOKEN }), 401, { code: 'invalid_api_key' });
    assert.deepEqual(bed.fake.requests(), []);
  });

  it('the master key is served; upstream gets replicate_api_token', async () => {
    bed.fake.script({ output: ['ok'] });
    const c = await bed.client.chat.completions.create(user('hi'));
    assert.equal(c.choices[0].message.content, 'ok');
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
  });

  it('a virtual key works through the SDK, from Authorization or x-api-key', async () => {
    const k = await bed.newKey({ key_alias: 'alice' });
    assert.match(k.key, /^sk-[A-Za-z0-9_-]{43}$/);
    assert.match(k.token, /^[0-9a-f]{64}$/);
    assert.equal(k.key_name, `sk-…${k.key.slice(-4)}`);
    bed.fake.script({ output: ['one'] }, { output: ['two'] });
    const c = await bed.clientFor(k.key).chat.completions.create(user('hi'));
    assert.equal(c.choices[0].message.content, 'one');
    const r = await bed.chat(user('hi'), { auth: false, headers: { 'x-api-key': k.key } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'two');
    for (const cr of bed.fake.creates()) assert.equal(cr.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
  });

  it('a model outside the key\'s models → 403 model_not_allowed (param model)', async () => {
    const k = await bed.newKey({ models: ['deepseek-v3.1'] });
    const e = await apiError(bed.clientFor(k.key).chat.completions.create({ ...user('hi'), model: 'deepseek-ai/deepseek-v3.1' }));
    assert.equal(e.status, 403);
    assert.equal(e.code, 'model_not_allowed');
    assert.equal(e.param, 'model');
    bed.fake.script({ output: ['allowed'] });
    const c = await bed.clientFor(k.key).chat.completions.create(user('hi'));
    assert.equal(c.choices[0].message.content, 'allowed');
    assert.equal(bed.fake.creates().length, 1);
  });

  it('block, unblock, regenerate, delete take effect at once', async () => {
    const k = await bed.newKey({ key_alias: 'bob' });
    const ok = async (key) => { bed.fake.script({ output: ['x'] }); return (await bed.chat(user('hi'), { key })).status; };
    assert.equal(await ok(k.key), 200);
    assert.equal((await bed.admin('POST', '/key/block', { key: k.key })).json.blocked, true);
    assertErrorReply(await bed.chat(user('hi'), { key: k.key }), 401, { code: 'invalid_api_key' });
    const unblocked = await bed.admin('POST', '/key/unblock', { key: k.token });
    assert.equal(unblocked.json.blocked, false);
    assert.equal(await ok(k.key), 200);
    const spentBefore = (await bed.admin('GET', `/key/info?key=${k.token}`)).json.info.spend;
    assert.ok(spentBefore > 0);
    const re = await bed.admin('POST', '/key/regenerate', { key: k.key });
    assert.equal(re.status, 200, re.text);
    bed.proxy.addSecret(re.json.key);
    assert.notEqual(re.json.key, k.key);
    assert.equal(re.json.key_alias, 'bob');
    assert.equal(re.json.spend, spentBefore, 'the spend carries over to the new key');
    assertErrorReply(await bed.chat(user('hi'), { key: k.key }), 401, { code: 'invalid_api_key' });
    assert.equal(await ok(re.json.key), 200);
    const del = await bed.admin('POST', '/key/delete', { keys: [re.json.key] });
    assert.deepEqual(del.json, { deleted_keys: [re.json.token] });
    assertErrorReply(await bed.chat(user('hi'), { key: re.json.key }), 401, { code: 'invalid_api_key' });
    assertErrorReply(await bed.admin('GET', `/key/info?key=${re.json.token}`), 404, { code: 'key_not_found', param: 'key' });
  });

  it('an expired key (duration) → 401', async () => {
    const k = await bed.newKey({ duration: '1s' });
    assert.ok(Date.parse(k.expires) > Date.now());
    await sleep(1300);
    assertErrorReply(await bed.chat(user('hi'), { key: k.key }), 401, { code: 'invalid_api_key' });
  });

  itExitsCleanly(() => bed, it);
});

describe('gateway: admin API', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('/key/generate answers every LiteLLM field', async () => {
    const r = await bed.admin('POST', '/key/generate', {
      key_alias: 'carol', models: ['deepseek-v3.1'], max_budget: 2.5, budget_duration: '30d',
      rpm_limit: 10, tpm_limit: 1000, max_parallel_requests: 3, metadata: { team: 'ml' },
    });
    assert.equal(r.status, 200, r.text);
    bed.proxy.addSecret(r.json.key);
    const { key, token, budget_reset_at, created_at, ...rest } = r.json;
    assert.ok(key && token);
    const reset = Date.parse(budget_reset_at) - Date.parse(created_at);
    assert.equal(reset, 30 * 86400000);
    assert.deepEqual(rest, {
      key_alias: 'carol', key_name: `sk-…${key.slice(-4)}`, expires: null, models: ['deepseek-v3.1'],
      max_budget: 2.5, budget_duration: '30d', rpm_limit: 10, tpm_limit: 1000, max_parallel_requests: 3,
      metadata: { team: 'ml' }, blocked: false, spend: 0,
    });
  });

  it('only the master key may call it: 401 otherwise', async () => {
    const k = await bed.newKey();
    for (const [m, p, b] of [['POST', '/key/generate', {}], ['GET', '/key/list'], ['GET', '/spend/logs'],
      ['GET', '/global/spend/report'], ['POST', '/key/delete', { keys: [k.token] }], ['GET', `/key/info?key=${k.token}`]]) {
      assertErrorReply(await bed.request(m, p, { key: k.key, body: b }), 401, { code: 'invalid_api_key' });
      assertErrorReply(await bed.request(m, p, { auth: false, body: b }), 401, { code: 'invalid_api_key' });
    }
    assert.equal((await bed.admin('GET', `/key/info?key=${k.token}`)).status, 200);
  });

  it('bad fields → 400 naming param; unknown key → 404', async () => {
    for (const [body, param] of [[{ max_budget: -1 }, 'max_budget'], [{ rpm_limit: 1.5 }, 'rpm_limit'],
      [{ budget_duration: '1w' }, 'budget_duration'], [{ models: 'all' }, 'models'], [{ metadata: [] }, 'metadata'],
      [{ duration: 5 }, 'duration'], [{ key_alias: 7 }, 'key_alias']]) {
      assertErrorReply(await bed.admin('POST', '/key/generate', body), 400, { param });
    }
    assertErrorReply(await bed.admin('POST', '/key/update', { rpm_limit: 5 }), 400, { param: 'key' });
    assertErrorReply(await bed.admin('POST', '/key/update', { key: 'sk-unknown', rpm_limit: 5 }), 404, { param: 'key' });
    assertErrorReply(await bed.admin('POST', '/key/block', { key: 'f'.repeat(64) }), 404);
    assertErrorReply(await bed.admin('POST', '/key/delete', { keys: [] }), 400, { param: 'keys' });
    assertErrorReply(await bed.admin('POST', '/key/generate', '{"x":'), 400);
    assertErrorReply(await bed.admin('GET', '/global/spend/report?group_by=user'), 400, { param: 'group_by' });
    assertErrorReply(await bed.admin('GET', '/spend/logs?start_date=yesterday'), 400, { param: 'start_date' });
  });

  it('/key/info (master, or a key reading its own record), /key/list, /key/update', async () => {
    const k = await bed.newKey({ key_alias: 'dave', max_budget: 1 });
    const up = await bed.admin('POST', '/key/update', { key: k.key, rpm_limit: 7, metadata: { a: 1 } });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.rpm_limit, 7);
    assert.equal(up.json.key_alias, 'dave');
    const info = await bed.admin('GET', `/key/info?key=${k.key}`);
    assert.equal(info.json.key, k.token);
    assert.equal(info.json.info.key_alias, 'dave');
    assert.equal(info.json.info.spend, 0);
    assert.equal(info.json.info.max_budget, 1);
    assert.deepEqual(info.json.info.metadata, { a: 1 });
    const own = await bed.request('GET', '/key/info', { key: k.key });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json, info.json);
    const list = await bed.admin('GET', '/key/list');
    assert.ok(list.json.keys.includes(k.token));
    assert.ok(list.json.keys.every((t) => /^[0-9a-f]{64}$/.test(t)));
    const full = await bed.admin('GET', '/key/list?return_full_object=true');
    assert.equal(full.json.keys.find((o) => o.token === k.token).rpm_limit, 7);
    assert.ok(full.json.keys.every((o) => !('key' in o)), 'keys are never shown again');
  });

  it('the CLI works on the running server\'s database; the server sees changes within a second', async () => {
    const g = await cli(['keys', 'generate', '--key_alias', 'cli-made', '--models', 'deepseek-v3.1,other', '--rpm_limit', '5'], bed);
    assert.equal(g.code, 0, g.stderr);
    const k = JSON.parse(g.stdout);
    bed.proxy.addSecret(k.key);
    assert.equal(k.key_alias, 'cli-made');
    assert.deepEqual(k.models, ['deepseek-v3.1', 'other']);
    assert.equal(k.rpm_limit, 5);
    const seen = async (want) => {
      for (let i = 0; i < 20; i++) {
        bed.fake.script({ output: ['x'] });
        const s = (await bed.chat(user('hi'), { key: k.key })).status;
        bed.fake.reset();
        if (s === want) return i;
        await sleep(50);
      }
      return -1;
    };
    assert.ok((await seen(200)) >= 0, 'the server accepts a key the CLI made (within a second)');
    const b = await cli(['keys', 'block', '--key', k.key], bed);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).blocked, true);
    assert.ok((await seen(401)) >= 0, 'the server refuses a key the CLI blocked (within a second)');
    // The API flushes the ledger queue first; then the CLI reads the same figures.
    const viaApi = (await bed.admin('GET', `/key/info?key=${k.token}`)).json;
    const info = await cli(['keys', 'info', '--key', k.token], bed);
    assert.deepEqual(JSON.parse(info.stdout), viaApi);
    const list = await cli(['keys', 'list'], bed);
    assert.deepEqual(JSON.parse(list.stdout), (await bed.admin('GET', '/key/list')).json);
    const bad = await cli(['keys', 'update', '--key', k.token, '--rpm_limit', 'many'], bed);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stderr).error.param, 'rpm_limit');
    const del = await cli(['keys', 'delete', '--key', k.token], bed);
    assert.deepEqual(JSON.parse(del.stdout), { deleted_keys: [k.token] });
    const gone = await cli(['keys', 'info', '--key', k.token], bed);
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stderr).error.code, 'key_not_found');
  });

  itExitsCleanly(() => bed, it);
});

describe('gateway: restarts and what the database holds', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });

  it('keys and spend survive a restart and a kill -9; no key or master key in the file', async () => {
    const k = await bed.newKey({ key_alias: 'erin', max_budget: 5 });
    bed.fake.script({ output: ['a', 'b'] });
    const c = await bed.clientFor(k.key).chat.completions.create(user('hi'));
    await bed.proxy.stop();
    const config = { master_key: MASTER, database: bed.database };
    let p = await startProxy({ fake: bed.fake, config, secrets: [MASTER, k.key] });
    const info = await bed.request('GET', `/key/info?key=${k.token}`, { key: MASTER, base: p.url });
    assert.equal(info.json.info.key_alias, 'erin');
    assert.equal(info.json.info.spend, c.usage.cost, 'the spend survived');
    bed.fake.script({ output: ['c'] });
    const c2 = await bed.clientFor(k.key, p.url).chat.completions.create(user('again'));
    // kill -9 after the batch window (100 ms): the file stays usable.
    await sleep(400);
    p.proc.kill('SIGKILL');
    await p.exitPromise;
    rmSync(p.dir, { recursive: true, force: true });
    p = await startProxy({ fake: bed.fake, config, secrets: [MASTER, k.key] });
    bed.proxies.push(p);
    const after9 = await bed.request('GET', `/key/info?key=${k.token}`, { key: MASTER, base: p.url });
    assert.equal(after9.status, 200, after9.text);
    assert.ok(Math.abs(after9.json.info.spend - (c.usage.cost + c2.usage.cost)) < 1e-9);
    const logs = await bed.request('GET', `/spend/logs?api_key=${k.token}`, { key: MASTER, base: p.url });
    assert.equal(logs.json.length, 2);
    await p.stop();
    // Neither key appears in any file of the database (main file, WAL, shm).
    for (const f of readdirSync(bed.dbDir)) {
      const raw = readFileSync(join(bed.dbDir, f));
      for (const secret of [MASTER, k.key, k.key.slice(3)]) assert.ok(!raw.includes(secret), `${f} holds a key`);
    }
  });
});

describe('gateway: budgets across a restart', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });

  it('a key that spent its budget is still refused after a restart (spend reloaded from the ledger)', async () => {
    // As in the window test: two requests fit in $0.000035, a third does not.
    const k = await bed.newKey({ max_budget: 0.000035 });
    const one = (base) => { bed.fake.script({ output: ['x'] }); return bed.chat({ ...user('hi'), max_tokens: 1 }, { key: k.key, base }); };
    assert.equal((await one()).status, 200);
    assert.equal((await one()).status, 200);
    assertErrorReply(await one(), 429, { code: 'insufficient_quota' });
    await bed.proxy.stop();
    const p = await bed.addProxy({ config: { master_key: MASTER, database: bed.database }, secrets: [MASTER, k.key] });
    assertErrorReply(await one(p.url), 429, { code: 'insufficient_quota' });
    // Raising the budget applies at once.
    const up = await bed.request('POST', '/key/update', { key: MASTER, base: p.url, body: { key: k.token, max_budget: 1 } });
    assert.equal(up.status, 200, up.text);
    assert.equal((await one(p.url)).status, 200);
  });
});

describe('gateway: startup refusals', () => {
  it('master_key without replicate_api_token → exit 2 naming replicate_api_token', async () => {
    const r = await runProxy(['--listen', '127.0.0.1:0', '--master_key', MASTER, '--database', join(tempDir(), 'x.db')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /replicate_api_token/);
    assert.ok(!r.stderr.includes(MASTER));
  });

  it('a server token on a non-loopback address without master_key → exit 2 naming master_key and open_gateway', async () => {
    const r = await runProxy(['--listen', '0.0.0.0:0', '--database', join(tempDir(), 'x.db')], { env: { REPLICATE_API_TOKEN: REPLICATE_TOKEN } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /master_key/);
    assert.match(r.stderr, /open_gateway/);
    assert.ok(!r.stderr.includes(REPLICATE_TOKEN));
  });

  it('open_gateway = true accepts the risk; REPLICATE_PROXY_MASTER_KEY turns on gateway mode', async () => {
    const dir = tempDir();
    const p = await startProxy({ config: { listen: '0.0.0.0:0', open_gateway: true, database: join(dir, 'a.db') }, upstream: 'http://127.0.0.1:9' });
    await p.stop();
    const q = await startProxy({ config: { listen: '0.0.0.0:0', database: join(dir, 'b.db') }, upstream: 'http://127.0.0.1:9', env: { REPLICATE_PROXY_MASTER_KEY: MASTER }, secrets: [MASTER] });
    const base = `http://127.0.0.1:${q.port}`;
    const r = await runProxy(['keys', 'list', '--database', join(dir, 'b.db')]);
    assert.equal(r.code, 0);
    const { request } = await import('./helpers.mjs');
    assertErrorReply(await request(base, 'GET', '/key/list', { headers: { Authorization: 'Bearer nope' } }), 401);
    assert.equal((await request(base, 'GET', '/key/list', { headers: { Authorization: `Bearer ${MASTER}` } })).status, 200);
    await q.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
