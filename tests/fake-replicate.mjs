// A fake Replicate predictions API, written from shared/docs/replicate-api.md (§9).
//
// Module use (tests run in-process with the fake):
//   import { startFake } from './fake-replicate.mjs';
//   const fake = await startFake({ tokens: ['r8_good'] });
//   fake.script({ output: ['Hel', 'lo'], polls: 2 });    // next prediction
//   ... drive the proxy against fake.url ...
//   fake.creates()[0].body.input                         // what the proxy sent
//   await fake.close();
//
// Standalone (manual runs, benchmarks):
//   node tests/fake-replicate.mjs --port 8080 [--stream-port 8081] [--host 127.0.0.1]
//        [--tokens r8_a,r8_b] [--scenario '{"tokenDelay":20}'] [--stream-hold MS]
//        [--raw-streams] [--no-log] [--quiet]
//   GET /v1/predictions lists the predictions, newest first ({next, previous, results}),
//   opts.listPageSize (default 100, as Replicate) a page, `next` a cursor URL;
//   FAKE_TLS_TRACE=1 (TLS only): every 2 s on stderr, per server, connections
//   accepted, handshakes done, sessions, resets received by code and the event
//   loop's worst lag; session errors and closes as they happen (benchmarks).
//   fake.listFaults: faults (as getFaults) for the next list requests; a function
//   there runs before the list is answered (fake.listPageSize: the page size).
//   control routes on the API port: POST /_fake/script (a scenario or an array),
//   POST /_fake/default, POST /_fake/reset, POST /_fake/tokens (array or null),
//   GET /_fake/log, GET /_fake/stats.
//
// Two servers, as Replicate has: the API (creates, get, cancel, model) and a stream
// server on another port whose URLs have another shape (/v1/streams/<token>).
//
// Scenario (all optional; applies to one prediction, queued with script()):
//   output          array of string chunks (default DEFAULT_OUTPUT), or a function
//                   (input, body) => array; or use tokenCount + token (benchmarks).
//   outputShape     'array' (default) | 'string' (output joined into one string).
//   metrics         object merged over the default terminal metrics
//                   {predict_time, total_time, input_token_count: 12,
//                    output_token_count: <number of chunks>, ...};
//                   null: only predict_time/total_time (no token counts);
//                   false: no metrics key at all.
//                   A prediction canceled after it produced output reports what it
//                   consumed too (Replicate bills a canceled language model by its
//                   tokens): input_token_count 12, output_token_count = chunks
//                   produced, merged with `metrics` (canceled before any output:
//                   only the times, as the cancel reply in replicate-api.md §4).
//   cancelLagMs     a cancel is applied this long after it is asked (the reply and
//                   GETs meanwhile still say 'processing'), as a running model stops.
//   syncStatus      reply to a create sent with `Prefer: wait`:
//                   'processing' (default, the real behaviour: full output, no metrics),
//                   'starting' (no output) or 'terminal' (final status + metrics).
//                   Without `Prefer` the reply is always 'starting'.
//   polls           the Nth GET returns the terminal state (default 1); earlier GETs
//                   return 'processing' (or 'starting' for the first startingPolls).
//   startingPolls   how many of the non-terminal GETs say 'starting' (default 0).
//   terminalAfterMs instead of polls: terminal once this long after the create.
//   createDelay     ms before the create is answered; pollDelay: ms before each GET.
//   status          final status: 'succeeded' (default), 'failed', 'canceled', 'aborted'.
//   error           error text for 'failed' (default "E1001 out of memory").
//   http            {status, body, headers}: answer the create with this HTTP reply
//                   (body: object → JSON, string → as is; default body per status, §6).
//   getHttp         same for GETs of this prediction.
//   dataRemoved     terminal reply has data_removed: true, output null, input {}.
//   model, version  reported model (default the requested one) and version ('hidden').
//   match           string (prompt must contain it) or function(body) → bool: only a
//                   create that matches takes this scenario from the queue.
//   Streams (GET urls.stream):
//   noStream        no urls.stream in the prediction.
//   firstTokenDelay ms after `: hi` before the first output event (cold start).
//   tokenDelay      ms between output events.
//   dropAfter       destroy the connection after this many output events (no `done`).
//   holdAfterDone   ms the connection is held open after `done` before
//                   `:408: 408 Request Timeout` and close (default opts.streamHoldMs,
//                   30000); clients must close on `done`, not wait for EOF.
//   streamExtras    also send a `retry:` line and a `logs` event (to be ignored).
//   streamAuth      require Authorization on the stream (default false).
//   streamHttp      {status, body, headers}: answer the stream GET with this HTTP reply.
//   streamBase      base URL reported in urls.stream instead of the stream server's
//                   (e.g. a closed port); the path stays /v1/streams/<token>.
//   getBase         base URL reported in urls.get instead of the API's (e.g. a closed
//                   port: polls fail to connect).
//   statusLag       after the stream's `done`, this many GETs still say 'processing'
//                   (full output, no metrics) before the terminal state, as Replicate
//                   may lag behind its stream (only for a 'succeeded' ending).
//   burst           output events written per timer tick (default 1); with burst > 1
//                   the writer also waits for the socket to drain (fast large streams
//                   whose reader may stop: the fake itself stays bounded).
//   Faults (issue 7; each applies to this prediction only):
//   createFault     'reset-after-create': the prediction is created, then the
//                   connection is destroyed without an answer; 'reset-before-create':
//                   destroyed without creating anything; 'cut-after-headers': created,
//                   201 and half the body sent, then destroyed. Later creates of the same
//                   scenario object are not affected (a resend takes a new scenario).
//                   Over HTTP/2 only (opts.http2): 'h2-rst-after-create' resets the
//                   create's stream (INTERNAL_ERROR) once the prediction exists;
//                   'h2-goaway-after-create' creates it, then sends GOAWAY with a last
//                   stream id below this stream's (claiming it was not processed: a
//                   client may retry it) and closes the session; 'h2-refused-after-create'
//                   creates it, then resets the stream with REFUSED_STREAM (which says it
//                   was not processed: curl sends it again on a new connection).
//   getFaults       array, consumed one per GET of the prediction: {status, body,
//                   headers} (an HTTP reply, as getHttp) or 'reset' (connection
//                   destroyed); once empty, GETs are answered normally.
//   cancelFaults    the same for POST .../cancel (a reset cancel is not applied;
//                   an HTTP-error one is not either).
//   rawStream       write the stream straight to the socket (Connection: close, no
//                   chunked encoding; cheaper); default opts.rawStreams (false).
//
// The request log (fake.log): {seq, server:'api'|'stream', kind, method, path,
// headers (lower-case), rawBody, body (parsed JSON or undefined), time (ms),
// predictionId, status (the status code answered)}; stream entries also get
// doneAt, closedAt and closedBy ('client'|'server'|'drop'), and events: one
// {type, data, at} per SSE event written (at: Date.now() when written).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const DEFAULT_OUTPUT = ['Hello', '!', ' How can', ' I help', ' you', ' today?', ''];
export const DEFAULT_MODEL = 'deepseek-ai/deepseek-v3.1';

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'aborted']);
const CREATE_KEYS = new Set(['input', 'stream', 'webhook', 'webhook_events_filter', 'webhook_completed']);
// The model's declared inputs (replicate-api.md §7) and their JSON types.
export const INPUT_SCHEMA = {
  prompt: 'string',
  thinking: 'thinking',
  max_tokens: 'integer',
  temperature: 'number',
  top_p: 'number',
  presence_penalty: 'number',
  frequency_penalty: 'number',
};

