// The HTTP front itself (issue 7, items 2, 3, 5, 8 and 11): answers that fit
// whatever headers were accepted, slow clients cut off, no request smuggling,
// no log injection, our own refusals as OpenAI errors in the access log, HEAD,
// Expect: 100-continue, chunked bodies, pipelining and a busy port.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CLIENT_KEY, assertErrorReply, itExitsCleanly, request, runProxy, setup, sleep, startProxy, user,
} from './helpers.mjs';

const CHAT = '/v1/chat/completions';

// Write `data` (a string or an array of pieces sent `gapMs` apart) on a fresh
// connection; resolves with everything read until the server closes (or
// `waitMs` passes: then closedByServer is false).
function raw(port, data, { waitMs = 5000, gapMs = 20 } = {}) {
  return new Promise((resolveR) => {
    const pieces = Array.isArray(data) ? data : [data];
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let closedByServer = false;
    const t = setTimeout(() => { s.destroy(); done(); }, waitMs);
    let finished = false;
    const done = () => { if (!finished) { finished = true; clearTimeout(t); resolveR({ text, closedByServer }); } };
    s.setEncoding('latin1');
    s.on('data', (d) => (text += d));
    s.on('end', () => { closedByServer = true; s.end(); done(); });
    s.on('close', done);
    s.on('error', done);
    s.on('connect', async () => {
      for (const p of pieces) {
        if (s.destroyed) return;
        s.write(p);
        if (pieces.length > 1) await sleep(gapMs);
      }
    });
  });
}

// Split a raw byte string into its HTTP responses (Content-Length bodies).
function responses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const len = status === 100 ? 0 : Number(headers['content-length'] ?? 0);
    const body = rest.slice(end + 4, end + 4 + len);
    let json;
    try { json = JSON.parse(body); } catch { json = undefined; }
    out.push({ statusLine, status, headers, body, json, text: body });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

// An access-log line "METHOD PATH STATUS NNms" in the proxy's stderr.
function logged(p, method, path, status) {
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`info  ${esc(method)} ${esc(path)} ${status} \\d+ms`).test(p.stderr);
}

const waitFor = async (cond, ms = 3000) => {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await sleep(20);
  return cond();
};

