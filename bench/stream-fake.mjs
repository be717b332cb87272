// The streaming benchmark's fake Replicate, in one of three roles:
//
//   node bench/stream-fake.mjs --port N --stream-port M
//        --scenario '{"firstTokenDelay":1000,"tokenDelay":500,"tokenCount":40}'
//        [--role both|api|streams] [--stream-base URL] [--tls-dir DIR [--tls-make]] [--http2]
//
// both (the default): the test suite's fake (tests/fake-replicate.mjs), API and
//   stream host in this process, as the test suite runs it.
// api: the same fake, but every prediction's urls.stream points at --stream-base
//   (another process); the fake's own stream host listens on a spare port. A
//   prediction is `processing` until the stream host has sent its last token
//   (counted from the create), then succeeded (the proxy's usage read).
// streams: only the stream host (GET /v1/streams/<token>: the scenario's tokens,
//   then `done`, then held open --stream-hold ms and closed with `:408`), lean:
//   no request log, no prediction table. Over TLS + HTTP/2 a node process that
//   both answers thousands of handshakes and creates and writes ~10,000 token
//   events a second falls seconds behind (event-loop lag 1.5-6.6 s measured),
//   leaving handshakes unanswered; a process of its own for the token writes
//   keeps the rig from being the bottleneck.
//
// Every output token's text is the time it is written, " <ns>" where <ns> is
// process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in every process of
// the machine), so a client can compute each token's delivery latency. In the
// test suite's fake: newPrediction() stores the prediction with
// predictions.set(id, p) and the stream handler reads p.chunks[i] right before
// res.write(); wrapping p.chunks in a Proxy makes that read return the time.
//
// TLS: --tls-dir DIR --tls-make makes a CA there (ca.pem, server.pem,
// server.key); --tls-dir DIR alone reads the server key and certificate an
// earlier process made there (the api role makes them, the streams role reads).
// Prints "ready <api url> <stream url>" on stdout once listening.

import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { makeTestCA, sseEvent, startFake } from '../tests/fake-replicate.mjs';

function args(argv) {
  const o = { port: 0, streamPort: 0, scenario: {}, hold: 2000, role: 'both' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--port') o.port = Number(v());
    else if (a === '--stream-port') o.streamPort = Number(v());
    else if (a === '--scenario') o.scenario = JSON.parse(v());
    else if (a === '--stream-hold') o.hold = Number(v());
    else if (a === '--tls-dir') o.tlsDir = v();
    else if (a === '--tls-make') o.tlsMake = true;
    else if (a === '--http2') o.http2 = true;
    else if (a === '--role') o.role = v();
    else if (a === '--stream-base') o.streamBase = v();
    else throw new Error(`unknown option ${a}`);
  }
  if (!['both', 'api', 'streams'].includes(o.role)) throw new Error(`--role ${o.role}: expected both|api|streams`);
  if (o.role === 'api' && !o.streamBase) throw new Error('--role api needs --stream-base');
  return o;
}

const now = () => ` ${process.hrtime.bigint()}`;
const MAX_STREAMS = 1000; // advertised per HTTP/2 connection, both hosts

function tlsFiles(o) {
  if (!o.tlsDir) return null;
  if (o.tlsMake) { const ca = makeTestCA(o.tlsDir); return { key: ca.key, cert: ca.cert }; }
  return { key: fs.readFileSync(path.join(o.tlsDir, 'server.key')), cert: fs.readFileSync(path.join(o.tlsDir, 'server.pem')) };
}

// FAKE_TLS_TRACE=1: handshakes (count, > 1 s, slowest), sessions, resets
// received by code, and this process's event-loop lag, every 2 s on stderr.
function trace(srv, name) {
  const hs = { conns: 0, n: 0, slow: 0, max: 0, sessions: 0, closed: 0, lagMax: 0 };
  let last = Date.now();
  setInterval(() => { const n = Date.now(); hs.lagMax = Math.max(hs.lagMax, n - last - 100); last = n; }, 100).unref();
  srv.on('connection', (sock) => { sock.t0 = Date.now(); hs.conns++; });
  srv.on('secureConnection', (sock) => { const d = Date.now() - (sock.t0 ?? Date.now()); hs.n++; if (d > 1000) hs.slow++; hs.max = Math.max(hs.max, d); });
  srv.on('session', (se) => {
    hs.sessions++;
    se.on('stream', (st) => st.on('close', () => { if (st.rstCode) hs[`rst${st.rstCode}`] = (hs[`rst${st.rstCode}`] ?? 0) + 1; }));
    se.on('close', () => { hs.closed++; });
    se.on('goaway', (c) => process.stderr.write(`peer goaway ${c}\n`));
  });
  setInterval(() => process.stderr.write(`tls ${name} ${JSON.stringify(hs)}\n`), 2000).unref();
}