export const ERROR_BODIES = {
  400: { detail: 'Bad request', status: 400 },
  401: { title: 'Unauthenticated', detail: 'You did not pass a valid authentication token', status: 401 },
  402: {
    title: 'Billing required',
    detail: 'You need to set up billing to run this model. Go to https://replicate.com/account/billing#billing to set it up. If you have recently set up billing, please wait a few minutes before trying again.',
    status: 402,
  },
  403: { title: 'Forbidden', detail: 'You do not have permission to perform this action.', status: 403 },
  404: { detail: 'The requested resource could not be found.', status: 404 },
  422: { title: 'Input validation failed', detail: '- input: prompt is required\n', status: 422 },
  429: { detail: 'Request was throttled. Expected available in 1 second.', status: 429 },
  500: { detail: 'Internal server error', status: 500 },
  502: { detail: 'Bad gateway', status: 502 },
  503: { detail: 'Service unavailable', status: 503 },
};

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomId(len) {
  const b = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += ALNUM[b[i] % 36];
  return s;
}

function iso(ms) {
  return new Date(ms).toISOString().replace('Z', '123Z'); // microsecond-ish precision, as Replicate
}

function problem(status, extra) {
  return { ...(ERROR_BODIES[status] ?? { detail: `HTTP ${status}`, status }), ...extra };
}

// One SSE event; data lines split on any line break (the SSE way to carry "\n").
export function sseEvent(type, id, data) {
  const lines = String(data).split(/\r\n|\r|\n/);
  let s = `event: ${type}\nid: ${id}\n`;
  for (const l of lines) s += `data: ${l}\n`;
  return s + '\n';
}

function parseDuration(s) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(String(s).trim());
  if (!m || (!m[1] && !m[2] && !m[3])) return null;
  return ((+m[1] || 0) * 3600 + (+m[2] || 0) * 60 + (+m[3] || 0)) * 1000;
}