describe('http hygiene', () => {
  let bed;
  let port;
  before(async () => {
    bed = await setup({ config: { max_body_size: '64KiB', log_level: 'info' } });
    port = bed.proxy.port;
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const head = (lines) => `${lines.join('\r\n')}\r\n\r\n`;
  const chatBody = JSON.stringify(user('hi'));

  it('7.5 KB of request headers: answered 200, exactly one create (7.2)', async () => {
    bed.fake.script({ output: ['fits'] });
    const r = await request(bed.url, 'POST', CHAT, {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-big': 'a'.repeat(7500) },
      body: chatBody,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'fits');
    assert.equal(bed.fake.creates().length, 1);
  });

  it('9 KB of request headers: 431 OpenAI error, logged, no create (7.2, 7.11)', async () => {
    const r = await request(bed.url, 'POST', CHAT, {
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'x-big': 'a'.repeat(9000) },
      body: chatBody,
    });
    assertErrorReply(r, 431, { code: 'request_header_fields_too_large' });
    assert.equal(bed.fake.creates().length, 0);
    assert.ok(await waitFor(() => logged(bed.proxy, 'POST', CHAT, 431)), bed.proxy.stderr.slice(-2000));
  });

  it('414, 505 and 400 are OpenAI errors and appear in the access log (7.11)', async () => {
    const long = `/v1/models/${'m'.repeat(9000)}`;
    const r414 = responses((await raw(port, head([`GET ${long} HTTP/1.1`, 'Host: localhost']))).text);
    assert.equal(r414.length, 1);
    assertErrorReply(r414[0], 414, { code: 'uri_too_long' });

    const r505 = responses((await raw(port, head(['GET /health HTTP/2.0', 'Host: localhost']))).text);
    assertErrorReply(r505[0], 505, { code: 'http_version_not_supported' });
    assert.ok(await waitFor(() => logged(bed.proxy, 'GET', '/health', 505)));

    const garbage = responses((await raw(port, '\x16\x03\x01garbage\r\n\r\n')).text);
    assertErrorReply(garbage[0], 400);
    const path400 = responses((await raw(port, head(['GET /bad%zz HTTP/1.1', 'Host: localhost']))).text);
    assertErrorReply(path400[0], 400);
    assert.ok(await waitFor(() => logged(bed.proxy, 'GET', '/bad%zz', 400)));
  });

  it('HTTP/1.1 without Host, or with two, → 400 (7.5)', async () => {
    for (const lines of [['GET /health HTTP/1.1'], ['GET /health HTTP/1.1', 'Host: a', 'Host: b']]) {
      const r = responses((await raw(port, head(lines))).text);
      assertErrorReply(r[0], 400);
    }
    const ok10 = responses((await raw(port, head(['GET /health HTTP/1.0']))).text);
    assert.equal(ok10[0].status, 200);
  });

  it('Content-Length + Transfer-Encoding → 400, the smuggled request is not served (7.5)', async () => {
    const smuggled = head(['GET /v1/models HTTP/1.1', 'Host: localhost']);
    const attack = head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${CLIENT_KEY}`,
      'Content-Type: application/json', `Content-Length: ${5 + smuggled.length}`, 'Transfer-Encoding: chunked'])
      + '0\r\n\r\n' + smuggled;
    const { text, closedByServer } = await raw(port, attack);
    const rs = responses(text);
    assert.equal(rs.length, 1, `exactly one response: ${JSON.stringify(text.slice(0, 400))}`);
    assertErrorReply(rs[0], 400);
    assert.equal(rs[0].headers.connection, 'close');
    assert.ok(closedByServer, 'the connection is closed');
    assert.equal(bed.fake.requests().length, 0);
  });

  it('two Content-Length headers (equal or not, or a list) → 400 (7.5)', async () => {
    for (const cl of [['Content-Length: 2', 'Content-Length: 2'], ['Content-Length: 2', 'Content-Length: 40'], ['Content-Length: 2, 2']]) {
      const rs = responses((await raw(port, head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', ...cl]) + '{}GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n')).text);
      assert.equal(rs.length, 1, JSON.stringify(cl));
      assertErrorReply(rs[0], 400);
    }
    assert.equal(bed.fake.requests().length, 0);
  });

  it('an unknown Transfer-Encoding → 501, answered and closed (7.5)', async () => {
    const { text, closedByServer } = await raw(port, head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', 'Transfer-Encoding: gzip, chunked']) + '0\r\n\r\n');
    const rs = responses(text);
    assertErrorReply(rs[0], 501, { code: 'unsupported_transfer_encoding' });
    assert.ok(closedByServer);
  });

  it('a chunked request body is read (extensions ignored, trailers skipped)', async () => {
    bed.fake.script({ output: ['chunked ok'] });
    const b = chatBody;
    const body = `5;ext=1\r\n${b.slice(0, 5)}\r\n${(b.length - 5).toString(16)}\r\n${b.slice(5)}\r\n0\r\nX-Trailer: t\r\n\r\n`;
    const rs = responses((await raw(port, head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${CLIENT_KEY}`,
      'Transfer-Encoding: chunked', 'Connection: close']) + body)).text);
    assert.equal(rs[0].status, 200, rs[0]?.body);
    assert.equal(rs[0].json.choices[0].message.content, 'chunked ok');
  });

  it('Expect: 100-continue over max_body_size → 413 at once, without 100 Continue (7.hygiene)', async () => {
    const { text } = await raw(port, head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${CLIENT_KEY}`,
      'Content-Type: application/json', `Content-Length: ${10 * 1024 * 1024}`, 'Expect: 100-continue']), { waitMs: 3000 });
    assert.ok(!text.includes('100 Continue'), text.slice(0, 200));
    const rs = responses(text);
    assertErrorReply(rs[0], 413, { code: 'request_too_large' });
    assert.equal(bed.fake.requests().length, 0);
  });

  it('Expect: 100-continue within the limit → 100 Continue, then the answer', async () => {
    bed.fake.script({ output: ['continued'] });
    const h = head([`POST ${CHAT} HTTP/1.1`, 'Host: localhost', `Authorization: Bearer ${CLIENT_KEY}`,
      'Content-Type: application/json', `Content-Length: ${chatBody.length}`, 'Expect: 100-continue', 'Connection: close']);
    const { text } = await raw(port, [h, chatBody], { gapMs: 300 });
    assert.ok(text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), text.slice(0, 100));
    const rs = responses(text);
    assert.equal(rs[1].status, 200);
    assert.equal(rs[1].json.choices[0].message.content, 'continued');
  });

  it('HEAD /health → 200 with the headers of GET and no body; logged as HEAD (7.11)', async () => {
    const { text } = await raw(port, head(['HEAD /health HTTP/1.1', 'Host: localhost', 'Connection: close']));
    const end = text.indexOf('\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nContent-Type: application\/json\r\n/);
    assert.match(text, /\r\nContent-Length: 15\r\n/, 'the length GET would have');
    assert.equal(text.slice(end + 4), '', 'no body');
    assert.ok(await waitFor(() => logged(bed.proxy, 'HEAD', '/health', 200)));
    const post = await request(bed.url, 'HEAD', '/v1/chat/completions');
    assert.equal(post.status, 405, 'HEAD is GET to routes: POST-only paths stay 405');
  });

  it('no log injection: %0A in the URL → 400, and no forged line in the log (7.8)', async () => {
    const forged = 'FORGED-LINE 2026-01-01T00:00:00.000Z info  GET /admin 200';
    const r = await request(bed.url, 'GET', `/v1/models/x%0A${encodeURIComponent(forged)}`);
    assertErrorReply(r, 400);
    const rs = responses((await raw(port, head(['GET /v1/models/caf\u00e9\u0001 HTTP/1.1', 'Host: localhost']))).text);
    assert.equal(rs[0].status, 400, 'raw control bytes in the target are refused');
    // non-ASCII that arrives escaped reaches the log escaped
    const nonAscii = await request(bed.url, 'GET', '/v1/models/%C3%A9%1B');
    assertErrorReply(nonAscii, 400);
    const ok = await request(bed.url, 'GET', '/v1/models/caf%C3%A9');
    assert.equal(ok.status, 404);
    assert.ok(await waitFor(() => /GET \/v1\/models\/caf\\xc3\\xa9 404/.test(bed.proxy.stderr)), bed.proxy.stderr.slice(-1500));
    for (const line of bed.proxy.stderr.split('\n')) {
      assert.ok(!line.startsWith('FORGED-LINE'), `forged line: ${line}`);
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(line), `control character in a log line: ${JSON.stringify(line)}`);
    }
  });

  it('a refused request logs its path without the query (a key may be in it)', async () => {
    const secret = 'sk-InTheQueryOfARefusedRequest0123';
    bed.proxy.addSecret(secret);
    await raw(port, head([`GET /key/info?key=${secret} HTTP/1.1`])); // no Host: 400 from the parser
    await raw(port, head([`GET /%zz?key=${secret} HTTP/1.1`, 'Host: localhost'])); // bad path: 400
    assert.ok(await waitFor(() => /GET \/%zz 400/.test(bed.proxy.stderr)), bed.proxy.stderr.slice(-1500));
    assert.match(bed.proxy.stderr, /GET \/key\/info 400/);
    assert.ok(!bed.proxy.stderr.includes(secret), bed.proxy.stderr.slice(-1500));
  });

  it('pipelined requests are answered in order on one connection', async () => {
    const req = (p) => head([`GET ${p} HTTP/1.1`, 'Host: localhost']);
    const { text } = await raw(port, req('/health') + req('/v1/models/nope') + req('/v1/models') + head(['GET /health HTTP/1.1', 'Host: localhost', 'Connection: close']));
    const rs = responses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 404, 200, 200]);
    assert.equal(rs[3].headers.connection, 'close');
  });

  it('a request pipelined while the first is still being answered waits for it, without a busy loop', async () => {
    // The first answer takes ~1.5 s (polls until the prediction ends); the second
    // request arrives 200 ms in, while the connection still watches for input.
    bed.fake.script({ output: ['first answer'], terminalAfterMs: 1500 });
    const body = JSON.stringify(user('slow first'));
    const chat = head(['POST /v1/chat/completions HTTP/1.1', 'Host: localhost', `Authorization: Bearer ${CLIENT_KEY}`,
      'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]) + body;
    const cpuMs = () => {
      const st = readFileSync(`/proc/${bed.proxy.proc.pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    };
    const cpu0 = cpuMs();
    const { text } = await raw(port, [chat, head(['GET /health HTTP/1.1', 'Host: localhost', 'Connection: close'])], { gapMs: 200 });
    const spent = cpuMs() - cpu0;
    const rs = responses(text);
    assert.deepEqual(rs.map((r) => r.status), [200, 200], text);
    assert.equal(rs[0].json.choices[0].message.content, 'first answer');
    assert.equal(rs[1].headers.connection, 'close');
    // Bytes waiting in the socket keep a level-triggered EPOLLIN firing.
    assert.ok(spent < 400, `the proxy used ${spent} ms of CPU while the second request waited`);
  });

  itExitsCleanly(() => bed, it);
});

