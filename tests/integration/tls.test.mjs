// TLS upstream (issue 11): the fake Replicate over HTTPS, once HTTP/1.1 only and
// once with HTTP/2 offered by ALPN, with a CA made for this run and trusted
// through upstream_ca_file. The API and stream hosts are different ports, so the
// CA must apply to both. Verification stays on: another CA, or the system's,
// means 502 with a message that names no host.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CREATE_PATH, assertChunks, assertCompletion, assertErrorReply, clientFor, runProxy, sdkStream, setup, sleep, sseRequest, tempDir, user,
  itExitsCleanly,
} from './helpers.mjs';
import { makeTestCA } from '../fake-replicate.mjs';

const dirs = [];
const newCA = (cn) => { const d = tempDir(); dirs.push(d); return makeTestCA(d, { cn }); };
const ca = newCA('tls test CA');
const otherCA = newCA('some other CA');
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

for (const http2 of [false, true]) {
  const version = http2 ? '2.0' : '1.1';
  describe(`TLS upstream, HTTP/${http2 ? 2 : 1.1}`, () => {
    let bed;
    let wrong;
    before(async () => {
      bed = await setup({
        fakeOpts: { tls: { key: ca.key, cert: ca.cert }, http2 },
        config: { upstream_ca_file: ca.caFile },
      });
      wrong = await bed.addProxy({ config: { upstream_ca_file: otherCA.caFile } });
    });
    after(async () => { await bed?.finish(); });
    beforeEach(() => bed.fake.reset());

    it('a chat: create and poll over TLS', async () => {
      assert.match(bed.fake.url, /^https:/);
      bed.fake.script({ output: ['Hel', 'lo'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 3, output_token_count: 2 } });
      const c = await bed.client.chat.completions.create(user('hi'));
      assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'Hello' }], usage: { prompt_tokens: 3, completion_tokens: 2 } });
      const [create] = bed.fake.creates();
      assert.equal(create.path, CREATE_PATH);
      assert.equal(create.httpVersion, version);
      assert.equal(bed.fake.gets()[0].httpVersion, version);
    });

    it('a stream: urls.stream on the other port, over TLS', async () => {
      bed.fake.script({ output: ['a', 'b', 'c'], metrics: { input_token_count: 2, output_token_count: 3 } });
      const { chunks, error } = await sdkStream(bed.client, { ...user('stream'), stream_options: { include_usage: true } });
      assert.equal(error, null);
      const r = assertChunks(chunks, { finish: 'stop', usage: { prompt_tokens: 2, completion_tokens: 3 } });
      assert.deepEqual(r.contents, ['abc']);
      const [s] = bed.fake.streams();
      assert.equal(s.httpVersion, version);
      assert.equal(bed.fake.creates()[0].httpVersion, version);
    });

    it('streams with events larger than a small receive buffer, several at once', async () => {
      // libcurl 7.88 overflowed a stream buffer smaller than an HTTP/2 DATA frame
      // (caught by ASan with 1,500 streams); several multiplexed streams of 4-6 KiB
      // events exercise the same path.
      const big = (k) => Array.from({ length: 6 }, (_, i) => String.fromCharCode(97 + k) .repeat(4000 + 400 * i));
      const outs = [0, 1, 2, 3].map(big);
      for (const o of outs) bed.fake.script({ output: o, tokenDelay: 0, match: o[0][0] === 'a' ? 'big a' : o[0][0] === 'b' ? 'big b' : o[0][0] === 'c' ? 'big c' : 'big d' });
      const runs = await Promise.all(['a', 'b', 'c', 'd'].map((k) => sdkStream(bed.client, user(`big ${k}`))));
      runs.forEach((r, i) => {
        assert.equal(r.error, null);
        assert.deepEqual(assertChunks(r.chunks, { finish: 'stop' }).contents, [outs[i].join('')]);
      });
      assert.ok(bed.fake.streams().every((e) => e.httpVersion === version));
    });

    it('a create body larger than the upload buffer arrives whole, before and after a stream', async () => {
      // The proxy sets curl's upload buffer to 16 KiB on every start (a pooled
      // handle otherwise keeps a 64 KiB one through a whole stream); a body of
      // 100 KB must still go out complete, on a fresh handle and on one a
      // stream used last.
      const long = (tag) => `${tag}:${'x'.repeat(100000)}:${tag}`;
      bed.fake.script({ output: ['ok'] }, { output: ['s1', 's2'] }, { output: ['ok'] });
      await bed.client.chat.completions.create(user(long('first')));
      const { error } = await sdkStream(bed.client, user('stream between'));
      assert.equal(error, null);
      await bed.client.chat.completions.create(user(long('second')));
      const bodies = bed.fake.creates().map((c) => c.rawBody);
      assert.equal(bodies.length, 3);
      for (const [i, tag] of [[0, 'first'], [2, 'second']]) {
        assert.ok(bodies[i].length > 100000, `create ${i}: ${bodies[i].length} bytes`);
        assert.ok(bodies[i].includes(long(tag)), `create ${i} carries the whole prompt`);
      }
      assert.ok(bed.fake.creates().every((c) => c.httpVersion === version));
    });

    it('a proxy trusting another CA is refused: 502, no host in the message, nothing created', async () => {
      const r = await bed.request('POST', '/v1/chat/completions', { base: wrong.url, body: user('hi') });
      const e = assertErrorReply(r, 502);
      assert.doesNotMatch(e.message, /127\.0\.0\.1|localhost|:\d{2,5}\b/);
      assert.match(e.message, /TLS|certificate/i);
      assert.equal(bed.fake.creates().length, 0);
    });

    itExitsCleanly(() => bed, it);
  });
}

