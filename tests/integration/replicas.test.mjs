// Several replicas on one PostgreSQL store (database_url): three proxy
// processes share keys and the ledger; schema migrations run once when they
// start together; a key made or blocked on one is seen by all within a second;
// the CLI works against PostgreSQL; a replica killed with SIGKILL loses no
// settled row; PostgreSQL restarted loses no row. Real PostgreSQL (engines.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorReply, itExitsCleanly, runProxy, setup, sleep, sseRequest, startProxy, user } from './helpers.mjs';
import { MASTER } from './gateway_helpers.mjs';
import { PG_BIN, REDIS_BIN, startPostgres, startRedis } from './engines.mjs';

// Polls fn until it returns a truthy value; the spec's bound, not a speed test.
async function within(ms, fn, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
}

describe('replicas: keys and the ledger in PostgreSQL', { skip: !PG_BIN && 'postgresql not installed' }, () => {
  let pg;
  let bed;
  let replicas; // three proxies on one database
  const config = () => ({ master_key: MASTER, database_url: pg.url('gw'), workers: 2 });
  const admin = (p, method, path, body) => bed.request(method, path, { key: MASTER, body, base: p.url });
  const chatOn = (p, key, text = 'hi') => { assert.ok(key, 'a key'); return bed.chat(user(text), { key, base: p.url }); };
  const logs = async (p, token) => (await admin(p, 'GET', `/spend/logs?api_key=${token}`)).json;
  // A new key made on replica p (asserted: a failed generate must not leave the
  // test running on with the master key), registered as a secret everywhere.
  const newKey = async (p, fields = {}, extra = []) => {
    const r = await admin(p, 'POST', '/key/generate', fields);
    assert.equal(r.status, 200, r.text);
    for (const x of [...replicas, ...extra]) x.addSecret(r.json.key);
    return r.json;
  };

  before(async () => {
    pg = await startPostgres();
    pg.createdb('gw');
    // Three replicas start at once on an empty database: the migration runs once.
    bed = await setup({ config: config(), apiKey: MASTER });
    const more = await Promise.all([1, 2].map(() => startProxy({ fake: bed.fake, config: config() })));
    bed.proxies.push(...more);
    replicas = [bed.proxy, ...more];
    for (const p of replicas) { p.addSecret(MASTER); p.addSecret(pg.password); }
  });
  after(async () => { await bed?.finish(); pg?.close(); });

  it('replicas starting together on one empty database migrate it exactly once', async () => {
    pg.createdb('fresh');
    const ps = await Promise.all([0, 1, 2].map(() => startProxy({ fake: bed.fake, config: { ...config(), database_url: pg.url('fresh') } })));
    try {
      assert.deepEqual(pg.sql('SELECT version FROM schema_migrations', 'fresh'), [['1']]);
      assert.deepEqual(pg.sql("SELECT count(*) FROM meta WHERE name = 'secret'", 'fresh'), [['1']]);
    } finally {
      for (const p of ps) { p.addSecret(pg.password); await p.stop(); }
    }
  });

  it('a key made on one replica works on all three, within a second', async () => {
    const r = { json: await newKey(replicas[0], { key_alias: 'shared' }) };
    for (const p of replicas) {
      await within(1000, async () => (await chatOn(p, r.json.key)).status === 200, `key on ${p.url}`);
    }
    // Stored only as its hash: the key itself is nowhere in the database.
    const dump = JSON.stringify(pg.sql('SELECT * FROM keys', 'gw'));
    assert.ok(!dump.includes(r.json.key));
    assert.ok(dump.includes(r.json.token));
  });

  it('a key blocked on one replica is refused by all within a second; unblocked, served again', async () => {
    const k = await newKey(replicas[1]);
    for (const p of replicas) await within(1000, async () => (await chatOn(p, k.key)).status === 200, 'key seen');
    assert.equal((await admin(replicas[1], 'POST', '/key/block', { key: k.key })).status, 200);
    for (const p of replicas) {
      const r = await within(1000, async () => { const x = await chatOn(p, k.key); return x.status === 401 && x; }, `block on ${p.url}`);
      assertErrorReply(r, 401, { code: 'invalid_api_key' });
    }
    assert.equal((await admin(replicas[2], 'POST', '/key/unblock', { key: k.key })).status, 200);
    for (const p of replicas) await within(1000, async () => (await chatOn(p, k.key)).status === 200, 'unblocked');
  });

  it('the CLI works against PostgreSQL: keys generate, info, spend', async () => {
    const env = { REPLICATE_PROXY_DATABASE_URL: pg.url('gw') };
    const g = await runProxy(['keys', 'generate', '--key_alias', 'from-cli', '--rpm_limit', '100'], { env });
    assert.equal(g.code, 0, g.stderr);
    const made = JSON.parse(g.stdout);
    for (const p of replicas) p.addSecret(made.key);
    assert.equal(made.key_alias, 'from-cli');
    for (const p of replicas) await within(1000, async () => (await chatOn(p, made.key)).status === 200, 'CLI key');
    await within(2000, async () => (await logs(replicas[0], made.token)).length === 3, 'rows');
    const info = await runProxy(['keys', 'info', '--key', made.token], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).info.rpm_limit, 100);
    const spend = await runProxy(['spend', '--group_by', 'api_key'], { env });
    assert.equal(spend.code, 0, spend.stderr);
    const mine = JSON.parse(spend.stdout).find((row) => row.api_key === made.token);
    assert.equal(mine.requests, 3);
    assert.ok(!g.stderr.includes(pg.password) && !spend.stderr.includes(pg.password));
  });

  it('every request on any replica is one ledger row; the shared spend is their sum', async () => {
    const k = await newKey(replicas[0]);
    for (const p of replicas) await within(1000, async () => (await chatOn(p, k.key)).status === 200, 'key seen');
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => chatOn(replicas[i % 3], k.key)));
    assert.ok(rs.every((r) => r.status === 200));
    const rows = await within(2000, async () => { const l = await logs(replicas[1], k.token); return l.length === 33 && l; }, '33 rows');
    assert.equal(new Set(rows.map((r) => r.request_id)).size, 33);
    const answered = rs.reduce((s, r) => s + r.json.usage.cost, 0);
    const first3 = rows.slice(0, 3).reduce((s, r) => s + r.spend, 0);
    const total = rows.reduce((s, r) => s + r.spend, 0);
    assert.equal(Math.round((total - first3) * 1e6), Math.round(answered * 1e6));
    const info = (await admin(replicas[2], 'GET', `/key/info?key=${k.token}`)).json.info;
    await within(1000, async () => Math.round((await admin(replicas[2], 'GET', `/key/info?key=${k.token}`)).json.info.spend * 1e6) === Math.round(total * 1e6), `spend ${info.spend}`);
  });

  it('a replica killed with SIGKILL after answering loses no settled row', async () => {
    const victim = await startProxy({ fake: bed.fake, config: config() });
    victim.addSecret(MASTER);
    const k = await newKey(replicas[0], {}, [victim]);
    await within(1000, async () => (await chatOn(victim, k.key)).status === 200, 'key on the victim');
    const rs = await Promise.all(Array.from({ length: 20 }, () => chatOn(victim, k.key)));
    assert.ok(rs.every((r) => r.status === 200));
    // Settled: answered and past the ledger's batch window (100 ms); then the kill.
    await within(1000, async () => (await logs(replicas[0], k.token)).length === 21, 'rows written');
    victim.proc.kill('SIGKILL');
    await victim.exitPromise;
    const rows = await logs(replicas[1], k.token);
    assert.equal(rows.length, 21);
    assert.equal(new Set(rows.map((r) => r.request_id)).size, 21);
  });

  it('PostgreSQL restarted: requests are served meanwhile, their rows are written when it returns', async () => {
    const k = await newKey(replicas[0]);
    for (const p of replicas) await within(1000, async () => (await chatOn(p, k.key)).status === 200, 'key seen');
    await within(2000, async () => (await logs(replicas[0], k.token)).length === 3, 'first rows');
    pg.stop();
    try {
      const rs = await Promise.all(Array.from({ length: 9 }, (_, i) => chatOn(replicas[i % 3], k.key)));
      assert.deepEqual(rs.map((r) => r.status), Array(9).fill(200));
    } finally {
      pg.start();
    }
    // The ledger retries with a pause that doubles up to 5 s.
    const rows = await within(12000, async () => { const l = await logs(replicas[2], k.token); return l?.length === 12 && l; }, 'rows after the restart');
    assert.equal(new Set(rows.map((r) => r.request_id)).size, 12);
    // Every replica's admin connection sat idle through the restart: the first
    // call on it reconnects instead of failing.
    for (const p of replicas) await newKey(p);
  });

  it('a replica stopped with SIGTERM right after answering has written every row', async () => {
    const p = await startProxy({ fake: bed.fake, config: config() });
    p.addSecret(MASTER);
    p.addSecret(pg.password);
    const k = await newKey(replicas[0], {}, [p]);
    await within(1000, async () => (await chatOn(p, k.key)).status === 200, 'key seen');
    const rs = await Promise.all(Array.from({ length: 15 }, () => chatOn(p, k.key)));
    assert.ok(rs.every((r) => r.status === 200));
    await p.stop(); // at once: no wait for the batch window
    assert.equal((await logs(replicas[0], k.token)).length, 16);
  });

  it('PostgreSQL unreachable at start: exit 1 with a message that has no password', async () => {
    const url = `postgresql://rp:${pg.password}@127.0.0.1:1/none`;
    const r = await runProxy(['keys', 'list'], { env: { REPLICATE_PROXY_DATABASE_URL: url } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect to PostgreSQL/);
    assert.ok(!r.stderr.includes(pg.password));
    const fake = bed.fake;
    const started = startProxy({ fake, config: { ...config(), database_url: url } });
    await assert.rejects(started, (e) => /exited \(code [12]/.test(e.message) && /cannot connect to PostgreSQL/.test(e.message) && !e.message.includes(pg.password));
  });

  itExitsCleanly(() => bed, it);
});

