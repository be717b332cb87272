// Browser safety with raw requests: a foreign Origin is refused before any upstream
// call (browsers send Origin on every cross-site POST, forms and text/plain fetches
// included), listed origins get CORS, preflights are answered, and where the proxy
// spends its own token a foreign Host (DNS rebinding) is refused.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertErrorReply, itExitsCleanly, setup, user } from './helpers.mjs';

const APP = 'http://app.example:5173';
const BODY = JSON.stringify(user('from a page'));

// Exact headers, nothing added (no default Content-Type, the given Host).
function raw(port, method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent: false, setHost: !('Host' in h) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('origin: default config (a server token, no origin allowed)', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());
  const port = () => bed.proxy.port;

  it('a text/plain POST with a foreign Origin → 403 origin_not_allowed, no create', async () => {
    const r = await raw(port(), 'POST', '/v1/chat/completions',
      { Origin: 'http://evil.example', 'Content-Type': 'text/plain;charset=UTF-8' }, BODY);
    assertErrorReply(r, 403, { type: 'invalid_request_error', code: 'origin_not_allowed', param: null });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(bed.fake.creates().length, 0);
  });

  it('a form POST (urlencoded, Origin: null from a sandboxed frame too) → 403, no create', async () => {
    for (const origin of ['http://evil.example', 'null']) {
      const r = await raw(port(), 'POST', '/v1/completions',
        { Origin: origin, 'Content-Type': 'application/x-www-form-urlencoded' }, `{"model":"deepseek-v3.1","prompt":"x","a":"=b"}`);
      assertErrorReply(r, 403, { code: 'origin_not_allowed' });
    }
    assert.equal(bed.fake.requests().length, 0);
  });

  it('GET with a foreign Origin → 403 too', async () => {
    const r = await raw(port(), 'GET', '/v1/models', { Origin: 'http://evil.example' });
    assertErrorReply(r, 403, { code: 'origin_not_allowed' });
  });

  it('no Origin and no Content-Type (curl -d) → served', async () => {
    bed.fake.script({ output: ['curl ok'] });
    const r = await raw(port(), 'POST', '/v1/chat/completions', {}, BODY);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'curl ok');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(bed.fake.creates().length, 1);
  });

  it('a preflight from a foreign origin → 403 JSON; OPTIONS without Origin → 204 with Allow', async () => {
    const r = await raw(port(), 'OPTIONS', '/v1/chat/completions',
      { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' });
    assertErrorReply(r, 403, { code: 'origin_not_allowed' });
    const o = await raw(port(), 'OPTIONS', '/v1/chat/completions');
    assert.equal(o.status, 204);
    assert.equal(o.headers.allow, 'GET, POST, OPTIONS');
    assert.equal(o.text, '');
  });

  it('Host attacker.example (DNS rebinding) → 421 host_not_allowed, no create', async () => {
    for (const host of ['attacker.example', `attacker.example:${port()}`, `localhost.attacker.example:${port()}`]) {
      const r = await raw(port(), 'POST', '/v1/chat/completions', { Host: host, 'Content-Type': 'application/json' }, BODY);
      assertErrorReply(r, 421, { type: 'invalid_request_error', code: 'host_not_allowed', param: null });
    }
    assert.equal(bed.fake.creates().length, 0);
  });

  it('Host localhost, 127.0.0.1 and [::1] (any port) are served', async () => {
    for (const host of [`localhost:${port()}`, 'LOCALHOST', `127.0.0.1:${port()}`, '[::1]:80']) {
      const r = await raw(port(), 'GET', '/v1/models', { Host: host });
      assert.equal(r.status, 200, `${host}: ${r.text}`);
    }
  });

  itExitsCleanly(() => bed, it);
});

