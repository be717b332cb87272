// Issue 10, metrics: GET /metrics in the Prometheus text format, read with a real
// parser, and its counters checked against the traffic this file sends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itExitsCleanly, setup, sseRequest, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';
import { metricValue, parseMetrics } from './ops_prom.mjs';

let bed;

async function scrape(headers = {}) {
  const r = await bed.request('GET', '/metrics', { auth: false, headers });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const families = parseMetrics(r.text);
  const byName = new Map(families.map((f) => [f.name, f]));
  return { text: r.text, byName, families };
}

const value = ({ families }, name, labels = {}) => metricValue(families, name, labels);

// parse-prometheus-text-format folds a histogram's label sets into one entry,
// so histogram series are read from their exact sample lines; the parser still
// checks that the whole text parses and that each family has its type.
function histogram({ text, byName }, name, labels = '') {
  assert.equal(byName.get(name)?.type, 'HISTOGRAM', `${name} is a histogram`);
  const line = (suffix) => {
    const m = text.match(new RegExp(`^${name}${suffix} (\\S+)$`, 'm'));
    assert.ok(m, `${name}${suffix} is exposed`);
    return Number(m[1]);
  };
  const braces = labels ? `\\{${labels}\\}` : '';
  const inf = labels ? `\\{${labels},le="\\+Inf"\\}` : '\\{le="\\+Inf"\\}';
  return { count: line(`_count${braces}`), sum: line(`_sum${braces}`), inf: line(`_bucket${inf}`) };
}

describe('GET /metrics (no gateway: open on the main port)', () => {
  before(async () => {
    bed = await setup({ config: { input_price_per_mtok: '1000', output_price_per_mtok: '2000' } });
  });
  after(async () => { await bed?.finish(); });

  it('counts requests, tokens, cost, upstream calls and durations as sent', async () => {
    const tokens = { input_token_count: 10, output_token_count: 5 };
    for (let i = 0; i < 4; i++) bed.fake.script({ output: ['a', 'b'], metrics: tokens, syncStatus: 'terminal' });
    for (let i = 0; i < 3; i++) {
      const r = await bed.chat(user(`plain ${i}`));
      assert.equal(r.status, 200, r.text);
    }
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('streamed'), stream: true });
    assert.equal(s.status, 200);
    assert.equal((await bed.request('GET', '/nope')).status, 404);
    assert.equal((await bed.chat({ model: 'deepseek-v3.1' })).status, 400);

    const m = await scrape();
    assert.match(m.text, /^# HELP /m);
    assert.equal(value(m, 'replicate_proxy_requests_total', { route: 'chat', model: 'deepseek-v3.1', status: '200' }), 4);
    assert.equal(value(m, 'replicate_proxy_requests_total', { route: 'other', model: '', status: '404' }), 1);
    assert.equal(value(m, 'replicate_proxy_requests_total', { route: 'chat', model: '', status: '400' }), 1);
    assert.equal(value(m, 'replicate_proxy_tokens_total', { model: 'deepseek-v3.1', type: 'input' }), 40);
    assert.equal(value(m, 'replicate_proxy_tokens_total', { model: 'deepseek-v3.1', type: 'output' }), 20);
    // 40 * 1000/1e6 + 20 * 2000/1e6 USD
    assert.ok(Math.abs(value(m, 'replicate_proxy_cost_usd_total', { model: 'deepseek-v3.1' }) - 0.08) < 1e-9);
    assert.equal(value(m, 'replicate_proxy_upstream_requests_total', { kind: 'create', outcome: 'ok' }), 4);
    assert.equal(value(m, 'replicate_proxy_requests_in_flight'), 1, 'the scrape itself');
    assert.equal(value(m, 'replicate_proxy_streams_open'), 0);
    const d = histogram(m, 'replicate_proxy_request_duration_seconds', 'route="chat"');
    assert.equal(d.count, 5);
    assert.equal(d.inf, 5);
    assert.equal(histogram(m, 'gen_ai_client_token_usage', 'gen_ai_token_type="output"').sum, 20);
    assert.equal(histogram(m, 'gen_ai_server_time_to_first_token_seconds').count, 4);
    assert.equal(value(m, 'replicate_proxy_build_info', { version: '0.1.0' }), 1);
    assert.ok(value(m, 'process_open_fds') > 0);
    assert.ok(value(m, 'process_resident_memory_bytes') > 1e6);

    // The scrape is a request too: counted once it ended.
    const again = await scrape();
    assert.equal(value(again, 'replicate_proxy_requests_total', { route: 'metrics', model: '', status: '200' }), 1);
  });

  it('an upstream 5xx on the create is counted by its outcome, and its retry', async () => {
    bed.fake.script({ http: { status: 503 } });
    const r = await bed.chat(user('five oh three'));
    assert.equal(r.status, 200, r.text);
    const m = await scrape();
    assert.equal(value(m, 'replicate_proxy_upstream_requests_total', { kind: 'create', outcome: 'server_error' }), 1);
    assert.equal(value(m, 'replicate_proxy_upstream_requests_total', { kind: 'create', outcome: 'ok' }), 5);
    assert.equal(value(m, 'replicate_proxy_upstream_retries_total', { kind: 'create' }), 1);
  });

  it('a stop sequence cancels the prediction: counted by reason', async () => {
    bed.fake.script({ output: ['one ', 'STOP', ' never'], tokenDelay: 30 });
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('stop me'), stream: true, stop: ['STOP'] });
    assert.equal(s.status, 200);
    const m = await scrape();
    assert.equal(value(m, 'replicate_proxy_predictions_canceled_total', { reason: 'stop' }), 1);
  });

  it('the proxy-overhead histogram counts every request, without the wait on Replicate', async () => {
    const before = await scrape();
    const total = (m) => ['chat', 'completions', 'responses', 'messages', 'models', 'health', 'metrics', 'other']
      .reduce((n, route) => n + histogram(m, 'replicate_proxy_request_duration_seconds', `route="${route}"`).count, 0);
    const o0 = histogram(before, 'replicate_proxy_overhead_seconds');
    const d0 = histogram(before, 'replicate_proxy_request_duration_seconds', 'route="chat"');
    // Replicate takes 400 ms to answer each create: the requests last that long,
    // the proxy's own share does not.
    for (let i = 0; i < 3; i++) bed.fake.script({ output: ['slow'], createDelay: 400, syncStatus: 'terminal' });
    for (let i = 0; i < 3; i++) assert.equal((await bed.chat(user(`slow ${i}`))).status, 200);
    assert.equal((await bed.request('GET', '/health')).status, 200);
    const m = await scrape();
    const o = histogram(m, 'replicate_proxy_overhead_seconds');
    assert.equal(o.count, total(m), 'one observation per request ended');
    assert.equal(o.count - o0.count, 4 + 1, 'the 4 sent here and the scrape before them');
    const d = histogram(m, 'replicate_proxy_request_duration_seconds', 'route="chat"');
    assert.ok(d.sum - d0.sum >= 1.2, `the chats took ${d.sum - d0.sum}s`);
    assert.ok(o.sum - o0.sum < 0.3, `the proxy's own share: ${o.sum - o0.sum}s`);
  });

  itExitsCleanly(() => bed, it);
});

