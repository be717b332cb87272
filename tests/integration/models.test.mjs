// GET /v1/models, GET /v1/models/{id}, and model aliases in chat requests.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CREATE_PATH, MODEL, apiError, assertErrorReply, setup, itExitsCleanly } from './helpers.mjs';

const ALIASES = ['deepseek-v3.1', 'deepseek-chat', 'deepseek-ai/deepseek-v3.1'];

describe('models', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('GET /v1/models lists the aliases in OpenAI shape, without calling upstream', async () => {
    const r = await bed.request('GET', '/v1/models');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(Object.keys(r.json).sort(), ['data', 'object']);
    assert.equal(r.json.object, 'list');
    assert.ok(Array.isArray(r.json.data) && r.json.data.length >= 2, r.text);
    const ids = r.json.data.map((m) => m.id);
    for (const id of ['deepseek-v3.1', 'deepseek-chat']) assert.ok(ids.includes(id), `${id} listed: ${ids}`);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    for (const m of r.json.data) {
      assert.deepEqual(Object.keys(m).sort(), ['created', 'id', 'object', 'owned_by'], JSON.stringify(m));
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'deepseek-ai');
      assert.ok(Number.isInteger(m.created) && m.created > 1.6e9 && m.created < Date.now() / 1000 + 1, `created ${m.created}`);
    }
    assert.deepEqual(bed.fake.requests(), [], 'no upstream request');
  });

  it('the SDK lists the same models', async () => {
    const raw = (await bed.request('GET', '/v1/models')).json.data;
    const page = await bed.client.models.list();
    assert.deepEqual(page.data, raw);
  });

  it('GET /v1/models/{id} returns the listed entry (SDK)', async () => {
    const raw = (await bed.request('GET', '/v1/models')).json.data;
    for (const id of ['deepseek-v3.1', 'deepseek-chat']) {
      const m = await bed.client.models.retrieve(id);
      assert.deepEqual({ ...m }, raw.find((x) => x.id === id));
    }
  });

  it('GET /v1/models/deepseek-ai/deepseek-v3.1 works with a literal slash and with %2F (as openai-node 6 sends it)', async () => {
    for (const path of ['/v1/models/deepseek-ai/deepseek-v3.1', '/v1/models/deepseek-ai%2Fdeepseek-v3.1']) {
      const r = await bed.request('GET', path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.deepEqual(Object.keys(r.json).sort(), ['created', 'id', 'object', 'owned_by']);
      assert.equal(r.json.id, 'deepseek-ai/deepseek-v3.1');
      assert.equal(r.json.object, 'model');
      assert.equal(r.json.owned_by, 'deepseek-ai');
    }
    const m = await bed.client.models.retrieve('deepseek-ai/deepseek-v3.1');
    assert.equal(m.id, 'deepseek-ai/deepseek-v3.1');
  });

  it('an unknown model id → 404 model_not_found', async () => {
    const r = await bed.request('GET', '/v1/models/gpt-4o');
    assertErrorReply(r, 404, { code: 'model_not_found' });
    const e = await apiError(bed.client.models.retrieve('no-such-model'));
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    const r2 = await bed.request('GET', '/v1/models/deepseek-ai/deepseek-v3');
    assertErrorReply(r2, 404, { code: 'model_not_found' });
  });

  for (const alias of ALIASES) {
    it(`chat with model "${alias}" runs ${MODEL} and echoes the alias`, async () => {
      bed.fake.script({ output: [`answer for ${alias}`] });
      const c = await bed.client.chat.completions.create({ model: alias, messages: [{ role: 'user', content: 'Hi' }] });
      assert.equal(c.model, alias);
      assert.equal(c.choices[0].message.content, `answer for ${alias}`);
      const creates = bed.fake.creates();
      assert.equal(creates.length, 1);
      assert.equal(creates[0].path, CREATE_PATH);
    });
  }

  it('chat with an unknown model → 404 model_not_found, param "model", no upstream call', async () => {
    const r = await bed.chat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    assertErrorReply(r, 404, { code: 'model_not_found', param: 'model' });
    const e = await apiError(bed.client.chat.completions.create({ model: 'deepseek-v3', messages: [{ role: 'user', content: 'Hi' }] }));
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.equal(e.param, 'model');
    assert.deepEqual(bed.fake.requests(), []);
  });

  itExitsCleanly(() => bed, it);
});

describe('a configured model other than the default', () => {
  let bed;
  const OTHER = 'acme/ds-mirror';
  before(async () => { bed = await setup({ fakeOpts: { models: [OTHER] }, config: { model: OTHER } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  for (const alias of ['deepseek-v3.1', 'deepseek-chat', OTHER]) {
    it(`"${alias}" routes to /v1/models/${OTHER}/predictions`, async () => {
      bed.fake.script({ output: ['mirror'] });
      const c = await bed.client.chat.completions.create({ model: alias, messages: [{ role: 'user', content: 'Hi' }] });
      assert.equal(c.model, alias);
      assert.equal(c.choices[0].message.content, 'mirror');
      assert.deepEqual(bed.fake.creates().map((e) => e.path), [`/v1/models/${OTHER}/predictions`]);
    });
  }

  itExitsCleanly(() => bed, it);
});
