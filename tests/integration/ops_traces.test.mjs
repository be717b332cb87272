// Issue 10, traces: otlp_endpoint exports one SERVER span per request with the
// OpenTelemetry GenAI attributes and one CLIENT span per call to Replicate, as
// OTLP/HTTP protobuf (the default) or JSON (otlp_protocol), to a small receiver
// here that decodes protobuf with OpenTelemetry's own generated decoder. A client's traceparent continues its
// trace and reaches Replicate with the child span's id. A collector that is down
// or hangs costs the requests nothing: spans are dropped and counted in /metrics.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { CLIENT_KEY, REPLICATE_TOKEN, closedPort, itExitsCleanly, setup, sseRequest, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';
import { block, call, weatherTool } from './deepseek.mjs';

// opentelemetry-proto's messages as protobufjs generated them for the OpenTelemetry JS SDK
// (its exporter's own encoder): a decoder written from the .proto files, not from our encoder.
const otlpProto = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportTraceServiceRequest = otlpProto.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

// A protobuf body in the shape of the OTLP JSON encoding (the proto3 JSON mapping as OTLP
// specifies it: ids as hex, 64-bit integers as decimal strings), so one set of assertions
// reads both.
function protobufAsJson(bytes) {
  const msg = ExportTraceServiceRequest.decode(bytes);
  const j = ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: Array });
  const hex = (a) => Buffer.from(a).toString('hex');
  for (const rs of j.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const sp of ss.spans ?? []) {
        sp.traceId = hex(sp.traceId);
        sp.spanId = hex(sp.spanId);
        if (sp.parentSpanId) sp.parentSpanId = hex(sp.parentSpanId);
      }
    }
  }
  return j;
}

