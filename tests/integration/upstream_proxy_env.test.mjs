// Proxy variables in the environment (http_proxy, no_proxy, ...) still route the calls to
// Replicate through a forward proxy. The proxy reads them once at start and, when none is
// set, tells libcurl "no proxy" instead of letting it look them up on every transfer
// (server/upstream.c); these tests hold the case where one is set.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CREATE_PATH, itExitsCleanly, setup, user } from './helpers.mjs';

// A forward HTTP proxy: takes absolute-form requests, records their targets, passes them on.
async function startForwardProxy() {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method,
      path: target.pathname + target.search, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { seen, url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

describe('proxy variables in the environment', () => {
  let fwd, bed;
  before(async () => {
    fwd = await startForwardProxy();
    bed = await setup({ env: { http_proxy: fwd.url } });
  });
  after(async () => { await bed?.finish(); await fwd?.close(); });

  it('http_proxy: the create goes through the forward proxy, as an absolute URL', async () => {
    const r = await bed.chat(user('through the proxy'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(bed.fake.creates().length, 1);
    assert.ok(fwd.seen.includes(`POST ${bed.fake.url}${CREATE_PATH}`), JSON.stringify(fwd.seen));
  });

  it('no_proxy naming the upstream host: the calls go straight to it', async () => {
    const p = await bed.addProxy({ env: { http_proxy: fwd.url, no_proxy: '127.0.0.1' } });
    const before = fwd.seen.length;
    const r = await bed.request('POST', '/v1/chat/completions', { base: p.url, body: user('straight') });
    assert.equal(r.status, 200, r.text);
    assert.equal(fwd.seen.length, before, 'nothing went through the forward proxy');
    assert.equal(bed.fake.creates().length, 2);
  });

  it('no proxy variable: the calls go straight to the upstream', async () => {
    const env = { http_proxy: undefined, HTTP_PROXY: undefined, all_proxy: undefined, ALL_PROXY: undefined };
    const p = await bed.addProxy({ env });
    const before = fwd.seen.length;
    const r = await bed.request('POST', '/v1/chat/completions', { base: p.url, body: user('direct') });
    assert.equal(r.status, 200, r.text);
    assert.equal(fwd.seen.length, before);
    assert.equal(bed.fake.creates().length, 3);
  });

  itExitsCleanly(() => bed, it);
});