export async function startFake(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const state = {
    tokens: opts.tokens ? new Set(opts.tokens) : null, // null: any non-empty token
    queue: [],
    defaultScenario: opts.defaultScenario ?? {},
    models: new Set(opts.models ?? [DEFAULT_MODEL]),
    logEnabled: opts.log !== false,
    streamHoldMs: opts.streamHoldMs ?? 30000,
    rawStreams: !!opts.rawStreams,
  };
  const log = [];
  const predictions = new Map(); // id → prediction
  const streamTokens = new Map(); // stream token → prediction
  const cancels = []; // prediction ids, in order
  const listFaults = []; // faults for the next GET /v1/predictions (as getFaults)
  let listPageSize = opts.listPageSize ?? 100; // predictions per list page, as Replicate
  const unknownInputKeys = []; // {predictionId, key}
  const sockets = new Set();
  let connectionsOpened = 0; // TCP connections accepted, both servers
  const timers = new Set();
  const openStreams = new Set();
  let seq = 0;
  let predictionSeq = 0;

  function later(ms, fn) {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
    return t;
  }
  function clearLater(t) { if (t) { clearTimeout(t); timers.delete(t); } }

  function record(entry) {
    entry.seq = ++seq;
    if (state.logEnabled) log.push(entry);
    return entry;
  }

  // ---------------------------------------------------------------- servers
  // opts.tls {key, cert} (PEM, e.g. from makeTestCA): both servers speak TLS; with
  // opts.http2 they offer HTTP/2 by ALPN (and HTTP/1.1 to clients without it),
  // at most opts.maxConcurrentStreams (default 256) streams per connection.
  const makeServer = (name) => {
    const handler = (req, res) => handle(req, res, name);
    if (!opts.tls) return http.createServer({ keepAliveTimeout: 60000, requestTimeout: 0 }, handler);
    if (!opts.http2) return https.createServer({ ...opts.tls, keepAliveTimeout: 60000, requestTimeout: 0 }, handler);
    // maxSessionMemory: node's default (10 MB a session) makes it refuse
    // streams well under the maxConcurrentStreams it advertises, and after 100
    // refusals kill the whole session (every stream on it) with "The user
    // callback function failed"; a real HTTP/2 server honours what it
    // advertises, so the fake gives each session room for that many streams.
    return http2.createSecureServer({
      ...opts.tls, allowHTTP1: true, maxSessionMemory: 512,
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 256 },
    }, handler);
  };
  const api = makeServer('api');
  const stream = makeServer('stream');
  for (const srv of [api, stream]) {
    if (process.env.FAKE_TLS_TRACE && opts.tls) {
      const hs = { conns: 0, n: 0, slow: 0, max: 0, sessions: 0, closed: 0, lagMax: 0 };
      let last = Date.now();
      setInterval(() => { const n = Date.now(); hs.lagMax = Math.max(hs.lagMax, n - last - 100); last = n; }, 100).unref();
      srv.on('connection', (sock) => { sock.t0 = Date.now(); hs.conns++; });
      srv.on('secureConnection', (sock) => { const d = Date.now() - (sock.t0 ?? Date.now()); hs.n++; if (d > 1000) hs.slow++; hs.max = Math.max(hs.max, d); });
      srv.on('session', (se) => {
        hs.sessions++;
        let streams = 0;
        se.on('stream', (st) => { streams++; st.on('close', () => { if (st.rstCode) hs[`rst${st.rstCode}`] = (hs[`rst${st.rstCode}`] ?? 0) + 1; }); });
        se.on('close', () => { hs.closed++; process.stderr.write(`session closed after ${streams} streams\n`); });
        se.on('error', (e) => process.stderr.write(`session error ${e.code} ${e.message}\n`));
        se.on('frameError', (t, c) => process.stderr.write(`frame error ${t} ${c}\n`));
        se.on('goaway', (c) => process.stderr.write(`peer goaway ${c}\n`));
      });
      srv.on('sessionError', (e) => process.stderr.write(`sessionError ${e.code} ${e.message}\n`));
      setInterval(() => process.stderr.write(`tls ${srv === api ? 'api' : 'stream'} ${JSON.stringify(hs)}\n`), 2000).unref();
    }
    srv.maxHeadersCount = 200;
    srv.on('connection', (sock) => {
      sockets.add(sock);
      connectionsOpened++;
      sock.setNoDelay(true);
      sock.on('close', () => sockets.delete(sock));
    });
  }
  await Promise.all([
    new Promise((ok, ko) => { api.once('error', ko); api.listen(opts.port ?? 0, host, 4096, ok); }),
    new Promise((ok, ko) => { stream.once('error', ko); stream.listen(opts.streamPort ?? 0, host, 4096, ok); }),
  ]);
  const scheme = opts.tls ? 'https' : 'http';
  const url = `${scheme}://${host}:${api.address().port}`;
  const streamUrl = `${scheme}://${host}:${stream.address().port}`;

  function handle(req, res, server) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body;
      if (rawBody.length) { try { body = JSON.parse(rawBody); } catch { body = undefined; } }
      const path = req.url.split('?')[0];
      const entry = {
        server, kind: 'other', method: req.method, path, url: req.url,
        headers: { ...req.headers }, rawBody, body, time: Date.now(), predictionId: null, status: null,
        httpVersion: req.httpVersion,
      };
      const send = (status, obj, headers = {}) => {
        entry.status = status;
        if (res.destroyed) return;
        const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
        const h = {
          'content-type': status >= 400 && typeof obj !== 'string' ? 'application/problem+json' : 'application/json; charset=UTF-8',
        };
        for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
        h['content-length'] = Buffer.byteLength(text);
        res.writeHead(status, h);
        res.end(text);
      };
      try {
        if (server === 'stream') return handleStream(req, res, entry, send);
        return handleApi(req, res, entry, send);
      } catch (e) {
        send(500, { detail: `fake-replicate bug: ${e.stack}`, status: 500 });
      } finally {
        record(entry);
      }
    });
  }

  function auth(req) {
    const h = req.headers.authorization;
    if (!h) return null;
    const m = /^(Bearer|Token) (.+)$/.exec(h);
    if (!m) return null;
    const token = m[2].trim();
    if (!token) return null;
    if (state.tokens && !state.tokens.has(token)) return null;
    return token;
  }

  const RL = (remaining) => ({ 'ratelimit-remaining': String(remaining), 'ratelimit-reset': '1' });

  function handleApi(req, res, entry, send) {
    const { method, path } = entry;
    // Control routes (standalone mode; also usable in-process).
    if (path.startsWith('/_fake/')) {
      entry.kind = 'control';
      return control(method, path, entry.body, send);
    }
    let m;
    const route = (re) => (m = re.exec(path));
    if (method === 'POST' && route(/^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/)) {
      entry.kind = 'create';
      if (!auth(req)) return send(401, problem(401));
      const model = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      if (!state.models.has(model)) return send(404, problem(404));
      return create(req, res, entry, send, { model, allowVersion: false });
    }
    if (method === 'POST' && route(/^\/v1\/deployments\/([^/]+)\/([^/]+)\/predictions$/)) {
      entry.kind = 'create';
      if (!auth(req)) return send(401, problem(401));
      return create(req, res, entry, send, { model: `${m[1]}/${m[2]}`, allowVersion: false, deployment: `${m[1]}/${m[2]}` });
    }
    if (method === 'POST' && path === '/v1/predictions') {
      entry.kind = 'create';
      if (!auth(req)) return send(401, problem(401));
      return create(req, res, entry, send, { model: null, allowVersion: true });
    }
    if (method === 'GET' && path === '/v1/predictions') {
      entry.kind = 'list';
      if (!auth(req)) return send(401, problem(401));
      // A function in listFaults runs first (e.g. to make newer predictions),
      // then the list is answered as usual.
      if (listFaults.length && typeof listFaults[0] !== 'function') return fault(req, entry, send, listFaults.shift());
      if (listFaults.length) listFaults.shift()();
      // Pages as Replicate's: newest first, listPageSize (100) a page, `next` the
      // URL of the older page (a cursor naming the last entry shown: entries
      // created meanwhile do not shift it).
      const size = listPageSize;
      let all = [...predictions.values()].sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
      const cursor = new URL(req.url, 'http://x').searchParams.get('cursor');
      if (cursor) {
        const [at, sq] = Buffer.from(cursor, 'base64url').toString().split(':').map(Number);
        all = all.filter((p) => p.createdAt < at || (p.createdAt === at && p.seq < sq));
      }
      const page = all.slice(0, size);
      const last = page.at(-1);
      const host = req.headers.host ?? req.headers[':authority'];
      const next = all.length > size
        ? `${scheme}://${host}/v1/predictions?cursor=${Buffer.from(`${last.createdAt}:${last.seq}`).toString('base64url')}` : null;
      return send(200, { next, previous: null, results: page.map(view) }, RL(2999));
    }
    if (method === 'GET' && route(/^\/v1\/predictions\/([^/]+)$/)) {
      entry.kind = 'get';
      entry.predictionId = m[1];
      if (!auth(req)) return send(401, problem(401));
      const p = predictions.get(m[1]);
      if (!p) return send(404, problem(404));
      if (p.scenario.getFaults?.length) return fault(req, entry, send, p.scenario.getFaults.shift());
      p.gets++;
      const reply = () => {
        if (p.scenario.getHttp) return sendScripted(send, p.scenario.getHttp);
        advanceOnGet(p);
        send(200, view(p), RL(2999));
      };
      const d = p.scenario.pollDelay ?? 0;
      if (d > 0) return later(d, reply);
      return reply();
    }
    if (method === 'POST' && route(/^\/v1\/predictions\/([^/]+)\/cancel$/)) {
      entry.kind = 'cancel';
      entry.predictionId = m[1];
      if (!auth(req)) return send(401, problem(401));
      const p = predictions.get(m[1]);
      if (!p) return send(404, problem(404));
      if (p.scenario.cancelFaults?.length) return fault(req, entry, send, p.scenario.cancelFaults.shift());
      cancels.push(p.id);
      if (p.scenario.cancelLagMs && !TERMINAL.has(p.status)) {
        p.cancelPending = true; // GETs no longer move it on: it is stopping
        later(p.scenario.cancelLagMs, () => cancel(p));
      }
      else cancel(p);
      return send(200, view(p), RL(2999));
    }
    if (method === 'GET' && route(/^\/v1\/models\/([^/]+)\/([^/]+)$/)) {
      entry.kind = 'model';
      if (!auth(req)) return send(401, problem(401));
      const model = `${m[1]}/${m[2]}`;
      if (!state.models.has(model)) return send(404, problem(404));
      return send(200, modelObject(model), RL(2999));
    }
    return send(404, problem(404));
  }

  // A scripted fault: 'reset' destroys the connection, an object is an HTTP reply.
  function fault(req, entry, send, f) {
    if (f === 'reset') {
      entry.status = 'reset';
      req.socket.destroy();
      return;
    }
    return sendScripted(send, f);
  }

  function sendScripted(send, h) {
    const status = h.status ?? 500;
    let body = h.body === undefined ? problem(status) : h.body;
    const headers = { ...(h.headers ?? {}) };
    if (typeof body === 'string' && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json; charset=UTF-8';
    }
    send(status, body, headers);
  }

  function takeScenario(body) {
    const prompt = body?.input?.prompt;
    const i = state.queue.findIndex((s) => {
      if (s.match === undefined) return true;
      if (typeof s.match === 'function') return !!s.match(body);
      return typeof prompt === 'string' && prompt.includes(s.match);
    });
    if (i < 0) return { ...state.defaultScenario };
    return state.queue.splice(i, 1)[0];
  }

  function validateCreate(body, { allowVersion }) {
    const errs = [];
    const fields = [];
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { status: 400, body: { detail: 'Request body must be a JSON object', status: 400 } };
    }
    if (allowVersion && body.version === undefined) {
      errs.push('- version is required');
      fields.push({ type: 'required', field: '(root)', description: 'version is required' });
    }
    for (const k of Object.keys(body)) {
      if (CREATE_KEYS.has(k) || (allowVersion && k === 'version')) continue;
      errs.push(`- Additional property ${k} is not allowed`);
      fields.push({ type: 'additional_property_not_allowed', field: '(root)', description: `Additional property ${k} is not allowed` });
    }
    const input = body.input;
    if (input === undefined) {
      errs.push('- input is required');
      fields.push({ type: 'required', field: '(root)', description: 'input is required' });
    } else if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      errs.push('- input: Invalid type. Expected: object');
      fields.push({ type: 'invalid_type', field: 'input', description: 'Invalid type. Expected: object' });
    } else {
      if (input.prompt === undefined) {
        errs.push('- input: prompt is required');
        fields.push({ type: 'required', field: 'input', description: 'prompt is required' });
      }
      for (const [k, v] of Object.entries(input)) {
        const t = INPUT_SCHEMA[k];
        if (!t) continue; // unknown keys are ignored (recorded by the caller)
        let ok;
        if (t === 'string') ok = typeof v === 'string';
        else if (t === 'integer') ok = Number.isInteger(v);
        else if (t === 'number') ok = typeof v === 'number' && Number.isFinite(v);
        else if (t === 'thinking') ok = v === 'medium' || v === 'None';
        if (!ok) {
          const d = t === 'thinking' ? 'input.thinking must be one of the following: "medium", "None"' : `Invalid type. Expected: ${t}, given: ${v === null ? 'null' : typeof v}`;
          errs.push(`- input.${k}: ${d}`);
          fields.push({ type: t === 'thinking' ? 'enum' : 'invalid_type', field: `input.${k}`, description: d });
        }
      }
    }
    if (!errs.length) return null;
    return {
      status: 422,
      body: { detail: errs.join('\n') + '\n', status: 422, title: 'Input validation failed', invalid_fields: fields },
    };
  }

  function create(req, res, entry, send, route) {
    if (entry.rawBody.length && entry.body === undefined) {
      return send(400, { detail: 'Invalid JSON in request body', status: 400 });
    }
    const prefer = req.headers.prefer;
    if (prefer !== undefined && !/^wait(=([1-9]|[1-9][0-9]|60))?$/.test(prefer)) {
      return send(422, { detail: `- Prefer: Does not match pattern '^wait(=([1-9]|[1-9][0-9]|60))?$'\n`, status: 422, title: 'Invalid request' });
    }
    const bad = validateCreate(entry.body, route);
    if (bad) return send(bad.status, bad.body);
    const body = entry.body;
    const scenario = takeScenario(body);
    entry.scenario = scenario;
    const reply = () => {
      if (scenario.http) return sendScripted(send, scenario.http);
      if (scenario.createFault === 'reset-before-create') {
        entry.status = 'reset';
        return req.socket.destroy();
      }
      const p = newPrediction(body, scenario, route, req);
      entry.predictionId = p.id;
      if (scenario.createFault === 'reset-after-create') {
        entry.status = 'reset';
        return req.socket.destroy();
      }
      if (scenario.createFault === 'h2-rst-after-create' && req.stream) {
        entry.status = 'rst';
        return req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      }
      if (scenario.createFault === 'h2-refused-after-create' && req.stream) {
        entry.status = 'refused';
        return req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      }
      if (scenario.createFault === 'h2-goaway-after-create' && req.stream) {
        entry.status = 'goaway';
        const { session, id } = req.stream;
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, Math.max(0, id - 2));
        return later(50, () => session.destroy());
      }
      const headers = RL(599);
      if (prefer !== undefined) headers['Preference-Applied'] = prefer;
      if (prefer !== undefined) {
        const sync = scenario.syncStatus ?? 'processing';
        if (sync === 'terminal') finalize(p);
        else if (sync === 'processing') { p.status = 'processing'; p.startedAt = p.createdAt + 1; p.visible = p.chunks.length; }
        else p.status = 'starting';
      }
      if (scenario.createFault === 'cut-after-headers') {
        // 201 and half the body, then the connection dies: the reply began, so the
        // prediction surely exists, but the client cannot read it.
        entry.status = 'cut';
        const text = JSON.stringify(view(p));
        res.writeHead(201, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, text.length >> 1));
        return later(20, () => req.socket.destroy());
      }
      send(201, view(p), headers);
    };
    const d = scenario.createDelay ?? 0;
    if (d > 0) return later(d, reply);
    return reply();
  }

  function newPrediction(body, scenario, route, req) {
    const id = randomId(26);
    const input = body.input;
    let chunks;
    if (typeof scenario.output === 'function') chunks = scenario.output(input, body);
    else if (Array.isArray(scenario.output)) chunks = scenario.output;
    else if (scenario.tokenCount !== undefined) chunks = Array.from({ length: scenario.tokenCount }, () => scenario.token ?? ' tok');
    else chunks = DEFAULT_OUTPUT;
    chunks = chunks.map(String);
    const unknown = Object.keys(input).filter((k) => !INPUT_SCHEMA[k]);
    for (const key of unknown) unknownInputKeys.push({ predictionId: id, key });
    const p = {
      id,
      seq: ++predictionSeq,
      scenario,
      input,
      model: scenario.model ?? route.model ?? (typeof body.version === 'string' && body.version.includes('/') ? body.version.split(':')[0] : 'replicate/unknown'),
      version: scenario.version ?? (route.allowVersion ? String(body.version).split(':').pop() : 'hidden'),
      deployment: route.deployment,
      chunks,
      visible: 0, // chunks visible in non-terminal replies
      status: 'starting',
      error: null,
      createdAt: Date.now(),
      startedAt: null,
      completedAt: null,
      gets: 0,
      streamToken: scenario.noStream ? null : randomId(52),
      streamActive: 0,
      streamDone: false,
      listeners: new Set(), // streams to wake on cancel
      unknownInputKeys: unknown,
      webhook: body.webhook,
      deadline: null,
    };
    const ca = req.headers['cancel-after'];
    if (ca !== undefined) {
      const ms = parseDuration(ca);
      if (ms !== null) p.deadline = iso(p.createdAt + ms);
    }
    predictions.set(id, p);
    if (p.streamToken) streamTokens.set(p.streamToken, p);
    return p;
  }

  function finalize(p, status) {
    if (TERMINAL.has(p.status)) return;
    const s = p.scenario;
    p.status = status ?? s.status ?? 'succeeded';
    p.startedAt ??= p.createdAt + 1;
    p.completedAt = Date.now();
    if (p.status === 'succeeded') p.visible = p.chunks.length;
    if (p.status === 'failed') p.error = s.error ?? 'E1001 out of memory';
    for (const l of p.listeners) l();
  }

  function cancel(p) {
    if (TERMINAL.has(p.status)) return;
    finalize(p, 'canceled');
  }

  function advanceOnGet(p) {
    if (TERMINAL.has(p.status) || p.cancelPending) return;
    const s = p.scenario;
    if (p.lagLeft !== undefined) { // the stream said done; the API lags behind
      if (p.lagLeft > 0) { p.lagLeft--; return; }
      return finalize(p);
    }
    const due = s.terminalAfterMs !== undefined ? Date.now() - p.createdAt >= s.terminalAfterMs : p.gets >= (s.polls ?? 1);
    if (due && !p.streamActive) return finalize(p);
    if (p.gets <= (s.startingPolls ?? 0) && !p.streamActive) { p.status = 'starting'; return; }
    p.status = 'processing';
    p.startedAt ??= Date.now();
    if (!p.streamActive && s.terminalAfterMs === undefined) {
      // output grows poll by poll (already complete after a 'processing' sync reply)
      p.visible = Math.max(p.visible, Math.floor((p.chunks.length * p.gets) / Math.max(s.polls ?? 1, 1)));
    }
  }

  function view(p) {
    const s = p.scenario;
    const terminal = TERMINAL.has(p.status);
    const removed = terminal && s.dataRemoved;
    let output = null;
    if (removed || p.status === 'starting') output = null;
    else if (p.status === 'succeeded') output = p.chunks.slice();
    else if (p.status === 'processing') output = p.chunks.slice(0, p.visible);
    else output = p.visible > 0 ? p.chunks.slice(0, p.visible) : null; // failed/canceled/aborted
    if (output && s.outputShape === 'string') output = output.join('');
    const o = {
      id: p.id,
      model: p.model,
      version: p.version,
      input: removed ? {} : p.input,
      logs: removed ? '' : (p.status === 'starting' ? '' : 'Loading model...\n'),
      output,
      data_removed: !!removed,
      error: p.error,
      source: 'api',
      status: p.status,
      created_at: iso(p.createdAt),
    };
    if (p.startedAt) o.started_at = iso(p.startedAt);
    if (terminal) o.completed_at = iso(p.completedAt);
    if (p.deadline) o.deadline = p.deadline;
    if (p.deployment) o.deployment = p.deployment;
    if (p.webhook) o.webhook = p.webhook;
    o.urls = {
      cancel: `${url}/v1/predictions/${p.id}/cancel`,
      get: `${s.getBase ?? url}/v1/predictions/${p.id}`,
      web: `https://replicate.com/p/${p.id}`,
    };
    if (p.streamToken) o.urls.stream = `${s.streamBase ?? streamUrl}/v1/streams/${p.streamToken}`;
    if (terminal && s.metrics !== false) {
      const secs = Math.max(0.001, (p.completedAt - p.createdAt) / 1000);
      const base = { predict_time: +(secs * 0.9).toFixed(6), total_time: +secs.toFixed(6) };
      if (s.metrics !== null && p.status === 'succeeded') {
        Object.assign(base, {
          input_token_count: 12,
          output_token_count: p.chunks.length,
          time_to_first_token: 0.05,
          tokens_per_second: 42.5,
        }, s.metrics ?? {});
      } else if (s.metrics !== null && p.status === 'canceled' && p.visible > 0) {
        Object.assign(base, { input_token_count: 12, output_token_count: p.visible }, s.metrics ?? {});
      } else if (s.metrics) {
        Object.assign(base, s.metrics);
      }
      o.metrics = base;
    }
    return o;
  }

  function modelObject(model) {
    const [owner, name] = model.split('/');
    return {
      url: `https://replicate.com/${model}`,
      owner,
      name,
      description: 'Latest hybrid thinking model from Deepseek',
      visibility: 'public',
      github_url: null,
      paper_url: null,
      license_url: null,
      run_count: 123456,
      cover_image_url: null,
      default_example: null,
      is_official: true,
      latest_version: {
        id: 'f257f380598d0760ba84e7d4b02532d3a45b03ede80096f516e81d68b375aff3',
        created_at: '2025-08-25T00:00:00.000000Z',
        cog_version: '0.14.0',
        openapi_schema: {
          components: {
            schemas: {
              Input: {
                type: 'object',
                title: 'Input',
                properties: {
                  prompt: { type: 'string', title: 'Prompt', default: 'Why are you better than Deepseek v3?', 'x-order': 0 },
                  thinking: { enum: ['medium', 'None'], type: 'string', title: 'thinking', default: 'None', 'x-order': 1 },
                  max_tokens: { type: 'integer', title: 'Max Tokens', default: 1024, 'x-order': 2 },
                  temperature: { type: 'number', title: 'Temperature', default: 0.1, 'x-order': 3 },
                  top_p: { type: 'number', title: 'Top P', default: 1, 'x-order': 4 },
                  presence_penalty: { type: 'number', title: 'Presence Penalty', default: 0, 'x-order': 5 },
                  frequency_penalty: { type: 'number', title: 'Frequency Penalty', default: 0, 'x-order': 6 },
                },
              },
              Output: { type: 'array', items: { type: 'string' }, title: 'Output', 'x-cog-array-type': 'iterator', 'x-cog-array-display': 'concatenate' },
            },
          },
        },
      },
    };
  }

  // ----------------------------------------------------------------- streams
  function handleStream(req, res, entry, send) {
    const m = /^\/v1\/streams\/([a-z0-9]+)$/.exec(entry.path);
    entry.kind = 'stream';
    if (req.method !== 'GET' || !m) return send(404, problem(404));
    const p = streamTokens.get(m[1]);
    if (!p) return send(404, problem(404));
    entry.predictionId = p.id;
    const s = p.scenario;
    if (s.streamAuth && !auth(req)) return send(401, problem(401));
    if (s.streamHttp) return sendScripted(send, s.streamHttp);
    entry.status = 200;
    // Two ways to send: through http.ServerResponse (chunked, keep-alive: the faithful
    // default) or straight to the socket (no chunking, Connection: close; about half
    // the CPU per event, for benchmarks: opts.rawStreams or scenario.rawStream).
    const h2 = req.httpVersionMajor === 2; // no raw socket, no connection headers
    const raw = !h2 && (s.rawStream ?? state.rawStreams);
    const sock = req.socket;
    const out = raw
      ? {
        write: (t) => { if (!sock.destroyed) sock.write(t); },
        end: (t) => { if (!sock.destroyed) sock.end(t); },
        get destroyed() { return sock.destroyed; },
      }
      : {
        write: (t) => { if (!res.destroyed) res.write(t); },
        end: (t) => { if (!res.destroyed) res.end(t); },
        get destroyed() { return res.destroyed; },
      };
    const extra = s.streamExtras ? 'retry: 3000\n\n' : '';
    if (raw) {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n' +
        `X-Accel-Buffering: no\r\nDate: ${new Date().toUTCString()}\r\nConnection: close\r\n\r\n: hi\n\n${extra}`);
    } else {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        ...(h2 ? {} : { Connection: 'keep-alive' }),
        'X-Accel-Buffering': 'no',
      });
      res.write(`: hi\n\n${extra}`);
    }
    openStreams.add(res);
    p.streamActive++;
    if (p.status === 'starting') { p.status = 'processing'; p.startedAt ??= Date.now(); }
    const idBase = Math.floor(p.createdAt / 1000);
    let n = 0; // event sequence
    let i = 0; // next chunk
    let timer = null;
    let finished = false;
    const replay = TERMINAL.has(p.status); // already over: replay at once
    const wake = () => { clearLater(timer); timer = null; if (!finished) step(); };
    p.listeners.add(wake);
    const cleanup = () => {
      finished = true;
      clearLater(timer);
      p.listeners.delete(wake);
      openStreams.delete(res);
    };
    (raw ? sock : res).on('close', () => {
      if (entry.closedAt === undefined) {
        entry.closedAt = Date.now();
        entry.closedBy ??= 'client';
      }
      if (!finished) p.streamActive--;
      cleanup();
    });
    const write = out.write;
    const writeRaw = (t) => (raw ? (sock.destroyed ? true : sock.write(t)) : (res.destroyed ? true : res.write(t)));
    entry.events = [];
    const emit = (type, data) => {
      if (state.logEnabled) entry.events.push({ type, data, at: Date.now() });
      write(sseEvent(type, `${idBase}:${n++}`, data));
    };
    const end = () => {
      finished = true;
      p.streamActive--;
      p.streamDone = true;
      if (!TERMINAL.has(p.status)) {
        if (s.statusLag && (s.status ?? 'succeeded') === 'succeeded') {
          p.lagLeft = s.statusLag;
          p.status = 'processing';
          p.visible = p.chunks.length;
        } else finalize(p);
      }
      const st = p.status;
      if (st === 'failed') {
        emit('error', JSON.stringify({ detail: p.error }));
        emit('done', JSON.stringify({ reason: 'error' }));
      } else if (st === 'canceled' || st === 'aborted') {
        emit('done', JSON.stringify({ reason: 'canceled' }));
      } else {
        emit('done', '{}');
      }
      entry.doneAt = Date.now();
      p.listeners.delete(wake);
      const hold = s.holdAfterDone ?? state.streamHoldMs;
      timer = later(hold, () => {
        if (out.destroyed) return;
        entry.closedBy = 'server';
        out.end(':408: 408 Request Timeout\n\n');
      });
      // keep the response in openStreams until it really closes
    };
    const step = () => {
      timer = null;
      if (finished) return;
      // canceled (or ended by polls) while streaming: finish at once
      if (TERMINAL.has(p.status) && p.status !== 'succeeded' && !replay) return end();
      const burst = s.burst ?? 1;
      if (burst > 1 && i < p.chunks.length) {
        // fast path: many events per tick, pausing while the socket is full
        let ok = true;
        for (let k = 0; k < burst && i < p.chunks.length && ok; k++, i++) {
          if (state.logEnabled) entry.events.push({ type: 'output', data: p.chunks[i], at: Date.now() });
          ok = writeRaw(sseEvent('output', `${idBase}:${n++}`, p.chunks[i]));
        }
        if (p.status !== 'succeeded') p.visible = Math.max(p.visible, i);
        if (i < p.chunks.length) {
          if (ok) timer = later(0, step);
          else (raw ? sock : res).once('drain', () => { if (!finished) step(); });
          return;
        }
        return end();
      }
      if (i < p.chunks.length) {
        if (s.dropAfter !== undefined && i >= s.dropAfter) {
          entry.closedBy = 'drop';
          entry.closedAt = Date.now();
          finished = true;
          p.streamActive--;
          p.listeners.delete(wake);
          sock.destroy();
          return;
        }
        emit('output', p.chunks[i]);
        i++;
        if (p.status !== 'succeeded') p.visible = Math.max(p.visible, i);
        if (s.streamExtras && i === 1) emit('logs', 'generating...');
        if (i < p.chunks.length) {
          timer = later(replay ? 0 : (s.tokenDelay ?? 0), step);
          return;
        }
      }
      end();
    };
    const first = replay ? 0 : (s.firstTokenDelay ?? 0);
    timer = later(first, step);
  }

  // ----------------------------------------------------------------- control
  function control(method, path, body, send) {
    if (method === 'POST' && path === '/_fake/script') {
      const list = Array.isArray(body) ? body : [body ?? {}];
      script(...list);
      return send(200, { queued: state.queue.length });
    }
    if (method === 'POST' && path === '/_fake/default') {
      state.defaultScenario = body ?? {};
      return send(200, { ok: true });
    }
    if (method === 'POST' && path === '/_fake/reset') { reset(); return send(200, { ok: true }); }
    if (method === 'POST' && path === '/_fake/tokens') {
      state.tokens = Array.isArray(body) ? new Set(body) : null;
      return send(200, { ok: true });
    }
    if (method === 'GET' && path === '/_fake/log') return send(200, log);
    if (method === 'GET' && path === '/_fake/stats') return send(200, stats());
    return send(404, problem(404));
  }

  function script(...scenarios) {
    for (const s of scenarios) state.queue.push({ ...s });
    return api;
  }

  function reset() {
    state.queue.length = 0;
    log.length = 0;
    cancels.length = 0;
    listFaults.length = 0;
    unknownInputKeys.length = 0;
    for (const [id, p] of predictions) {
      if (!p.streamActive) { predictions.delete(id); if (p.streamToken) streamTokens.delete(p.streamToken); }
    }
  }

  function stats() {
    return {
      predictions: predictions.size,
      openStreams: openStreams.size,
      queued: state.queue.length,
      creates: log.filter((e) => e.kind === 'create').length,
      gets: log.filter((e) => e.kind === 'get').length,
      cancels: cancels.length,
      logEntries: log.length,
    };
  }

  async function waitFor(pred, timeoutMs = 3000, what = 'condition') {
    const t0 = Date.now();
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() - t0 > timeoutMs) throw new Error(`fake.waitFor timed out after ${timeoutMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function close() {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
    await Promise.all([api, stream].map((srv) => new Promise((r) => srv.close(() => r()))));
  }

  return {
    url,
    streamUrl,
    log,
    predictions,
    cancels,
    listFaults,
    unknownInputKeys,
    script,
    reset,
    stats,
    waitFor,
    close,
    setTokens(list) { state.tokens = list ? new Set(list) : null; },
    get listPageSize() { return listPageSize; },
    set listPageSize(n) { listPageSize = n; },
    setDefault(s) { state.defaultScenario = s ?? {}; },
    get queued() { return state.queue.length; },
    get openStreams() { return openStreams.size; },
    get connectionsOpened() { return connectionsOpened; },
    get connectionsOpen() { return sockets.size; }, // TCP connections open now, both servers
    // Close every connection now, as a server dropping idle keep-alive ones does.
    dropConnections() { const n = sockets.size; for (const s of sockets) s.destroy(); return n; },
    creates() { return log.filter((e) => e.kind === 'create'); },
    gets(id) { return log.filter((e) => e.kind === 'get' && (id === undefined || e.predictionId === id)); },
    streams(id) { return log.filter((e) => e.kind === 'stream' && (id === undefined || e.predictionId === id)); },
    requests() { return log.filter((e) => e.kind !== 'control'); },
    prediction(id) { return predictions.get(id); },
    // The prediction whose (joined) output is `text`, e.g. to find which one backs a choice.
    predictionByOutput(text) {
      for (const p of predictions.values()) if (p.chunks.join('') === text) return p;
      return undefined;
    },
  };
}

// A CA made for one run and a server certificate it signs for 127.0.0.1 (IP SAN:
// an upstream given as an IP gets no SNI) and localhost, with the openssl CLI.
// Returns {caFile, key, cert} (caFile: the CA's PEM path, for upstream_ca_file).
export function makeTestCA(dir, { cn = 'fake-replicate test CA' } = {}) {
  const f = (n) => join(dir, n);
  const run = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  const ext = f('server.ext');
  execFileSync('sh', ['-c', `printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' > "$1"`, 'sh', ext]);
  run('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', ext);
  return { caFile: f('ca.pem'), key: readFileSync(f('server.key')), cert: readFileSync(f('server.pem')) };
}

