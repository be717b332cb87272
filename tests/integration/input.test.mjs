// Input integrity: invalid UTF-8 is a 400, a NUL (\u0000) in a string is a 400 naming
// the field (cJSON would cut the prompt there without a word), and `n` is capped by
// max_n — all before any prediction is created, on both endpoints.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertErrorReply, itExitsCleanly, setup, user } from './helpers.mjs';

const M = 'deepseek-v3.1';
// A JSON text with raw bytes spliced in at the marker.
const withBytes = (json, marker, bytes) => {
  const [a, b] = json.split(marker);
  return Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b)]);
};

describe('input integrity', () => {
  let bed;
  before(async () => { bed = await setup({ config: { max_n: 4 } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('invalid UTF-8 in chat content → 400 invalid_encoding naming the field, no create', async () => {
    const body = withBytes(JSON.stringify({ model: M, messages: [{ role: 'user', content: 'caf@' }] }), '@', [0xe9]);
    const r = await bed.request('POST', '/v1/chat/completions', { body });
    const e = assertErrorReply(r, 400, { type: 'invalid_request_error', code: 'invalid_encoding', param: 'messages[0].content' });
    assert.match(e.message, /UTF-8/);
    assert.match(e.message, /0xe9 at offset \d+/);
    assert.equal(bed.fake.creates().length, 0);
  });

  it('invalid UTF-8 in a legacy prompt array → 400 naming the element', async () => {
    const body = withBytes(JSON.stringify({ model: M, prompt: ['fine', 'bad @'] }), '@', [0xc3, 0x28]);
    const r = await bed.request('POST', '/v1/completions', { body });
    assertErrorReply(r, 400, { code: 'invalid_encoding', param: 'prompt[1]' });
    assert.equal(bed.fake.creates().length, 0);
  });

  it('a NUL in chat content → 400 naming the field (never a silent cut), no create', async () => {
    const body = { model: M, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'keep\u0000all of this' }] };
    const r = await bed.chat(body);
    const e = assertErrorReply(r, 400, { type: 'invalid_request_error', code: 'invalid_value', param: 'messages[1].content' });
    assert.match(e.message, /NUL/);
    assert.equal(bed.fake.creates().length, 0);
  });

  it('a NUL in a content part and in a tool description are named too', async () => {
    let r = await bed.chat({ model: M, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: '\u0000' }] }] });
    assertErrorReply(r, 400, { param: 'messages[0].content[1].text' });
    r = await bed.chat({ ...user('x'), tools: [{ type: 'function', function: { name: 'f', description: 'x\u0000y' } }] });
    assertErrorReply(r, 400, { param: 'tools[0].function.description' });
    assert.equal(bed.fake.creates().length, 0);
  });

  it('a NUL in a legacy prompt, string or array → 400 naming it, no create', async () => {
    let r = await bed.request('POST', '/v1/completions', { body: { model: M, prompt: 'cut\u0000here' } });
    assertErrorReply(r, 400, { code: 'invalid_value', param: 'prompt' });
    r = await bed.request('POST', '/v1/completions', { body: { model: M, prompt: ['a', 'b', 'c\u0000'] } });
    assertErrorReply(r, 400, { code: 'invalid_value', param: 'prompt[2]' });
    assert.equal(bed.fake.creates().length, 0);
  });

  it('other escaped control characters reach Replicate intact', async () => {
    bed.fake.script({ output: ['ok'] });
    const r = await bed.chat(user('tab\there\u0001end'));
    assert.equal(r.status, 200, r.text);
    assert.ok(bed.fake.creates()[0].body.input.prompt.includes('tab\there\u0001end'));
  });

  it('n above max_n → 400 param n naming the cap, both endpoints, no create', async () => {
    let r = await bed.chat({ ...user('hi'), n: 5 });
    let e = assertErrorReply(r, 400, { type: 'invalid_request_error', param: 'n' });
    assert.match(e.message, /maximum of 4/);
    r = await bed.request('POST', '/v1/completions', { body: { model: M, prompt: 'x', n: 5 } });
    e = assertErrorReply(r, 400, { param: 'n' });
    assert.match(e.message, /maximum of 4/);
    r = await bed.request('POST', '/v1/completions', { body: { model: M, prompt: 'x', n: 4, best_of: 5 } });
    assertErrorReply(r, 400, { param: 'best_of' });
    assert.equal(bed.fake.creates().length, 0);
  });

  it('n at max_n is served: exactly that many predictions', async () => {
    const r = await bed.chat({ ...user('hi'), n: 4 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices.length, 4);
    assert.equal(bed.fake.creates().length, 4);
  });

  itExitsCleanly(() => bed, it);
});

describe('input integrity: max_n default', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  it('n = 128 (allowed by the API) is refused with the default cap of 8', async () => {
    const r = await bed.chat({ ...user('hi'), n: 128 });
    const e = assertErrorReply(r, 400, { param: 'n' });
    assert.match(e.message, /maximum of 8/);
    assert.equal(bed.fake.creates().length, 0);
  });

  itExitsCleanly(() => bed, it);
});
