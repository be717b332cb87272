// Issue 10, metrics_listen = host:port: /metrics alone on a listener of its own
// (a private interface: no key asked), read with a real Prometheus text parser;
// the main port then has no /metrics at all.
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { itExitsCleanly, request, runProxy, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';
import { metricValue, parseMetrics } from './ops_prom.mjs';

let bed;
let metricsUrl;

const value = metricValue;

describe('metrics_listen in gateway mode', () => {
  before(async () => {
    bed = await gatewayBed({ config: { metrics_listen: '127.0.0.1:0' } });
    const m = /metrics on 127\.0\.0\.1:0 \(port (\d+)\)/.exec(bed.proxy.stderr);
    assert.ok(m, bed.proxy.stderr);
    metricsUrl = `http://127.0.0.1:${m[1]}`;
  });
  after(async () => { await bed?.finish(); });

  it('serves /metrics with no key, counting the traffic of the main port', async () => {
    const k = await bed.newKey({ key_alias: 'team-l' });
    bed.fake.script({ output: ['x'], metrics: { input_token_count: 9, output_token_count: 4 } });
    const r = await bed.request('POST', '/v1/chat/completions', { key: k.key, body: user('counted') });
    assert.equal(r.status, 200, r.text);
    const s = await request(metricsUrl, 'GET', '/metrics');
    assert.equal(s.status, 200, s.text);
    assert.equal(s.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const families = parseMetrics(s.text);
    assert.equal(value(families, 'replicate_proxy_key_requests_total', { route: 'chat', key_alias: 'team-l', status: '200' }), 1);
    assert.equal(value(families, 'replicate_proxy_key_tokens_total', { key_alias: 'team-l', type: 'input' }), 9);
    assert.equal(value(families, 'replicate_proxy_requests_in_flight'), 0, 'the scrape is not a main-port request');
    assert.ok(!s.text.includes(k.key.slice(3)) && !s.text.includes(k.token));
    const head = await request(metricsUrl, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('only /metrics, only GET; the main port has no /metrics, even with the master key', async () => {
    const other = await request(metricsUrl, 'GET', '/v1/models');
    assert.equal(other.status, 404);
    assert.equal(other.json.error.code, 'not_found');
    const post = await request(metricsUrl, 'POST', '/metrics', { body: {} });
    assert.equal(post.status, 405);
    const main = await bed.request('GET', '/metrics', { key: MASTER });
    assert.equal(main.status, 404);
    assert.equal(main.json.error.code, 'not_found');
  });

  it('a client that connects and sends nothing (or half a head) holds up no scrape, and is closed at its deadline', async () => {
    const port = Number(new URL(metricsUrl).port);
    const idle = net.connect(port, '127.0.0.1');
    const half = net.connect(port, '127.0.0.1');
    try {
      await Promise.all([once(idle, 'connect'), once(half, 'connect')]);
      half.write('GET /metr');
      await new Promise((ok) => setTimeout(ok, 100)); // both accepted and waiting
      const idleClosed = once(idle, 'close');
      idle.resume();
      half.resume();
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        const s = await request(metricsUrl, 'GET', '/metrics');
        assert.equal(s.status, 200, s.text);
      }
      // One connection at a time made each scrape wait out the silent ones (5 s each).
      assert.ok(Date.now() - t0 < 2000, `3 scrapes took ${Date.now() - t0} ms beside silent connections`);
      const t1 = Date.now();
      await Promise.race([idleClosed, new Promise((_, no) => setTimeout(() => no(new Error('idle connection never closed')), 9000))]);
      assert.ok(Date.now() - t0 >= 4000 && Date.now() - t1 < 9000, 'closed at the 5 s head deadline');
    } finally {
      idle.destroy();
      half.destroy();
    }
  });

  itExitsCleanly(() => bed, it);
});

describe('metrics_listen checks its value', () => {
  it('a malformed address stops the start with a message', async () => {
    const r = await runProxy(['--metrics_listen', 'nohostport', '--listen', '127.0.0.1:0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /metrics_listen: expected HOST:PORT, got 'nohostport'/);
  });
});