// An OTLP/HTTP receiver: keeps every body of POST /v1/traces (a protobuf one decoded, as
// JSON text). hang: never answers. dropReused: a second request on a kept-alive connection
// has its connection closed unanswered, as when a collector's idle timeout races a POST.
async function startReceiver({ hang = false, dropReused = false } = {}) {
  const bodies = [];
  const held = [];
  let dropped = 0;
  const server = http.createServer((req, res) => {
    req.socket.requests = (req.socket.requests ?? 0) + 1;
    if (dropReused && req.socket.requests > 1) {
      dropped++;
      req.socket.destroy();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks), type = req.headers['content-type'];
      const text = type === 'application/x-protobuf' ? JSON.stringify(protobufAsJson(raw)) : raw.toString('utf8');
      bodies.push({ path: req.url, type, headers: req.headers, text, raw });
      if (hang) { held.push(res); return; }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    bodies,
    dropped: () => dropped,
    // Every span received, with its attributes as a plain object.
    spans() {
      const out = [];
      for (const b of bodies) {
        const j = JSON.parse(b.text);
        for (const rs of j.resourceSpans) {
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) out.push({ ...s, attrs: attrsOf(s.attributes), resource: attrsOf(rs.resource.attributes) });
          }
        }
      }
      return out;
    },
    close() {
      for (const res of held) res.destroy();
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

function valueOf(v) {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) { assert.equal(typeof v.intValue, 'string', 'int64 as a JSON string'); return Number(v.intValue); }
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return v.arrayValue.values.map(valueOf);
  throw new Error(`unknown value ${JSON.stringify(v)}`);
}
const attrsOf = (list) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

// Poll an async condition (fake.waitFor takes synchronous ones).
async function until(fn, timeoutMs, what) {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

let bed, rx, key;

// The server span of one request (by its X-Request-Id) and its children.
async function traceOf(requestId) {
  let server;
  await bed.fake.waitFor(() => (server = rx.spans().find((s) => s.kind === 2 && s.attrs['replicate_proxy.request_id'] === requestId)),
    5000, `the server span of ${requestId}`);
  const children = () => rx.spans().filter((s) => s.parentSpanId === server.spanId);
  return { server, children };
}

// The upstream calls the fake saw for a request (cancels carry no X-Request-Id:
// by the trace id of their traceparent).
const callsOf = (requestId) => bed.fake.log.filter((e) => e.headers['x-request-id'] === requestId);
const callsIn = (traceId) => bed.fake.log.filter((e) => e.headers.traceparent?.split('-')[1] === traceId);

function checkChildren(server, children, calls, kinds) {
  assert.deepEqual(children.map((c) => c.attrs['replicate_proxy.upstream_call']).sort(), [...kinds].sort());
  for (const c of children) {
    assert.equal(c.kind, 3, 'CLIENT');
    assert.equal(c.traceId, server.traceId);
    assert.match(c.spanId, HEX16);
    assert.equal(c.name, `replicate ${c.attrs['replicate_proxy.upstream_call']}`);
    assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(server.startTimeUnixNano), 'a child starts within its parent');
    assert.ok(BigInt(c.endTimeUnixNano) >= BigInt(c.startTimeUnixNano));
    assert.ok(!c.attrs['url.full'].includes('?'), 'no query in url.full');
  }
  // Each call to Replicate carried the traceparent of its own span.
  assert.equal(calls.length, children.length, 'one span per upstream call');
  const sent = calls.map((e) => e.headers.traceparent).sort();
  assert.deepEqual(sent, children.map((c) => `00-${c.traceId}-${c.spanId}-01`).sort());
}

for (const [protocol, contentType] of [['http/protobuf', 'application/x-protobuf'], ['http/json', 'application/json']]) {
  describe(`traces: spans to an OTLP collector (${protocol})`, () => {
    before(async () => {
      rx = await startReceiver();
      bed = await gatewayBed({ config: { otlp_endpoint: rx.url, otlp_protocol: protocol, otlp_service_name: 'proxy-under-test', upstream_max_retries: 1, otlp_propagate: 'true' } });
      key = (await bed.newKey({ key_alias: 'team-a' })).key;
    });
    after(async () => { await bed?.finish(); await rx?.close(); });

    it('a chat: one SERVER span with the GenAI attributes, CLIENT spans for create and poll', async () => {
      bed.fake.script({ output: ['Hel', 'lo'], syncStatus: 'starting', polls: 1, metrics: { input_token_count: 11, output_token_count: 2 } });
      const r = await bed.chat(user('hi'), { key, headers: { 'X-Request-Id': 'tr-chat-1' } });
      assert.equal(r.status, 200, r.text);
      const { server, children } = await traceOf('tr-chat-1');
      const pred = bed.fake.creates().at(-1).predictionId;
      assert.equal(server.name, 'chat deepseek-v3.1');
      assert.match(server.traceId, HEX32);
      assert.match(server.spanId, HEX16);
      assert.equal(server.parentSpanId, undefined, 'a new trace: a root span');
      assert.deepEqual(server.status, {});
      const cost = server.attrs['replicate_proxy.cost_usd'];
      assert.ok(Math.abs(cost - (11 * 0.672 + 2 * 2.016) / 1e6) < 1e-12, `cost ${cost}`);
      assert.ok(server.attrs['client.address'] === '127.0.0.1');
      delete server.attrs['client.address'];
      assert.deepEqual(server.attrs, {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'replicate',
        'gen_ai.system': 'replicate',
        'gen_ai.request.model': 'deepseek-v3.1',
        'gen_ai.response.model': 'deepseek-ai/deepseek-v3.1',
        'gen_ai.response.id': pred,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': 11,
        'gen_ai.usage.output_tokens': 2,
        'http.request.method': 'POST',
        'http.route': '/v1/chat/completions',
        'url.path': '/v1/chat/completions',
        'http.response.status_code': 200,
        'replicate_proxy.request_id': 'tr-chat-1',
        'replicate_proxy.key_alias': 'team-a',
        'replicate_proxy.stream': false,
        'replicate_proxy.cost_usd': cost,
      }); // no replicate_proxy.retries: shown only when there was a retry
      assert.deepEqual(server.resource, { 'service.name': 'proxy-under-test', 'service.version': server.resource['service.version'], 'telemetry.sdk.language': 'c' });
      await bed.fake.waitFor(() => children().length >= 2, 5000, 'create and poll spans');
      const kids = children();
      checkChildren(server, kids, callsOf('tr-chat-1'), ['create', 'poll']);
      const create = kids.find((c) => c.attrs['replicate_proxy.upstream_call'] === 'create');
      assert.deepEqual(create.attrs, {
        'http.request.method': 'POST',
        'url.full': `${bed.fake.url}/v1/models/deepseek-ai/deepseek-v3.1/predictions`,
        'http.response.status_code': 201,
        'replicate_proxy.upstream_call': 'create',
      });
      const poll = kids.find((c) => c.attrs['replicate_proxy.upstream_call'] === 'poll');
      assert.equal(poll.attrs['http.request.method'], 'GET');
      assert.equal(poll.attrs['url.full'], `${bed.fake.url}/v1/predictions/${pred}`);
      assert.equal(poll.attrs['http.response.status_code'], 200);
      for (const b of rx.bodies) {
        assert.equal(b.path, '/v1/traces');
        assert.equal(b.type, contentType);
      }
    });

    it('a stream: stream=true, CLIENT spans for the create and the SSE stream', async () => {
      bed.fake.reset();
      bed.fake.script({ output: ['a', 'b', 'c'] });
      const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('stream me'), stream: true },
        { apiKey: key, headers: { 'X-Request-Id': 'tr-stream-1' } });
      assert.equal(s.status, 200);
      const { server, children } = await traceOf('tr-stream-1');
      assert.equal(server.name, 'chat deepseek-v3.1');
      assert.equal(server.attrs['replicate_proxy.stream'], true);
      assert.deepEqual(server.attrs['gen_ai.response.finish_reasons'], ['stop']);
      assert.equal(server.attrs['gen_ai.usage.output_tokens'], 3);
      assert.equal(server.attrs['http.response.status_code'], 200);
      // The stream's end may come with a poll for the metrics: create and stream at least.
      await bed.fake.waitFor(() => children().length >= 2 && children().length === callsOf('tr-stream-1').length, 5000, 'child spans');
      const kinds = children().map((c) => c.attrs['replicate_proxy.upstream_call']);
      assert.ok(kinds.includes('create') && kinds.includes('stream'), kinds.join());
      checkChildren(server, children(), callsOf('tr-stream-1'), kinds);
      const stream = children().find((c) => c.attrs['replicate_proxy.upstream_call'] === 'stream');
      assert.match(stream.attrs['url.full'], /^http:\/\/127\.0\.0\.1:\d+\/v1\/streams\/[^?]+$/);
      assert.deepEqual(stream.status, {});
    });

    it('a client that hangs up mid-stream: the stream span ends as stopped, a cancel span follows', async () => {
      bed.fake.reset();
      bed.fake.script({ output: Array.from({ length: 50 }, (_, i) => `t${i} `), tokenDelay: 50 });
      const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('hang up'), stream: true },
        { apiKey: key, headers: { 'X-Request-Id': 'tr-hangup-1' }, onEvent: (e, req, out) => { if (out.chunks.length === 3) req.hangUp(); } });
      assert.ok(s.aborted);
      const { server, children } = await traceOf('tr-hangup-1');
      assert.equal(server.attrs['replicate_proxy.stream'], true);
      await bed.fake.waitFor(() => children().some((c) => c.attrs['replicate_proxy.upstream_call'] === 'cancel'), 5000, 'the cancel span');
      await bed.fake.waitFor(() => children().length === callsIn(server.traceId).length, 5000, 'every child span');
      checkChildren(server, children(), callsIn(server.traceId), ['create', 'stream', 'cancel']);
      const stream = children().find((c) => c.attrs['replicate_proxy.upstream_call'] === 'stream');
      assert.equal(stream.attrs['replicate_proxy.upstream_stopped'], true);
      assert.deepEqual(stream.status, {}, 'stopped by us: not an error');
      const cancel = children().find((c) => c.attrs['replicate_proxy.upstream_call'] === 'cancel');
      const pred = bed.fake.creates().at(-1).predictionId;
      assert.equal(cancel.attrs['url.full'], `${bed.fake.url}/v1/predictions/${pred}/cancel`);
      assert.equal(cancel.attrs['http.request.method'], 'POST');
      assert.equal(cancel.attrs['http.response.status_code'], 200);
    });

    it('a tool call: finish_reasons tool_calls', async () => {
      bed.fake.reset();
      bed.fake.script({ output: [`Let me check.${block(call('get_weather', '{"city": "Paris"}'))}`] });
      const r = await bed.chat({ ...user('Weather in Paris?'), tools: [weatherTool] }, { key, headers: { 'X-Request-Id': 'tr-tool-1' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
      const { server, children } = await traceOf('tr-tool-1');
      assert.deepEqual(server.attrs['gen_ai.response.finish_reasons'], ['tool_calls']);
      assert.equal(server.attrs['gen_ai.response.id'], bed.fake.creates().at(-1).predictionId);
      await bed.fake.waitFor(() => children().length === callsOf('tr-tool-1').length, 5000, 'child spans');
      checkChildren(server, children(), callsOf('tr-tool-1'), children().map((c) => c.attrs['replicate_proxy.upstream_call']));
    });

    it('an upstream failure: ERROR on the server span, each create a CLIENT span with its status and resend count', async () => {
      bed.fake.reset();
      bed.fake.script({ http: { status: 500 } }, { http: { status: 500 } });
      const r = await bed.chat(user('fail'), { key, headers: { 'X-Request-Id': 'tr-err-1' } });
      assert.equal(r.status, 502, r.text);
      const { server, children } = await traceOf('tr-err-1');
      assert.equal(server.status.code, 2, 'STATUS_CODE_ERROR');
      assert.equal(server.attrs['http.response.status_code'], 502);
      assert.equal(server.attrs['error.type'], 'upstream_error', 'the error code answered');
      assert.equal(server.attrs['replicate_proxy.retries'], 1);
      await bed.fake.waitFor(() => children().length === 2, 5000, 'two create spans');
      checkChildren(server, children(), callsOf('tr-err-1'), ['create', 'create']);
      const creates = children().sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
      assert.deepEqual(creates.map((c) => [c.attrs['http.response.status_code'], c.attrs['http.request.resend_count'], c.attrs['error.type'], c.status.code]),
        [[500, undefined, '500', 2], [500, 1, '500', 2]]);
    });

    it('a stream that fails after its 200 (in-band error): ERROR on the server span all the same', async () => {
      bed.fake.reset();
      bed.fake.script({ output: ['partial'], status: 'failed', error: 'E1001 out of memory' });
      const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('fail in band'), stream: true },
        { apiKey: key, headers: { 'X-Request-Id': 'tr-inband-1' } });
      assert.equal(s.status, 200);
      assert.equal(s.error?.code, 'prediction_failed');
      const { server } = await traceOf('tr-inband-1');
      assert.equal(server.attrs['http.response.status_code'], 200);
      assert.deepEqual(server.status, { code: 2, message: 'failed in the stream' });
      assert.equal(server.attrs['error.type'], 'prediction_failed', 'the in-band error code');
    });

    it('a client error (404) is a span without ERROR status (HTTP semantic conventions) and without GenAI attributes', async () => {
      const r = await bed.request('GET', '/v1/nope', { key, headers: { 'X-Request-Id': 'tr-404' } });
      assert.equal(r.status, 404);
      const { server } = await traceOf('tr-404');
      assert.equal(server.name, 'GET');
      assert.deepEqual(server.status, {});
      assert.equal(server.attrs['error.type'], 'not_found');
      assert.ok(!Object.keys(server.attrs).some((k) => k.startsWith('gen_ai.')), Object.keys(server.attrs).join());
    });

    it("other routes: named by method and route, a model's own path by its template", async () => {
      const a = await bed.request('GET', '/v1/models', { key, headers: { 'X-Request-Id': 'tr-models' } });
      const b = await bed.request('GET', '/v1/models/deepseek-v3.1', { key, headers: { 'X-Request-Id': 'tr-model' } });
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const sa = (await traceOf('tr-models')).server, sb = (await traceOf('tr-model')).server;
      assert.deepEqual([sa.name, sa.attrs['http.route'], sa.attrs['url.path']], ['GET /v1/models', '/v1/models', '/v1/models']);
      assert.deepEqual([sb.name, sb.attrs['http.route'], sb.attrs['url.path']],
        ['GET /v1/models/{model}', '/v1/models/{model}', '/v1/models/deepseek-v3.1']);
    });

    it('a client traceparent continues its trace: trace id kept, parent set, sent on to Replicate', async () => {
      bed.fake.reset();
      const tid = '4bf92f3577b34da6a3ce929d0e0e4736', pid = '00f067aa0ba902b7';
      const r = await bed.chat(user('traced'), { key, headers: { 'X-Request-Id': 'tr-tp-1', traceparent: `00-${tid}-${pid}-01` } });
      assert.equal(r.status, 200, r.text);
      assert.ok(!JSON.stringify(r.headers).includes(tid), 'nothing of the trace is echoed');
      const { server, children } = await traceOf('tr-tp-1');
      assert.equal(server.traceId, tid);
      assert.equal(server.parentSpanId, pid);
      assert.notEqual(server.spanId, pid);
      const calls = callsOf('tr-tp-1');
      assert.ok(calls.length >= 1);
      for (const c of calls) assert.match(c.headers.traceparent, new RegExp(`^00-${tid}-[0-9a-f]{16}-01$`));
      await bed.fake.waitFor(() => children().length === calls.length, 5000, 'child spans');
      checkChildren(server, children(), calls, children().map((c) => c.attrs['replicate_proxy.upstream_call']));
    });

    it('an invalid traceparent is ignored (a new trace); a not-sampled one exports nothing', async () => {
      const bad = ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
        '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // zero trace id
        'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra']; // 00 with more
      for (const [i, tp] of bad.entries()) {
        const r = await bed.request('GET', '/v1/models', { key, headers: { 'X-Request-Id': `tr-bad-${i}`, traceparent: tp } });
        assert.equal(r.status, 200);
        const { server } = await traceOf(`tr-bad-${i}`);
        assert.notEqual(server.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', tp);
        assert.match(server.traceId, HEX32);
        assert.equal(server.parentSpanId, undefined, tp);
      }
      bed.fake.reset();
      const tid = '0af7651916cd43dd8448eb211c80319c';
      const r = await bed.chat(user('unsampled'), { key, headers: { 'X-Request-Id': 'tr-unsampled', traceparent: `00-${tid}-b7ad6b7169203331-00` } });
      assert.equal(r.status, 200);
      for (const c of callsOf('tr-unsampled')) assert.match(c.headers.traceparent, new RegExp(`^00-${tid}-[0-9a-f]{16}-00$`), 'still propagated');
      // A later sampled request is exported: by then the unsampled one would have been too.
      await bed.chat(user('after'), { key, headers: { 'X-Request-Id': 'tr-after' } });
      await traceOf('tr-after');
      assert.ok(!rx.spans().some((s) => s.traceId === tid), 'no span of a trace the client did not sample');
    });

    it('no key, token or prompt in any exported span; /metrics counts the spans exported', async () => {
      await bed.fake.waitFor(() => rx.spans().length > 0, 5000, 'spans');
      const all = rx.bodies.map((b) => `${b.text}\n${b.raw.toString('latin1')}`).join('\n');
      for (const secret of [REPLICATE_TOKEN, CLIENT_KEY, MASTER, key]) assert.ok(!all.includes(secret), `a secret ${secret.slice(0, 6)}... in a span`);
      assert.ok(!all.includes('Weather in Paris'), 'no prompt text');
      // Quiet for a flush, then the counter equals what the receiver got.
      const count = async () => {
        const m = await bed.request('GET', '/metrics', { key: MASTER });
        const fams = parsePrometheusTextFormat(m.text);
        const v = (name) => Number(fams.find((f) => f.name === name).metrics[0].value);
        return { exported: v('replicate_proxy_otlp_spans_exported_total'), dropped: v('replicate_proxy_otlp_spans_dropped_total') };
      };
      let c;
      // Each scrape makes a span of its own after it answered: wait for a quiet moment.
      await until(async () => (c = await count()).exported === rx.spans().length, 5000, 'exported = received');
      assert.ok(c.exported > 0);
      assert.equal(c.exported, rx.spans().length, 'exported_total = spans received');
      assert.equal(c.dropped, 0);
    });

    itExitsCleanly(() => bed, it);
  });
}

