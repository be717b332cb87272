// Which token reaches Replicate: the configured one, or the client's key passed through.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { REPLICATE_TOKEN, apiError, assertErrorReply, clientFor, setup, user, itExitsCleanly } from './helpers.mjs';

describe('auth with replicate_api_token configured', () => {
  let bed;
  before(async () => { bed = await setup({ fakeOpts: { tokens: [REPLICATE_TOKEN] } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the configured token is used on create and polls, whatever the client sends', async () => {
    const other = 'sk-some-other-client-key-0000000000000';
    bed.fake.script({ output: ['a'], polls: 2 }, { output: ['b'] });
    const c1 = await bed.client.chat.completions.create(user('one'));
    const c2 = await bed.clientFor(other).chat.completions.create(user('two'));
    assert.equal(c1.choices[0].message.content, 'a');
    assert.equal(c2.choices[0].message.content, 'b');
    const reqs = bed.fake.requests();
    assert.deepEqual(reqs.map((r) => r.kind), ['create', 'get', 'get', 'create', 'get']);
    for (const r of reqs) assert.equal(r.headers.authorization, `Bearer ${REPLICATE_TOKEN}`, `${r.method} ${r.path}`);
  });

  it('a client without any key is still served (the proxy holds the token)', async () => {
    bed.fake.script({ output: ['served'] });
    const r = await bed.chat(user('no key'), { auth: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'served');
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
  });

  itExitsCleanly(() => bed, it);
});

describe('auth with the client key passed through', () => {
  let bed;
  let pass;
  const clientToken = 'r8_ClientsOwnReplicateToken0000000000000';
  before(async () => {
    bed = await setup({ fakeOpts: { tokens: [clientToken] }, config: { replicate_api_token: null } });
    bed.proxy.addSecret(clientToken);
    pass = clientFor(bed.url, clientToken);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it("the client's Bearer key becomes the Replicate token on create and polls", async () => {
    bed.fake.script({ output: ['through'], syncStatus: 'starting', polls: 2 });
    const c = await pass.chat.completions.create(user('hi'));
    assert.equal(c.choices[0].message.content, 'through');
    const reqs = bed.fake.requests();
    assert.deepEqual(reqs.map((r) => r.kind), ['create', 'get', 'get']);
    for (const r of reqs) assert.equal(r.headers.authorization, `Bearer ${clientToken}`);
  });

  it('no key at all → 401 before any upstream call', async () => {
    const r = await bed.chat(user('hi'), { auth: false });
    assertErrorReply(r, 401);
    assert.deepEqual(bed.fake.requests(), []);
  });

  it('an empty Bearer key or a non-Bearer scheme → 401 before any upstream call', async () => {
    assertErrorReply(await bed.chat(user('hi'), { auth: false, headers: { Authorization: 'Bearer ' } }), 401);
    assertErrorReply(await bed.chat(user('hi'), { auth: false, headers: { Authorization: 'Basic dXNlcjpwYXNz' } }), 401);
    assert.deepEqual(bed.fake.requests(), []);
  });

  it('a key Replicate rejects → 401 invalid_api_key (AuthenticationError)', async () => {
    const bad = 'r8_NotAValidTokenAtAll000000000000000000';
    const e = await apiError(bed.clientFor(bad).chat.completions.create(user('hi')));
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${bad}`);
  });

  itExitsCleanly(() => bed, it);
});