describe('upstream_ca_file', () => {
  it('an unreadable file is refused at startup (exit 2, the option named)', async () => {
    const r = await runProxy(['--upstream', 'https://127.0.0.1:9', '--upstream_ca_file', '/nonexistent/ca.pem']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /upstream_ca_file/);
  });
});

// Without upstream_ca_file the system's bundle is used, verification on (the
// fake's CA is not in it). curl 7.88 builds the store from the bundle file once
// per worker and keeps it; with Debian's CA directory also named it read and
// parsed the whole file for every new connection (~0.9 MB and ~24 ms each).
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
describe('the system CAs (no upstream_ca_file)', { skip: !existsSync(SYSTEM_BUNDLE) && `no ${SYSTEM_BUNDLE}` }, () => {
  let bed;
  before(async () => {
    // no circuit breaker: the refusals below would open it
    bed = await setup({ fakeOpts: { tls: { key: ca.key, cert: ca.cert }, http2: true }, config: { circuit_cooldown: 0 } });
  });
  after(async () => { await bed?.finish(); });

  it('a server they do not vouch for is refused (502), and the bundle is read once, not per connection', async () => {
    const bytesRead = () => Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${bed.proxy.proc.pid}/io`, 'utf8'))[1]);
    const before0 = bytesRead();
    for (let i = 0; i < 3; i++) {
      // each attempt is a new connection: a failed handshake leaves none to reuse
      const r = await bed.request('POST', '/v1/chat/completions', { body: user(`hi ${i}`) });
      const e = assertErrorReply(r, 502);
      assert.match(e.message, /TLS|certificate/i);
    }
    assert.equal(bed.fake.creates().length, 0);
    const read = bytesRead() - before0;
    const bundle = statSync(SYSTEM_BUNDLE).size;
    assert.ok(read >= bundle, `the bundle was read (${read} bytes read, bundle ${bundle})`);
    assert.ok(read < 1.5 * bundle, `${read} bytes read for 3+ connections: the ${bundle}-byte bundle once, not per connection`);
  });

  itExitsCleanly(() => bed, it);
});

// HTTP/2 cuts of a create (issue 11): a reset stream or a GOAWAY that claims the
// stream was not processed must never make curl send the paid create again; the
// proxy finds the prediction in the list instead.
describe('HTTP/2: a create cut by RST_STREAM or GOAWAY is never sent twice', () => {
  let bed;
  before(async () => {
    bed = await setup({ fakeOpts: { tls: { key: ca.key, cert: ca.cert }, http2: true }, config: { upstream_ca_file: ca.caFile } });
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());
  const createsFor = (text) => bed.fake.creates().filter((e) => e.rawBody.includes(text));
  const predictionsFor = (text) => [...bed.fake.predictions.values()].filter((p) => JSON.stringify(p.input).includes(text));

  for (const fault of ['h2-rst-after-create', 'h2-goaway-after-create']) {
    it(`${fault}: one create, the prediction adopted from the list`, async () => {
      // Warm the connection: the create goes out on an existing HTTP/2 session.
      bed.fake.script({ output: ['warm'] });
      assert.equal((await bed.client.chat.completions.create(user('warm up'))).choices[0].message.content, 'warm');
      bed.fake.reset();
      const text = `pay once ${fault}`;
      bed.fake.script({ output: ['Only', ' once'], createFault: fault });
      const c = await bed.client.chat.completions.create(user(text));
      assert.equal(c.choices[0].message.content, 'Only once');
      assert.equal(createsFor(text).length, 1, 'exactly one create reached the fake');
      assert.equal(createsFor(text)[0].httpVersion, '2.0');
      assert.equal(predictionsFor(text).length, 1, 'exactly one prediction exists');
      assert.equal(c.id, `chatcmpl-${predictionsFor(text)[0].id}`);
      assert.equal(bed.fake.log.filter((e) => e.kind === 'list').length, 1, 'the list was read once');
    });
  }

  // The circuit opens after 5 failed creates in a row; a reset stream is not Replicate
  // failing (it made the prediction), and one cut connection fails all its creates at once.
  // REFUSED_STREAM makes curl want to send the create again on a new connection, which
  // the proxy refuses ("connection lost after sending"): under load ten creates cut that
  // way at once opened the circuit (3,221 of 5,000 TLS streams got a 503).
  for (const [fault, name] of [['h2-rst-after-create', 'RST_STREAM'], ['h2-goaway-after-create', 'GOAWAY'],
    ['h2-refused-after-create', 'REFUSED_STREAM']]) {
    it(`six creates cut by ${name} in a row: each adopted, the circuit stays closed`, async () => {
      for (let i = 0; i < 6; i++) {
        const text = `${name} ${i}`;
        bed.fake.script({ output: [`ok ${i}`], createFault: fault });
        const c = await bed.client.chat.completions.create(user(text));
        assert.equal(c.choices[0].message.content, `ok ${i}`);
        assert.equal(createsFor(text).length, 1);
      }
      assert.doesNotMatch(bed.proxy.stderr, /circuit to Replicate open/);
    });
  }

  itExitsCleanly(() => bed, it);
});

// A TLS handshake the server never answers (seen from node's TLS server under load:
// connections accepted, the ClientHello never read) is a connect failure: nothing was
// sent, so the create is sent again on another connection, instead of a 504 "did not
// answer in time" while the request still had most of its time.
// In front of a port: the first connection is accepted and never read (its TLS
// handshake never completes); later ones are relayed.
async function stallFirst(port, held) {
  let n = 0;
  const relay = net.createServer((sock) => {
    if (n++ === 0) { held.push(sock); sock.pause(); return; }
    const up = net.connect(port, '127.0.0.1');
    sock.pipe(up).pipe(sock);
    sock.on('error', () => up.destroy());
    up.on('error', () => sock.destroy());
  });
  await new Promise((ok) => relay.listen(0, '127.0.0.1', ok));
  return relay;
}

describe('a TLS handshake that never completes: the create is retried, not a 504', () => {
  let bed;
  let relay;
  let streamRelay;
  let proxy;
  const held = [];
  const streamHeld = [];
  before(async () => {
    bed = await setup({ fakeOpts: { tls: { key: ca.key, cert: ca.cert }, http2: true }, config: { upstream_ca_file: ca.caFile } });
    relay = await stallFirst(Number(new URL(bed.fake.url).port), held);
    streamRelay = await stallFirst(Number(new URL(bed.fake.streamUrl).port), streamHeld);
    proxy = await bed.addProxy({ upstream: `https://127.0.0.1:${relay.address().port}`,
      config: { upstream_ca_file: ca.caFile, connect_timeout: '500ms', request_timeout: '10s' } });
  });
  after(async () => {
    for (const s of [...held, ...streamHeld]) s.destroy();
    relay?.close();
    streamRelay?.close();
    await bed?.finish();
  });

  it('one create reaches Replicate, on the second connection; the answer arrives', async () => {
    bed.fake.script({ output: ['through ', 'at last'], getBase: `https://127.0.0.1:${relay.address().port}` });
    const t0 = Date.now();
    const r = await bed.request('POST', '/v1/chat/completions', { base: proxy.url, body: user('stalled handshake') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'through at last');
    assert.equal(bed.fake.creates().length, 1);
    assert.equal(held.length, 1, 'the first connection was the held one');
    assert.ok(Date.now() - t0 >= 500, 'after connect_timeout');
    assert.match(proxy.stderr, /create for choice 0 failed \(connection timed out, HTTP 0\); retry 1 of/);
  });

  it('a stream whose handshake never completes is opened again and streamed, not polled', async () => {
    const relayUrl = `https://127.0.0.1:${relay.address().port}`;
    bed.fake.script({ output: ['one', ' two', ' three'], tokenDelay: 20, getBase: relayUrl,
      streamBase: `https://127.0.0.1:${streamRelay.address().port}` });
    const r = await sdkStream(clientFor(proxy.url, bed.apiKey), user('stalled stream'));
    assert.equal(r.error, null);
    assert.deepEqual(assertChunks(r.chunks, { finish: 'stop' }).contents, ['one two three']);
    assert.equal(streamHeld.length, 1, 'the first stream connection was the held one');
    const id = bed.fake.creates().at(-1).predictionId;
    assert.equal(bed.fake.streams(id).length, 1, 'one stream reached the fake');
    assert.ok(bed.fake.gets(id).length <= 1, 'not followed by polls (one GET for usage at most)');
    // curl's own detail differs by version (7.88: "SSL connection timeout",
    // 8.x: "Connection timed out after N milliseconds").
    assert.match(proxy.stderr, /stream connection failed \(connection timed out: [^)]*(timeout|timed out)[^)]*\); opening it again/i);
  });

  itExitsCleanly(() => bed, it);
});