// Requests must stay fast whatever the collector does; the spans are dropped and counted.
async function collectorFails(opts) {
  const b = await setup(opts);
  bed = b;
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    const r = await b.chat(user(`fast ${i}`));
    assert.equal(r.status, 200, r.text);
  }
  // An export in the request's path would cost each one the POST's 2 s timeout.
  const took = Date.now() - t0;
  assert.ok(took < 4000, `5 requests took ${took} ms`);
  let dropped = 0;
  await until(async () => {
    const m = await b.request('GET', '/metrics');
    const fams = parsePrometheusTextFormat(m.text);
    dropped = Number(fams.find((f) => f.name === 'replicate_proxy_otlp_spans_dropped_total').metrics[0].value);
    return dropped >= 5 * 2; // a server span and at least a create span each
  }, 8000, 'spans counted as dropped');
  return b;
}

describe('traces: a collector that is down', () => {
  after(async () => { await bed?.finish(); });

  it('closed port: requests stay fast; spans dropped and counted', async () => {
    // Set through the environment, as every option can be.
    await collectorFails({ env: { REPLICATE_PROXY_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}` } });
    // the exporter counts the batch before it logs the warning: wait for the line too
    await until(() => /otlp: spans dropped: the trace collector answered 0 \(no answer\)/.test(bed.proxy.stderr),
      5000, 'the warning');
  });

  itExitsCleanly(() => bed, it);
});

describe('traces: a collector that hangs', () => {
  let hung;
  before(async () => { hung = await startReceiver({ hang: true }); });
  after(async () => { await bed?.finish(); await hung?.close(); });

  it('requests stay fast; spans dropped once the POST times out; shutdown is bounded', async () => {
    await collectorFails({ config: { otlp_endpoint: hung.url } });
    assert.ok(hung.bodies.length >= 1, 'the exporter did try');
    const t0 = Date.now();
    await bed.proxy.stop();
    bed.closeReported = true;
    assert.ok(Date.now() - t0 < 6000, `stopped in ${Date.now() - t0} ms`);
  });

  itExitsCleanly(() => bed, it);
});

// Hosted collectors want a key: otlp_headers (as OTEL_EXPORTER_OTLP_HEADERS) goes with every
// export; its values are secrets, never logged.
describe('traces: otlp_headers', () => {
  let rx2;
  before(async () => { rx2 = await startReceiver(); });
  after(async () => { await bed?.finish(); await rx2?.close(); });

  it('every export carries the headers, values %-decoded; none shows in the log', async () => {
    bed = await setup({ config: { otlp_endpoint: rx2.url, otlp_headers: 'Authorization=Bearer otlp-s3cr3t-token, X-Tenant = team%20a' } });
    bed.proxy.addSecret('otlp-s3cr3t-token');
    const r = await bed.chat(user('exported'));
    assert.equal(r.status, 200, r.text);
    await until(() => rx2.spans().length >= 2, 5000, 'spans exported');
    for (const b of rx2.bodies) {
      assert.equal(b.headers.authorization, 'Bearer otlp-s3cr3t-token');
      assert.equal(b.headers['x-tenant'], 'team a');
      assert.equal(b.type, 'application/x-protobuf', 'http/protobuf by default, as the OpenTelemetry SDKs');
    }
    assert.match(bed.proxy.stderr, /otlp: exporting traces to http:\/\/127\.0\.0\.1:\d+\/v1\/traces as http\/protobuf \(2 headers of otlp_headers, sample ratio 1\)/);
    // otlp_propagate is off by default: Replicate joins no trace of ours.
    assert.ok(bed.fake.log.length >= 1);
    for (const e of bed.fake.log) assert.equal(e.headers.traceparent, undefined, 'no traceparent to Replicate by default');
  });

  itExitsCleanly(() => bed, it);
});

// The exporter keeps its connection to the collector; a POST cut on it is sent again on a new
// one, its body read again from the start (the protobuf body is read from two places).
describe('traces: a collector that drops a kept-alive connection', () => {
  let rx5;
  before(async () => { rx5 = await startReceiver({ dropReused: true }); });
  after(async () => { await bed?.finish(); await rx5?.close(); });

  it('each batch is sent again on a new connection, whole: no span lost', async () => {
    bed = await setup({ config: { otlp_endpoint: rx5.url } });
    for (const id of ['drop-1', 'drop-2', 'drop-3']) {
      const r = await bed.chat(user('exported'), { headers: { 'x-request-id': id } });
      assert.equal(r.status, 200, r.text);
      // the next request's spans go in a later batch (the exporter flushes each second)
      await until(() => rx5.spans().some((s) => s.kind === 2 && s.attrs['replicate_proxy.request_id'] === id), 5000, `${id} exported`);
    }
    assert.ok(rx5.dropped() >= 1, 'the kept-alive connection was reused and cut');
    const servers = rx5.spans().filter((s) => s.kind === 2).map((s) => s.attrs['replicate_proxy.request_id']);
    assert.deepEqual(servers.sort(), ['drop-1', 'drop-2', 'drop-3']);
    assert.doesNotMatch(bed.proxy.stderr, /spans dropped/);
  });

  itExitsCleanly(() => bed, it);
});

describe('traces: OTEL_EXPORTER_OTLP_HEADERS, and a malformed value', () => {
  let rx3;
  let bad;
  before(async () => { rx3 = await startReceiver(); });
  after(async () => { await bad?.finish(); await bed?.finish(); await rx3?.close(); });

  it('a malformed otlp_headers: no export at all, an error naming the item, not its value', async () => {
    bad = await setup({ config: { otlp_endpoint: rx3.url, otlp_headers: 'X-Tenant=a,Authorization Bearer otlp-s3cr3t-bad' } });
    bad.proxy.addSecret('otlp-s3cr3t-bad');
    const r = await bad.chat(user('not traced'));
    assert.equal(r.status, 200, r.text);
    assert.match(bad.proxy.stderr, /otlp: otlp_headers: item 2 is not name=value: no trace export/);
    await new Promise((ok) => setTimeout(ok, 1500)); // past a flush
    assert.equal(rx3.bodies.length, 0, 'nothing sent without its Authorization');
    await bad.close();
  });

  it('OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_PROTOCOL are read, as the OpenTelemetry SDKs do', async () => {
    bed = await setup({ config: { otlp_endpoint: rx3.url },
      env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer otlp-env-s3cr3t', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
    bed.proxy.addSecret('otlp-env-s3cr3t');
    const r = await bed.chat(user('exported'));
    assert.equal(r.status, 200, r.text);
    await until(() => rx3.bodies.length >= 1, 5000, 'an export');
    for (const b of rx3.bodies) {
      assert.equal(b.headers.authorization, 'Bearer otlp-env-s3cr3t');
      assert.equal(b.type, 'application/json');
      assert.ok(JSON.parse(b.text).resourceSpans.length === 1);
    }
    assert.match(bed.proxy.stderr, /as http\/json \(1 header of otlp_headers/);
  });

  itExitsCleanly(() => bed, it);
});


// otlp_sample_ratio: a share of the traces started here is recorded (by trace id,
// as OpenTelemetry's traceidratio sampler); the rest are not exported, and their
// calls to Replicate carry "not sampled". A client's traceparent decides for its
// own trace (parent-based).
describe('traces: otlp_sample_ratio', () => {
  let rx4;
  let half;
  before(async () => { rx4 = await startReceiver(); });
  after(async () => { await half?.finish(); await bed?.finish(); await rx4?.close(); });

  it('ratio 0: nothing of ours exported, Replicate sees flags 00; a sampled client trace still is', async () => {
    bed = await setup({ config: { otlp_endpoint: rx4.url, otlp_sample_ratio: '0', otlp_propagate: 'true' } });
    for (let i = 0; i < 3; i++) {
      const r = await bed.chat(user('unsampled'), { headers: { 'X-Request-Id': `unsampled-${i}` } });
      assert.equal(r.status, 200, r.text);
    }
    const parentTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await bed.chat(user('sampled by the client'), {
      headers: { 'X-Request-Id': 'client-sampled', traceparent: `00-${parentTrace}-00f067aa0ba902b7-01` },
    });
    assert.equal(r.status, 200, r.text);
    await until(() => rx4.spans().some((s) => s.kind === 2), 5000, 'the client-sampled server span');
    await new Promise((ok) => setTimeout(ok, 1200)); // past a flush: anything else would be here
    const spans = rx4.spans();
    assert.ok(spans.length >= 2, 'server + create span of the sampled request');
    for (const s of spans) assert.equal(s.traceId, parentTrace, 'only the client-sampled trace is exported');
    for (let i = 0; i < 3; i++) {
      const calls = bed.fake.log.filter((e) => e.headers['x-request-id'] === `unsampled-${i}`);
      assert.ok(calls.length >= 1);
      for (const c of calls) assert.match(c.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    }
    const sampled = bed.fake.log.filter((e) => e.headers['x-request-id'] === 'client-sampled');
    for (const c of sampled) assert.match(c.headers.traceparent, new RegExp(`^00-${parentTrace}-[0-9a-f]{16}-01$`));
    assert.match(bed.proxy.stderr, /sample ratio 0\)/);
    await bed.close();
  });

  it('ratio 0.5 from OTEL_TRACES_SAMPLER_ARG: some traces recorded, not all; recorded ones are whole', async () => {
    const before = rx4.spans().length;
    half = await setup({ config: { otlp_endpoint: rx4.url, otlp_propagate: 'true' }, env: { OTEL_TRACES_SAMPLER_ARG: '0.5' } });
    const n = 40;
    for (let i = 0; i < n; i++) {
      const r = await half.chat(user('half'), { headers: { 'X-Request-Id': `half-${i}` } });
      assert.equal(r.status, 200, r.text);
    }
    // Which traces Replicate was told are sampled, and which we exported.
    const flagged = new Set(half.fake.log.filter((e) => e.headers['x-request-id']?.startsWith('half-') && e.headers.traceparent.endsWith('-01'))
      .map((e) => e.headers.traceparent.split('-')[1]));
    // 40 fair draws: all or none has odds 2^-39.
    assert.ok(flagged.size > 0 && flagged.size < n, `sampled ${flagged.size} of ${n}`);
    await until(() => new Set(rx4.spans().slice(before).filter((s) => s.kind === 2).map((s) => s.traceId)).size === flagged.size,
      5000, 'every sampled server span');
    const exported = new Set(rx4.spans().slice(before).map((s) => s.traceId));
    assert.deepEqual([...exported].sort(), [...flagged].sort(), 'exactly the traces marked sampled upstream');
    assert.match(half.proxy.stderr, /sample ratio 0\.5\)/);
  });

  itExitsCleanly(() => half, it);
});