// The stream host alone. Same events, ids and timing as the test suite's fake
// for a scenario of tokenCount tokens ending in success.
async function serveStreams(o) {
  const s = o.scenario;
  const count = s.tokenCount ?? 3;
  const first = s.firstTokenDelay ?? 0, every = s.tokenDelay ?? 0;
  const handler = (req, res) => {
    const path = req.url.split('?')[0];
    if (req.method !== 'GET' || !/^\/v1\/streams\/[a-z0-9]+$/.test(path)) {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end('{"detail":"Not found","status":404}');
      return;
    }
    const h2 = req.httpVersionMajor === 2;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no',
      ...(h2 ? {} : { Connection: 'keep-alive' }),
    });
    res.write(': hi\n\n');
    const idBase = Math.floor(Date.now() / 1000);
    let i = 0;
    let timer = null;
    // Token k is due at first + k * every from the stream's opening, on its
    // own clock: a timer re-armed `every` after each write drifts late by
    // its lateness, and drifting streams bunch into ever larger bursts of
    // writes (5,000 opened at once: the median latency of the direct run
    // grew from 0.02 to 1 ms over 20 s), which real predictions do not do.
    const opened = performance.now();
    const due = (k) => Math.max(0, opened + first + k * every - performance.now());
    const step = () => {
      if (res.destroyed) return;
      if (i < count) {
        res.write(sseEvent('output', `${idBase}:${i}`, now()));
        i++;
        timer = setTimeout(step, i < count ? due(i) : 0);
        return;
      }
      res.write(sseEvent('done', `${idBase}:${i}`, '{}'));
      // held open after done, as Replicate does, until the client goes
      timer = setTimeout(() => { if (!res.destroyed) res.end(':408: 408 Request Timeout\n\n'); }, o.hold);
    };
    timer = setTimeout(step, due(0));
    res.on('close', () => clearTimeout(timer));
  };
  const tls = tlsFiles(o);
  const srv = !tls
    ? http.createServer({ keepAliveTimeout: 60000, requestTimeout: 0 }, handler)
    : http2.createSecureServer({ ...tls, allowHTTP1: true, maxSessionMemory: 512, settings: { maxConcurrentStreams: MAX_STREAMS } }, handler);
  if (!o.http2 && tls) throw new Error('--role streams over TLS serves HTTP/2 (add --http2)');
  if (process.env.FAKE_TLS_TRACE && tls) trace(srv, 'stream');
  const sockets = new Set();
  srv.on('connection', (sock) => {
    sock.setNoDelay(true);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise((ok, ko) => { srv.once('error', ko); srv.listen(o.streamPort, '127.0.0.1', 4096, ok); });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${srv.address().port}`;
  process.stdout.write(`ready - ${url}\n`);
  return { close: () => new Promise((r) => { srv.close(() => r()); for (const c of sockets) c.destroy(); }) };
}

function stamped(chunks) {
  return new Proxy(chunks, {
    get(target, prop, recv) {
      if (typeof prop === 'string' && prop.length && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) {
        const i = Number(prop);
        if (Number.isInteger(i) && i >= 0 && i < target.length) return now();
      }
      return Reflect.get(target, prop, recv);
    },
  });
}

async function serveApi(o) {
  const tls = tlsFiles(o);
  // api role: no stream is open in this process, so the test fake would call
  // a prediction succeeded at its first GET, and a proxy that GETs it while
  // its stream runs (a create looked up in the list after a lost reply) would
  // get every token at once. It turns terminal instead when the stream host,
  // opened after the create, has sent the last token.
  const s = o.scenario;
  const scenario = o.role !== 'api' ? s : {
    ...s,
    streamBase: o.streamBase,
    terminalAfterMs: (s.firstTokenDelay ?? 0) + Math.max(0, (s.tokenCount ?? 3) - 1) * (s.tokenDelay ?? 0),
  };
  const fake = await startFake({
    tls: tls ?? undefined,
    http2: !!o.http2,
    maxConcurrentStreams: MAX_STREAMS,
    host: '127.0.0.1',
    port: o.port,
    streamPort: o.role === 'api' ? 0 : o.streamPort,
    log: false,
    streamHoldMs: o.hold,
    defaultScenario: scenario,
  });
  const preds = fake.predictions;
  const origSet = preds.set.bind(preds);
  preds.set = (id, p) => {
    p.chunks = stamped(p.chunks);
    return origSet(id, p);
  };
  process.stdout.write(`ready ${fake.url} ${o.role === 'api' ? o.streamBase : fake.streamUrl}\n`);
  return fake;
}

const o = args(process.argv.slice(2));
const server = o.role === 'streams' ? await serveStreams(o) : await serveApi(o);
const stop = async () => { await Promise.race([server.close(), new Promise((r) => setTimeout(r, 1000))]); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