describe('GET /metrics in gateway mode: master key only', () => {
  before(async () => { bed = await gatewayBed(); });
  after(async () => { await bed?.finish(); });

  it('401 without the master key, 200 with it', async () => {
    const none = await bed.request('GET', '/metrics', { auth: false });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'invalid_api_key');
    const wrong = await bed.request('GET', '/metrics', { auth: false, headers: { Authorization: 'Bearer sk-not-the-master' } });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.text.includes('sk-'), 'no key is echoed');
    const ok = await bed.request('GET', '/metrics', { auth: false, headers: { Authorization: `Bearer ${MASTER}` } });
    assert.equal(ok.status, 200);
    assert.ok(parseMetrics(ok.text).length > 10);
  });

  it('counts by the key alias, never the key', async () => {
    const k = await bed.newKey({ key_alias: 'team-m' });
    bed.fake.script({ output: ['x'], metrics: { input_token_count: 7, output_token_count: 2 } });
    const r = await bed.request('POST', '/v1/chat/completions', { key: k.key, body: user('by key') });
    assert.equal(r.status, 200, r.text);
    const m = await scrape({ Authorization: `Bearer ${MASTER}` });
    assert.equal(value(m, 'replicate_proxy_key_requests_total', { route: 'chat', key_alias: 'team-m', status: '200' }), 1);
    assert.equal(value(m, 'replicate_proxy_key_tokens_total', { key_alias: 'team-m', type: 'input' }), 7);
    assert.ok(!m.text.includes(k.key.slice(3)) && !m.text.includes(k.token), 'no key, no key hash');
  });

  itExitsCleanly(() => bed, it);
});
