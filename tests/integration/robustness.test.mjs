// Health, concurrency, disconnects, big payloads, bad HTTP, graceful shutdown.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CLIENT_KEY, REPLICATE_TOKEN, clientFor, request, setup, sleep, startProxy, user, itExitsCleanly } from './helpers.mjs';

describe('robustness', () => {
  let bed;
  // Error replies reach the client as they are: no create retries, no circuit
  // breaker (ops_retries.test.mjs tests those).
  before(async () => { bed = await setup({ config: { upstream_max_retries: '0', circuit_cooldown: '0' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  async function stillServes() {
    bed.fake.script({ output: ['alive'] });
    const c = await bed.client.chat.completions.create(user('ping'));
    assert.equal(c.choices[0].message.content, 'alive');
  }

  it('GET /health → 200 JSON, without calling upstream', async () => {
    const r = await request(bed.url, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.ok(r.json && typeof r.json === 'object', r.text);
    assert.equal(r.json.status, 'ok');
    assert.deepEqual(bed.fake.requests(), []);
  });

  it('50 concurrent requests each get their own answer', async () => {
    bed.fake.setDefault({ output: (input) => ['echo: ', input.prompt], createDelay: 50, syncStatus: 'starting', polls: 2 });
    try {
      const prompts = Array.from({ length: 50 }, (_, i) => `prompt number ${i}`);
      const replies = await Promise.all(prompts.map((p) => bed.client.chat.completions.create(user(p))));
      replies.forEach((c, i) => assert.equal(c.choices[0].message.content, `echo: ${prompts[i]}`));
      assert.equal(new Set(replies.map((c) => c.id)).size, 50, 'distinct ids');
      assert.equal(bed.fake.creates().length, 50);
    } finally {
      bed.fake.setDefault({});
    }
  });

  it('a client that disconnects while the prediction runs does not hurt the daemon', async () => {
    bed.fake.script({ syncStatus: 'starting', polls: 1000, pollDelay: 10 });
    const ac = new AbortController();
    const pending = bed.client.chat.completions.create(user('bye'), { signal: ac.signal }).catch((e) => e);
    await bed.fake.waitFor(() => bed.fake.gets().length >= 2, 5000, 'polling started');
    ac.abort();
    const e = await pending;
    assert.equal(e.constructor.name, 'APIUserAbortError');
    // the abandoned prediction is canceled (with the token) and no longer polled
    const id = bed.fake.creates()[0].predictionId;
    await bed.fake.waitFor(() => bed.fake.cancels.length === 1, 3000, 'cancel after the client left');
    assert.deepEqual(bed.fake.cancels, [id]);
    const cancel = bed.fake.log.find((x) => x.kind === 'cancel');
    assert.equal(cancel.method, 'POST');
    assert.equal(cancel.path, `/v1/predictions/${id}/cancel`);
    assert.equal(cancel.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    const polls = bed.fake.gets().length;
    await sleep(150);
    assert.equal(bed.fake.gets().length, polls, 'polling stopped');
    bed.fake.reset();
    await stillServes();
  });

  it('a client that disconnects during the create does not hurt the daemon', async () => {
    bed.fake.script({ createDelay: 300 });
    const ac = new AbortController();
    const pending = bed.client.chat.completions.create(user('bye'), { signal: ac.signal }).catch((e) => e);
    await bed.fake.waitFor(() => bed.fake.creates().length === 1, 5000, 'create sent');
    ac.abort();
    await pending;
    await sleep(400);
    bed.fake.reset();
    await stillServes();
  });

  it('a client that disconnects during a create whose answer is then lost: its prediction is found in the list and canceled', async () => {
    bed.fake.script({ createDelay: 300, createFault: 'reset-after-create', polls: 1000 });
    const ac = new AbortController();
    const pending = bed.client.chat.completions.create(user('lost and gone'), { signal: ac.signal }).catch((e) => e);
    await bed.fake.waitFor(() => bed.fake.creates().length === 1, 5000, 'create sent');
    ac.abort();
    await pending;
    await bed.fake.waitFor(() => bed.fake.cancels.length === 1, 5000, 'cancel of the prediction the lost create made');
    const create = bed.fake.creates()[0];
    const list = bed.fake.log.find((x) => x.kind === 'list');
    assert.ok(list && list.seq > create.seq, 'the list was read after the create');
    assert.equal(list.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    assert.deepEqual(bed.fake.cancels, [create.predictionId]);
    const cancel = bed.fake.log.find((x) => x.kind === 'cancel');
    assert.equal(cancel.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    await sleep(200);
    assert.equal(bed.fake.creates().length, 1, 'never created again');
    bed.fake.reset();
    await stillServes();
  });

  it('clients that hang up right after sending, before the create went out, do not hurt the daemon', async () => {
    // The abandoned create still sends its body: it must not point into the
    // freed exchange (ASan builds: heap-use-after-free in curl's send).
    const body = JSON.stringify(user('gone at once'));
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${CLIENT_KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    await Promise.all(Array.from({ length: 40 }, () => new Promise((resolveC) => {
      const s = net.connect(bed.proxy.port, '127.0.0.1', () => { s.write(head + body); s.destroy(); resolveC(); });
      s.on('error', resolveC);
    })));
    await sleep(500);
    bed.fake.reset();
    await stillServes();
  });

  it('a 1 MiB output in 1024 chunks arrives intact', async () => {
    const chunk = 'abcdefghijklmnopqrstuvwxyz012345'.repeat(32); // 1 KiB
    const output = Array.from({ length: 1024 }, (_, i) => (i % 100 === 0 ? `\n[${i}]` : '') + chunk);
    bed.fake.script({ output, metrics: { input_token_count: 1, output_token_count: 1024 } });
    const c = await bed.client.chat.completions.create({ ...user('big'), max_tokens: 4096 });
    assert.equal(c.choices[0].message.content.length, output.join('').length);
    assert.equal(c.choices[0].message.content, output.join(''));
  });

  it('a long multi-message conversation renders completely', async () => {
    const messages = [];
    for (let i = 0; i < 200; i++) messages.push({ role: i % 2 ? 'assistant' : 'user', content: `message ${i} ${'z'.repeat(100)}` });
    bed.fake.script({ output: ['ok'] });
    await bed.client.chat.completions.create({ model: 'deepseek-v3.1', messages });
    const prompt = bed.fake.creates()[0].body.input.prompt;
    assert.ok(prompt.startsWith(`User: message 0 `), prompt.slice(0, 50));
    assert.ok(prompt.endsWith(`Assistant: message 199 ${'z'.repeat(100)}`), prompt.slice(-50));
    assert.equal(prompt.split('\n\n').length, 200);
  });

  it('keep-alive: many requests over one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        bed.fake.script({ output: [`n${i}`] });
        const r = await request(bed.url, 'POST', '/v1/chat/completions', { agent, headers: { Authorization: `Bearer ${CLIENT_KEY}` }, body: user(`k${i}`) });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.choices[0].message.content, `n${i}`);
        assert.notEqual(r.headers.connection, 'close');
      }
      const h = await request(bed.url, 'GET', '/health', { agent });
      assert.equal(h.status, 200);
    } finally {
      agent.destroy();
    }
  });

  it('garbage on the socket and a half-sent request do not hurt the daemon', async () => {
    const { port } = new URL(bed.url);
    const garbage = await new Promise((resolveG) => {
      const s = net.connect(Number(port), '127.0.0.1', () => s.write('\x16\x03\x01garbage\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => resolveG(got));
      s.on('error', () => resolveG(got));
      setTimeout(() => s.destroy(), 1500);
    });
    assert.ok(garbage === '' || /^HTTP\/1\.[01] 4\d\d/.test(garbage), JSON.stringify(garbage.slice(0, 80)));
    const half = net.connect(Number(port), '127.0.0.1', () => half.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"mod'));
    half.on('error', () => {});
    await sleep(100);
    await stillServes();
    half.destroy();
    await sleep(50);
    await stillServes();
  });

  it('many error replies in a row (sanitizer builds check for leaks at exit)', async () => {
    for (let i = 0; i < 10; i++) {
      bed.fake.script({ http: { status: [401, 402, 404, 422, 429, 500, 503][i % 7], headers: { 'Retry-After': '1' } } });
      const r = await bed.chat(user('x'));
      assert.ok(r.status >= 400, `status ${r.status}`);
      bed.fake.script({ status: 'failed', error: `E${i}`, syncStatus: 'terminal' });
      assert.equal((await bed.chat(user('x'))).status, 502);
    }
    await stillServes();
  });

  itExitsCleanly(() => bed, it);
});

describe('several workers', () => {
  let bed;
  before(async () => { bed = await setup({ config: { workers: 2 } }); });
  after(async () => { await bed?.finish(); });

  it('workers = 2 serves 30 concurrent requests correctly', async () => {
    bed.fake.setDefault({ output: (input) => ['w: ', input.prompt], createDelay: 30 });
    const prompts = Array.from({ length: 30 }, (_, i) => `worker prompt ${i}`);
    const replies = await Promise.all(prompts.map((p) => bed.client.chat.completions.create(user(p))));
    replies.forEach((c, i) => assert.equal(c.choices[0].message.content, `w: ${prompts[i]}`));
    assert.equal(bed.fake.creates().length, 30);
  });

  itExitsCleanly(() => bed, it);
});

describe('graceful shutdown', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const p = await startProxy({ fake: bed.fake, config: { shutdown_grace: '5s' } });
    bed.fake.script({ output: ['finished ', 'anyway'], createDelay: 400 });
    const pending = clientFor(p.url, CLIENT_KEY).chat.completions.create(user('slow'));
    await bed.fake.waitFor(() => bed.fake.creates().length === 1, 5000, 'create sent');
    p.proc.kill('SIGTERM');
    const c = await pending;
    assert.equal(c.choices[0].message.content, 'finished anyway');
    const { code } = await p.exitPromise;
    assert.equal(code, 0);
    await p.stop(); // checks stderr (sanitizers, secrets)
  });

  it('a lost create\'s list lookup still in flight at SIGTERM: exits within the grace (and its hard 3 s), leak-free', async () => {
    // A Replicate that resets the create after reading it and never answers the list.
    const seen = [];
    const held = [];
    const up = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      if (req.method === 'POST') setTimeout(() => req.socket.destroy(), 300);
      else held.push(res);
    });
    await new Promise((r) => up.listen(0, '127.0.0.1', r));
    try {
      const p = await startProxy({ upstream: `http://127.0.0.1:${up.address().port}`, config: { shutdown_grace: '1s' } });
      const req = http.request(`${p.url}/v1/chat/completions`, { method: 'POST',
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, 'Content-Type': 'application/json' } });
      req.on('error', () => {});
      req.end(JSON.stringify(user('held list')));
      await sleep(150);
      req.destroy();
      const listed = () => seen.some((x) => x.startsWith('GET /v1/predictions'));
      for (let i = 0; i < 100 && !listed(); i++) await sleep(50);
      assert.ok(listed(), `the list was read: ${seen.join(', ')}`);
      const t0 = Date.now();
      await p.stop(); // checks stderr (sanitizers: the page freed with the worker, secrets)
      assert.ok(Date.now() - t0 < 6000, `stopped in ${Date.now() - t0} ms`);
      assert.equal(seen.filter((x) => x.startsWith('POST')).length, 1, 'never created again');
    } finally {
      for (const r of held) r.destroy();
      up.close();
    }
  });

  itExitsCleanly(() => bed, it);
});

describe('request header limits', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('headers of several KiB fit the default 8 KiB connection buffer; far larger ones get 431', async () => {
    bed.fake.script({ output: ['fits'] });
    const fits = await request(bed.url, 'POST', '/v1/chat/completions', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-big': 'a'.repeat(5000) },
      body: JSON.stringify(user('hi')),
    });
    assert.equal(fits.status, 200, fits.text);
    assert.equal(fits.json.choices[0].message.content, 'fits');
    const big = await request(bed.url, 'POST', '/v1/chat/completions', {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-big': 'a'.repeat(12000) },
      body: JSON.stringify(user('hi')),
    });
    assert.equal(big.status, 431);
    bed.fake.script({ output: ['still here'] });
    const c = await bed.client.chat.completions.create(user('ping'));
    assert.equal(c.choices[0].message.content, 'still here');
  });

  itExitsCleanly(() => bed, it);
});