describe('origin: cors_origins lists the app', () => {
  let bed;
  before(async () => { bed = await setup({ config: { cors_origins: `${APP}, https://other.example`, server_names: 'proxy.example' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());
  const port = () => bed.proxy.port;

  it('an allowed origin is served with CORS headers', async () => {
    bed.fake.script({ output: ['cors ok'] });
    const r = await raw(port(), 'POST', '/v1/chat/completions',
      { Origin: APP, 'Content-Type': 'application/json', Authorization: 'Bearer sk-x' }, BODY);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'cors ok');
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.match(r.headers.vary, /Origin/);
    const exposed = r.headers['access-control-expose-headers'];
    for (const h of ['x-request-id', 'retry-after', 'x-ratelimit-remaining-requests', 'openai-processing-ms']) assert.ok(exposed.includes(h), exposed);
    assert.equal(bed.fake.creates().length, 1);
  });

  it('an error for an allowed origin is readable by the page (CORS headers on it too)', async () => {
    const r = await raw(port(), 'POST', '/v1/chat/completions', { Origin: APP, 'Content-Type': 'application/json' }, '{');
    assertErrorReply(r, 400);
    assert.equal(r.headers['access-control-allow-origin'], APP);
  });

  it('a preflight from an allowed origin → 204 with the CORS answer (any path)', async () => {
    for (const path of ['/v1/chat/completions', '/chat/completions', '/nowhere']) {
      const r = await raw(port(), 'OPTIONS', path, {
        Origin: APP, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-stainless-arch',
      });
      assert.equal(r.status, 204, r.text);
      assert.equal(r.text, '');
      assert.equal(r.headers['access-control-allow-origin'], APP);
      assert.equal(r.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
      assert.equal(r.headers['access-control-allow-headers'], 'authorization,content-type,x-stainless-arch');
      assert.equal(r.headers['access-control-max-age'], '600');
      assert.match(r.headers.vary, /Origin/);
    }
    const d = await raw(port(), 'OPTIONS', '/v1/models', { Origin: APP, 'Access-Control-Request-Method': 'GET' });
    assert.equal(d.headers['access-control-allow-headers'], 'authorization, content-type, x-api-key');
    assert.equal(bed.fake.requests().length, 0);
  });

  it('another origin is still refused; a near miss too', async () => {
    for (const origin of ['http://app.example:5174', 'http://app.example', 'https://app.example:5173', `${APP}/`]) {
      const r = await raw(port(), 'POST', '/v1/chat/completions', { Origin: origin, 'Content-Type': 'text/plain' }, BODY);
      assertErrorReply(r, 403, { code: 'origin_not_allowed' });
    }
    assert.equal(bed.fake.creates().length, 0);
  });

  it('server_names are served as Host; others are not', async () => {
    assert.equal((await raw(port(), 'GET', '/v1/models', { Host: 'proxy.example' })).status, 200);
    assertErrorReply(await raw(port(), 'GET', '/v1/models', { Host: 'proxy.example.evil' }), 421, { code: 'host_not_allowed' });
  });

  itExitsCleanly(() => bed, it);
});

describe('origin: Host check modes', () => {
  let bed;
  const clientToken = 'r8_ClientsOwnReplicateToken0000000000000';
  before(async () => { bed = await setup({ config: { replicate_api_token: null } }); });
  after(async () => { await bed?.finish(); });

  it('pass-through (no server token): any Host is served (the client brings its token)', async () => {
    bed.proxy.addSecret(clientToken);
    bed.fake.script({ output: ['pass'] });
    const r = await raw(bed.proxy.port, 'POST', '/v1/chat/completions',
      { Host: 'attacker.example', 'Content-Type': 'application/json', Authorization: `Bearer ${clientToken}` }, BODY);
    assert.equal(r.status, 200, r.text);
  });

  it('a token from the environment (REPLICATE_API_TOKEN) turns the Host check on', async () => {
    const p = await bed.addProxy({ config: { replicate_api_token: null }, env: { REPLICATE_API_TOKEN: 'r8_EnvTokenForTheHostCheck00000000000000' } });
    const r = await raw(p.port, 'POST', '/v1/chat/completions', { Host: 'attacker.example', 'Content-Type': 'application/json' }, BODY);
    assertErrorReply(r, 421, { code: 'host_not_allowed' });
  });

  it('with master_key set, any Host is served unless server_names is set', async () => {
    const p = await bed.addProxy({ config: { master_key: 'mk-TestMasterKey-0000000000' }, secrets: ['mk-TestMasterKey-0000000000'] });
    assert.equal((await raw(p.port, 'GET', '/v1/models', { Host: 'gateway.example' })).status, 200);
    const q = await bed.addProxy({ config: { master_key: 'mk-TestMasterKey-0000000000', server_names: 'gw.example' }, secrets: ['mk-TestMasterKey-0000000000'] });
    assert.equal((await raw(q.port, 'GET', '/v1/models', { Host: 'gw.example' })).status, 200);
    assertErrorReply(await raw(q.port, 'GET', '/v1/models', { Host: 'gateway.example' }), 421, { code: 'host_not_allowed' });
  });

  itExitsCleanly(() => bed, it);
});