// ------------------------------------------------------------------ standalone
async function main(argv) {
  const opts = { log: true };
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--stream-port') opts.streamPort = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--tokens') opts.tokens = next().split(',').filter(Boolean);
    else if (a === '--scenario') opts.defaultScenario = JSON.parse(next());
    else if (a === '--stream-hold') opts.streamHoldMs = Number(next());
    else if (a === '--model') (opts.models ??= [DEFAULT_MODEL]).push(next());
    else if (a === '--no-log') opts.log = false;
    else if (a === '--raw-streams') opts.rawStreams = true;
    else if (a === '--tls-dir') { const ca = makeTestCA(next()); opts.tls = { key: ca.key, cert: ca.cert }; }
    else if (a === '--http2') opts.http2 = true;
    else if (a === '--quiet') quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node fake-replicate.mjs [--port N] [--stream-port N] [--host H] [--tokens a,b] [--scenario JSON] [--stream-hold MS] [--model o/n] [--raw-streams] [--tls-dir DIR (make a CA there, serve TLS)] [--http2] [--no-log] [--quiet]');
      return;
    } else throw new Error(`unknown option ${a}`);
  }
  const fake = await startFake(opts);
  if (!quiet) console.log(`fake-replicate api ${fake.url} stream ${fake.streamUrl}`);
  const stop = async () => { await fake.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`fake-replicate: ${e.message}`);
    process.exit(2);
  });
}