// Connections over HTTP/2 follow the load (issue 11): curl opens connections
// for a burst without waiting for those still in their handshake, so a fixed
// cap of 256 a host let 5,000 streams opened at once leave 256 + 256 TLS
// connections (~60 KB each), most of them idle for good. The cap is now the
// transfers in flight / 50 + 33, and idle ones beyond 16 are closed.
describe('HTTP/2: connections follow the load', () => {
  let bed;
  before(async () => {
    bed = await setup({
      fakeOpts: { tls: { key: ca.key, cert: ca.cert }, http2: true },
      config: { upstream_ca_file: ca.caFile, request_timeout: '60s' },
    });
  });
  after(async () => { await bed?.finish(); });

  it('300 streams at once: at most 300/50 + 33 connections a host while open, at most 24 left after', async () => {
    const N = 300;
    bed.fake.setDefault({ output: ['a', 'b'], firstTokenDelay: 1500, tokenDelay: 50 });
    let peak = 0;
    const sample = setInterval(() => { peak = Math.max(peak, bed.fake.connectionsOpen); }, 5);
    try {
      const runs = await Promise.all(Array.from({ length: N }, (_, i) =>
        sseRequest(bed.url, '/v1/chat/completions', { ...user(`burst ${i}`), stream: true }, { timeoutMs: 60000 })));
      runs.forEach((r, i) => {
        assert.equal(r.status, 200, `stream ${i}: ${r.text.slice(0, 200)}`);
        assert.equal(r.done, true, `stream ${i} ends with [DONE]`);
        assert.deepEqual(assertChunks(r.chunks, { finish: 'stop' }).contents, ['ab'], `stream ${i}`);
      });
    } finally {
      clearInterval(sample);
      bed.fake.setDefault();
    }
    assert.equal(bed.fake.streams().length, N);
    assert.ok(bed.fake.streams().every((e) => e.httpVersion === '2.0'));
    // the API host and the stream host, each within its cap
    const cap = Math.floor(N / 50) + 1 + 32;
    assert.ok(peak <= 2 * cap, `${peak} connections open at the peak (cap ${cap} a host)`);
    // The connections come back to curl's pool as their last transfers end:
    // past the limit (16 idle, slack 4) curl closes the oldest. The limit is
    // set as each transfer is released, after curl has checked it for that
    // transfer's connection, so the last few checks see a slightly higher one.
    let open = bed.fake.connectionsOpen;
    for (let i = 0; i < 100 && open > 24; i++) { await sleep(50); open = bed.fake.connectionsOpen; }
    assert.ok(open <= 24, `${open} connections still open once every stream ended (peak ${peak})`);
  });

  itExitsCleanly(() => bed, it);
});