describe('replicas: rpm, tpm and parallel limits shared through Redis', { skip: (!PG_BIN || !REDIS_BIN) && 'postgresql or redis-server not installed' }, () => {
  let pg;
  let redis;
  let bed;
  let replicas;
  let closed; // a fourth replica with redis_failure = closed
  const config = (extra = {}) => ({ master_key: MASTER, database_url: pg.url('gw'), redis_url: redis.url, workers: 2, cors_origins: 'https://app.example', ...extra });
  const admin = (method, path, body) => bed.request(method, path, { key: MASTER, body, base: replicas[0].url });
  const logs = async (token) => (await admin('GET', `/spend/logs?api_key=${token}`)).json;
  const chatOn = (p, key, body = user('hi')) => { assert.ok(key, 'a key'); return bed.chat(body, { key, base: p.url }); };
  // Known to replica p: a body that cannot be parsed gets 400 (not 401) and uses no limit.
  const seenBy = async (key, ps) => {
    for (const p of ps) await within(1000, async () => (await chatOn(p, key, {})).status === 400, `key on ${p.url}`);
  };
  const newKey = async (fields) => {
    const r = await admin('POST', '/key/generate', fields);
    assert.equal(r.status, 200, r.text);
    for (const p of bed.proxies) p.addSecret(r.json.key);
    await seenBy(r.json.key, [...replicas, closed]);
    return r.json;
  };

  before(async () => {
    pg = await startPostgres();
    pg.createdb('gw');
    redis = await startRedis();
    bed = await setup({ config: config(), apiKey: MASTER });
    const more = await Promise.all([config(), config(), config({ redis_failure: 'closed' })]
      .map((c) => startProxy({ fake: bed.fake, config: c })));
    bed.proxies.push(...more);
    replicas = [bed.proxy, more[0], more[1]];
    closed = more[2];
    for (const p of bed.proxies) { p.addSecret(MASTER); p.addSecret(pg.password); p.addSecret(redis.password); }
  });
  after(async () => { await bed?.finish(); await redis?.close(); pg?.close(); });

  it('redis_failure other than open|closed: exit 2; a bad redis_url: exit 1, the password not shown', async () => {
    const bad = await runProxy(['--redis_failure', 'maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /redis_failure: expected open or closed, got 'maybe'/);
    const url = `redis://:${redis.password}@127.0.0.1:notaport`;
    const p = startProxy({ fake: bed.fake, config: config({ redis_url: url }) });
    await assert.rejects(p, (e) => /code 1/.test(e.message) && /redis_url: bad port/.test(e.message) && !e.message.includes(redis.password));
  });

  it('rpm_limit 10 with 50 concurrent requests over three replicas: exactly 10 succeed', async () => {
    bed.fake.reset();
    const k = await newKey({ key_alias: 'rpm', rpm_limit: 10 });
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => chatOn(replicas[i % 3], k.key)));
    const ok = rs.filter((r) => r.status === 200);
    assert.equal(ok.length, 10);
    assert.equal(bed.fake.creates().length, 10);
    for (const r of rs.filter((x) => x.status !== 200)) {
      const e = assertErrorReply(r, 429, { code: 'rate_limit_exceeded' });
      assert.match(e.message, /RPM\): Limit 10, Used 10, Requested 1/);
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal(r.headers['x-ratelimit-limit-requests'], '10');
      assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
    }
    const remaining = ok.map((r) => Number(r.headers['x-ratelimit-remaining-requests'])).sort((a, b) => a - b);
    assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a request that waited for Redis is answered once, with its CORS headers once, on every API', async () => {
    const k = await newKey({ rpm_limit: 100 });
    const r = await bed.chat(user('hi'), { key: k.key, base: replicas[1].url, headers: { Origin: 'https://app.example' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(r.headers['x-ratelimit-limit-requests'], '100');
    assert.equal(r.json.choices[0].message.content, 'Hello! How can I help you today?');
    const resp = await bed.request('POST', '/v1/responses', { key: k.key, base: replicas[2].url, body: { model: 'deepseek-ai/deepseek-v3.1', input: 'hi' } });
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.headers['x-ratelimit-remaining-requests'], '98');
  });

  it('max_parallel_requests 2 holds across replicas; the slots free when the streams end', async () => {
    const k = await newKey({ max_parallel_requests: 2 });
    bed.fake.setDefault({ output: ['a', 'b', 'c', 'd'], tokenDelay: 500 });
    try {
      const body = { ...user('hi'), stream: true };
      const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => sseRequest(replicas[i % 3].url, '/v1/chat/completions', body, { apiKey: k.key })));
      assert.equal(outs.filter((o) => o.status === 200).length, 2);
      const refused = outs.filter((o) => o.status === 429);
      assert.equal(refused.length, 4);
      for (const o of refused) assert.match(JSON.parse(o.text).error.message, /parallel requests.*Limit 2, Used 2/);
    } finally {
      bed.fake.setDefault({});
    }
    // Settled on every replica: two more run at once, on two other replicas.
    const again = await within(1000, async () => {
      const rs = await Promise.all([chatOn(replicas[1], k.key), chatOn(replicas[2], k.key)]);
      return rs.every((r) => r.status === 200) && rs;
    }, 'slots freed');
    assert.ok(again);
  });

  it('tpm_limit holds across replicas: reservations from every replica count', async () => {
    bed.fake.reset();
    const k = await newKey({ tpm_limit: 1000 });
    // Each reserves its max_tokens (300) plus a small prompt estimate: 3 fit, not 4.
    const body = { ...user('hi'), max_tokens: 300 };
    // Slow answers (terminal only after 2 s of polling): none settles, giving back its unused
    // reservation, before all nine are admitted.
    bed.fake.setDefault({ output: ['a', 'b', 'c', 'd'], terminalAfterMs: 2000, syncStatus: 'starting' });
    let rs;
    try {
      rs = await Promise.all(Array.from({ length: 9 }, (_, i) => chatOn(replicas[i % 3], k.key, body)));
    } finally {
      bed.fake.setDefault({});
    }
    assert.equal(rs.filter((r) => r.status === 200).length, 3);
    for (const r of rs.filter((x) => x.status !== 200)) assertErrorReply(r, 429, { code: 'rate_limit_exceeded' });
  });

  it('a budget holds across replicas under concurrency: 20 requests over three replicas, 5 fit', async () => {
    // As gateway_limits: worst case ≈ $0.00202 a request, five fit in $0.0105 at once.
    const k = await newKey({ max_budget: 0.0105 });
    bed.fake.setDefault({ terminalAfterMs: 300, syncStatus: 'starting' });
    let rs;
    try {
      rs = await Promise.all(Array.from({ length: 20 }, (_, i) => chatOn(replicas[i % 3], k.key, { ...user('hi'), max_tokens: 1000 })));
    } finally {
      bed.fake.setDefault({});
    }
    const ok = rs.filter((r) => r.status === 200);
    assert.equal(ok.length, 5);
    for (const r of rs.filter((x) => x.status !== 200)) {
      const e = assertErrorReply(r, 429, { code: 'insufficient_quota', type: 'insufficient_quota' });
      assert.match(e.message, /Budget exceeded/);
      assert.equal(r.headers['x-should-retry'], 'false');
    }
    // Settled at the real cost: the reservations are given back, so more fit now, on any replica.
    const more = await chatOn(replicas[2], k.key, { ...user('hi'), max_tokens: 1000 });
    assert.equal(more.status, 200, more.text);
  });

  it('one replica SIGKILLed mid-load: every answer has its row but the victim\'s last batch window; no duplicate; spend = rows; the budget counts each once', async () => {
    const victim = await startProxy({ fake: bed.fake, config: config() });
    for (const s of [MASTER, pg.password, redis.password]) victim.addSecret(s);
    const k = await newKey({ max_budget: 100 });
    victim.addSecret(k.key);
    await seenBy(k.key, [victim]);
    const targets = [replicas[0], replicas[1], victim];
    const answered = []; // {p, r, at}: what the clients saw
    let stop = false;
    // Six clients in a loop, round robin; each answer takes ~100 ms, so some are in flight at the kill.
    bed.fake.setDefault({ output: ['a', 'b', 'c', 'd'], tokenDelay: 25 });
    const client = async (w) => {
      for (let i = w; !stop; i++) {
        const p = targets[i % 3];
        try {
          const r = await chatOn(p, k.key);
          answered.push({ p, r, at: Date.now() });
        } catch {
          await sleep(20); // the victim is gone: connection refused or reset
        }
      }
    };
    let killAt;
    try {
      const loops = Array.from({ length: 6 }, (_, w) => client(w));
      await sleep(1500);
      killAt = Date.now();
      victim.proc.kill('SIGKILL');
      await victim.exitPromise;
      await sleep(700);
      stop = true;
      await Promise.all(loops);
    } finally {
      bed.fake.setDefault({});
    }
    const id = (a) => a.r.headers['x-request-id'];
    const survivors = answered.filter((a) => a.p !== victim);
    const fromVictim = answered.filter((a) => a.p === victim);
    assert.ok(fromVictim.length >= 5 && survivors.length >= 10, `load: ${fromVictim.length} victim, ${survivors.length} others`);
    const bad = answered.find((a) => a.r.status !== 200);
    assert.ok(!bad, `every answer 200: ${bad?.r.status} ${bad?.r.text} (${bad?.p === victim ? 'victim' : 'survivor'})`);
    // The survivors' rows are written within a batch window (100 ms); wait for all of them.
    const rows = await within(3000, async () => {
      const l = await logs(k.token);
      const have = new Set(l.map((r) => r.request_id));
      return survivors.every((a) => have.has(id(a))) && l;
    }, 'every survivor\'s row');
    const ids = rows.map((r) => r.request_id);
    assert.equal(new Set(ids).size, ids.length, 'no request_id twice');
    const seen = new Map(answered.map((a) => [id(a), a]));
    // Besides the 400s of the probes that waited for the key on each replica (no spend).
    const unseen = rows.filter((r) => !seen.has(r.request_id));
    assert.ok(unseen.every((r) => r.spend === 0 && r.total_tokens === 0), `rows no client saw answered: ${JSON.stringify(unseen[0])}`);
    // The victim loses at most what it answered in its last batch window before the kill.
    const lost = fromVictim.filter((a) => !ids.includes(id(a)));
    for (const a of lost) assert.ok(a.at >= killAt - 1000, `a row answered ${killAt - a.at} ms before the kill is lost`);
    // The key's spend is the sum of its rows.
    const sum = rows.reduce((t, r) => t + r.spend, 0);
    const info = (await admin('GET', `/key/info?key=${k.token}`)).json.info;
    assert.equal(Math.round(info.spend * 1e6), Math.round(sum * 1e6));
    // The budget's settled spend (Redis, nano-USD) counts each answered request at most once:
    // the rows, plus at most the victim's lost ones.
    const settled = Number(redis.cli('HGET', `rp:{${k.token}}:bud`, 'settled')) / 1e9;
    const lostCost = lost.reduce((t, a) => t + a.r.json.usage.cost, 0);
    assert.ok(settled >= sum - 1e-9 && settled <= sum + lostCost + 1e-9, `settled ${settled}, rows ${sum}, lost ${lostCost}`);
  });

  it('Redis restarted without persistence: a budget window starts again from the ledger, not from the first asking replica\'s view', async () => {
    // Each request costs ~$0.00202 (1000 output tokens) and reserves about as much:
    // four spent on replicas 0 and 1 leave room for one more of $0.0105, whoever asks.
    const k = await newKey({ max_budget: 0.0105 });
    const probe = await newKey({ rpm_limit: 1000 });
    const body = { ...user('hi'), max_tokens: 1000 };
    bed.fake.setDefault({ metrics: { input_token_count: 5, output_token_count: 1000 } });
    try {
      for (let i = 0; i < 4; i++) assert.equal((await chatOn(replicas[i % 2], k.key, body)).status, 200);
      await within(2000, async () => (await logs(k.token)).filter((r) => r.spend > 0).length === 4, 'four rows in the ledger');
      await redis.stop();
      await redis.start();
      // A replica whose connection broke reconnects at most once a second: wait
      // until each counts the probe key in Redis again (its RPM set grows).
      const counted = () => Number(redis.cli('ZCARD', `rp:{${probe.token}}:rpm`));
      for (const p of replicas) {
        await within(4000, async () => { const n = counted(); return (await chatOn(p, probe.key)).status === 200 && counted() > n; }, `Redis back on ${p.url}`);
      }
      assert.equal(redis.cli('EXISTS', `rp:{${k.token}}:bud`), '0', 'Redis lost the budget');
      // Replica 2 never served this key: its own view of the spend is $0.
      const rs = [];
      for (let i = 0; i < 5; i++) rs.push(await chatOn(replicas[(i + 2) % 3], k.key, body));
      assert.deepEqual(rs.map((r) => r.status), [200, 429, 429, 429, 429]);
      for (const r of rs.slice(1)) assertErrorReply(r, 429, { code: 'insufficient_quota', type: 'insufficient_quota' });
    } finally {
      bed.fake.setDefault({});
    }
  });

  it('Redis down: open replicas serve and count locally, the closed one answers 503; shared again when it returns', async () => {
    const k = await newKey({ rpm_limit: 3 });
    await redis.stop();
    try {
      // open: each replica counts alone (3 each), logged; closed: 503.
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => chatOn(replicas[i % 3], k.key)));
      assert.equal(rs.filter((r) => r.status === 200).length, 9);
      const c = await chatOn(closed, k.key);
      const e = assertErrorReply(c, 503, { code: 'limits_unavailable' });
      assert.match(e.message, /Redis/);
      for (const p of replicas) assert.match(p.stderr, /redis: unreachable/);
      // Still ready (every replica shares Redis), and saying so.
      const ready = await bed.request('GET', '/ready', { base: replicas[0].url, auth: false });
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.json, { status: 'ready', database: 'up', redis: 'down', redis_failure: 'open' });
      assert.deepEqual((await bed.request('GET', '/ready', { base: closed.url, auth: false })).json,
        { status: 'ready', database: 'up', redis: 'down', redis_failure: 'closed' });
    } finally {
      await redis.start();
    }
    // Each replica tries Redis again at most once a second: wait until all have.
    const probe = await newKey({ rpm_limit: 1000 });
    for (const p of [...replicas, closed]) {
      await within(3000, async () => (await chatOn(p, probe.key)).status === 200 && /redis: reachable again/.test(p.stderr), `Redis back on ${p.url}`);
    }
    assert.deepEqual((await bed.request('GET', '/ready', { base: closed.url, auth: false })).json,
      { status: 'ready', database: 'up', redis: 'up', redis_failure: 'closed' });
    // One count for all replicas again (a new key: the local counts above stay local).
    const k2 = await newKey({ rpm_limit: 4 });
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => chatOn([...replicas, closed][i % 4], k2.key)));
    assert.equal(rs.filter((r) => r.status === 200).length, 4);
  });

  itExitsCleanly(() => bed, it);
});