describe('http hygiene: slow clients', () => {
  let bed;
  before(async () => {
    bed = await setup({ config: { client_header_timeout: '2s', client_body_timeout: '2s', client_send_timeout: '1s', log_level: 'info' } });
  });
  after(async () => { await bed?.finish(); });

  it('50 clients sending one header byte per second are cut off (408), a normal request still succeeds (7.3)', async () => {
    const port = bed.proxy.port;
    const t0 = Date.now();
    const line = 'GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(100);
    const slow = Array.from({ length: 50 }, () => new Promise((resolveS) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      let i = 0;
      const timer = setInterval(() => { if (i < line.length && !s.destroyed) s.write(line[i++]); }, 1000);
      s.setEncoding('latin1');
      s.on('data', (d) => (got += d));
      const done = () => { clearInterval(timer); resolveS({ got, at: Date.now() - t0 }); };
      s.on('close', done);
      s.on('error', () => {});
      s.on('connect', () => s.write(line[i++]));
    }));
    await sleep(500);
    bed.fake.script({ output: ['not starved'] });
    const c = await bed.client.chat.completions.create(user('ping'));
    assert.equal(c.choices[0].message.content, 'not starved');
    const results = await Promise.race([Promise.all(slow), sleep(20000).then(() => null)]);
    assert.ok(results, 'every slow client was closed within 20 s (client_header_timeout 2s)');
    for (const r of results) {
      const rs = responses(r.got);
      assertErrorReply(rs[0], 408, { code: 'request_timeout' });
    }
  });

  it('a body that trickles in is cut off by client_body_timeout (408)', async () => {
    bed.fake.reset();
    const port = bed.proxy.port;
    const h = `POST ${CHAT} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Length: 1000\r\n\r\n`;
    const pieces = [h, ...Array.from({ length: 40 }, () => 'x')];
    const { text } = await raw(port, pieces, { gapMs: 500, waitMs: 15000 });
    assertErrorReply(responses(text)[0], 408);
    assert.equal(bed.fake.requests().length, 0);
  });

  it('a stream whose client stops reading is closed after client_send_timeout without progress', async () => {
    bed.fake.reset();
    const big = 'x'.repeat(64 * 1024);
    bed.fake.script({ output: Array.from({ length: 400 }, () => big), tokenDelay: 0 });
    const body = JSON.stringify({ ...user('flood'), stream: true });
    const s = net.connect(bed.proxy.port, '127.0.0.1');
    let got = 0;
    s.on('data', (d) => { got += d.length; if (got > 64 * 1024) s.pause(); });
    s.on('error', () => {});
    s.write(`POST ${CHAT} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const gone = await waitFor(() => new RegExp(`POST ${CHAT} 200 \\d+ms \\(client gone\\)`).test(bed.proxy.stderr), 15000);
    s.destroy();
    assert.ok(gone, `the stalled stream ended as client gone: ${bed.proxy.stderr.slice(-1500)}`);
    assert.ok(got < 400 * big.length, 'the client never read it all');
  });

  it('a connection that sends nothing is closed without a reply', async () => {
    const { text, closedByServer } = await raw(bed.proxy.port, [], { waitMs: 15000 });
    assert.equal(text, '');
    assert.ok(closedByServer);
  });

  itExitsCleanly(() => bed, it);
});

describe('http hygiene: the connection cap', () => {
  let bed;
  before(async () => { bed = await setup({ config: { max_connections: 4, workers: 1 } }); });
  after(async () => { await bed?.finish(); });

  const open = (port, first = '') => new Promise((resolveO) => {
    const s = net.connect(port, '127.0.0.1');
    s.got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => (s.got += d));
    s.on('error', () => {});
    s.on('connect', () => { if (first) s.write(first); resolveO(s); });
  });

  it('at the cap, the oldest idle connection makes room; with none idle, a new one gets 503 JSON', async () => {
    const port = bed.proxy.port;
    const idle = [];
    for (let i = 0; i < 4; i++) { idle.push(await open(port)); await sleep(30); }
    const h = await request(bed.url, 'GET', '/health');
    assert.equal(h.status, 200, 'served at the cap');
    assert.ok(await waitFor(() => idle[0].closed), 'the oldest idle connection was closed');
    for (const s of idle) s.destroy();
    await sleep(100);
    // four connections that are busy sending a head: none idle
    const busy = [];
    for (let i = 0; i < 4; i++) busy.push(await open(port, 'GET /health HTTP/1.1\r\nHo'));
    await sleep(100);
    const refused = await raw(port, 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n', { waitMs: 3000 });
    const rs = responses(refused.text);
    assertErrorReply(rs[0], 503, { code: 'too_many_connections', type: 'server_error' });
    for (const s of busy) s.destroy();
    await sleep(100);
    assert.equal((await request(bed.url, 'GET', '/health')).status, 200, 'served again once they left');
  });

  itExitsCleanly(() => bed, it);
});

describe('http hygiene: a busy port (7.11)', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('a second instance on the same port refuses to start unless reuse_port = true', async () => {
    const dir = (await import('./helpers.mjs')).tempDir();
    const { writeFileSync } = await import('node:fs');
    const file = `${dir}/proxy.conf`;
    writeFileSync(file, `listen = 127.0.0.1:${bed.proxy.port}\nupstream = ${bed.fake.url}\nreplicate_api_token = \nworkers = 1\n`);
    const r = await runProxy(['--config', file]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: .*reuse_port/);
    const h = await request(bed.url, 'GET', '/health');
    assert.equal(h.status, 200, 'the first instance still serves');
  });

  it('reuse_port = true on both shares the port', async () => {
    const a = await startProxy({ fake: bed.fake, config: { listen: '127.0.0.1:0', reuse_port: 'true' } });
    try {
      const b = await startProxy({ fake: bed.fake, config: { listen: `127.0.0.1:${a.port}`, reuse_port: 'true' } });
      assert.equal(b.port, a.port);
      await b.stop();
    } finally {
      await a.stop();
    }
  });

  itExitsCleanly(() => bed, it);
});
