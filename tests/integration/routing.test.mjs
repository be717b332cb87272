// Routes: clients whose base URL lacks /v1, and the 404/405 answers around them.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { CLIENT_KEY, assertErrorReply, itExitsCleanly, request, setup, user } from './helpers.mjs';

describe('routing', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a client configured without /v1 in its base URL is served the same API', async () => {
    bed.fake.script({ output: ['no v1 needed'] });
    const client = new OpenAI({ baseURL: bed.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const c = await client.chat.completions.create(user('hi'));
    assert.equal(c.choices[0].message.content, 'no v1 needed');
    assert.equal(bed.fake.creates().length, 1);
    assert.equal(bed.fake.creates()[0].body.input.prompt, 'hi');
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === 'deepseek-v3.1'));
  });

  it('GET on a POST route without /v1 is 405 with Allow, an unknown path 404', async () => {
    const r = await request(bed.url, 'GET', '/chat/completions');
    assertErrorReply(r, 405, { code: 'method_not_allowed' });
    assert.equal(r.headers.allow, 'POST');
    assertErrorReply(await request(bed.url, 'GET', '/v2/chat/completions'), 404, { code: 'not_found' });
    assertErrorReply(await request(bed.url, 'GET', '/health/extra'), 404, { code: 'not_found' });
    assert.deepEqual(bed.fake.requests(), []);
  });

  it('a 404 names the method, the path and the /v1 endpoints this server serves (from the route table)', async () => {
    const r = await request(bed.url, 'GET', '/v1/chat/completion?x=1');
    assertErrorReply(r, 404, { code: 'not_found', type: 'invalid_request_error', param: null });
    assert.equal(r.json.error.message, 'Invalid URL (GET /v1/chat/completion). This server serves: '
      + 'GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions, POST /v1/completions, '
      + 'POST /v1/responses, POST /v1/messages, POST /v1/messages/count_tokens');
    const root = await request(bed.url, 'GET', '/');
    assertErrorReply(root, 404, { code: 'not_found' });
    assert.match(root.json.error.message, /^Invalid URL \(GET \/\)\. This server serves: GET \/v1\/models, /);
    // A long path (up to the 256-byte limit) is clipped so the list still fits.
    const long = await request(bed.url, 'POST', `/${'a'.repeat(250)}`, { body: {} });
    assertErrorReply(long, 404, { code: 'not_found' });
    assert.match(long.json.error.message, /POST \/v1\/messages\/count_tokens$/);
    assert.deepEqual(bed.fake.requests(), []);
  });

  itExitsCleanly(() => bed, it);
});
