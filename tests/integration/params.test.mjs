// Request parameters: what reaches Replicate's `input`, and what is rejected (400/413/404/405).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { apiError, assertCompletion, assertCreate, assertErrorReply, setup, user, itExitsCleanly } from './helpers.mjs';

const M = 'deepseek-v3.1';
const msgs = [{ role: 'user', content: 'Hi' }];

describe('parameters', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('declared inputs are forwarded; stop, seed, n, stream, user, logprobs etc. never are', async () => {
    bed.fake.script({ output: ['fine'], metrics: { input_token_count: 1, output_token_count: 1 } });
    const c = await bed.client.chat.completions.create({
      model: M,
      messages: msgs,
      max_tokens: 100,
      temperature: 0.7,
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      seed: 42,
      n: 1,
      stream: false,
      user: 'user-1',
      logprobs: false,
      metadata: { k: 'v' },
      store: false,
      response_format: { type: 'text' },
      parallel_tool_calls: true,
      service_tier: 'auto',
    });
    assertCompletion(c, { model: M, choices: [{ content: 'fine' }], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    assertCreate(bed.fake, { prompt: 'Hi', max_tokens: 100, temperature: 0.7, top_p: 0.9, presence_penalty: 0.5, frequency_penalty: -0.5 });
  });

  it('only the parameters the client gave are sent (zeros included)', async () => {
    bed.fake.script({ output: ['a'] }, { output: ['b'] });
    await bed.client.chat.completions.create({ model: M, messages: msgs, temperature: 0 });
    await bed.client.chat.completions.create({ model: M, messages: msgs, top_p: 1, presence_penalty: 0, frequency_penalty: 2 });
    assert.deepEqual(bed.fake.creates().map((c) => c.body.input), [
      { prompt: 'Hi', temperature: 0 },
      { prompt: 'Hi', top_p: 1, presence_penalty: 0, frequency_penalty: 2 },
    ]);
  });

  it('null optional parameters count as absent', async () => {
    bed.fake.script({ output: ['a'] });
    const r = await bed.chat({ model: M, messages: msgs, temperature: null, top_p: null, max_tokens: null, stop: null, n: null, seed: null });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Hi' });
  });

  it('max_completion_tokens becomes max_tokens and wins over max_tokens', async () => {
    bed.fake.script({ output: ['a'] }, { output: ['b'] });
    await bed.client.chat.completions.create({ model: M, messages: msgs, max_completion_tokens: 64 });
    await bed.client.chat.completions.create({ model: M, messages: msgs, max_completion_tokens: 50, max_tokens: 100 });
    assert.deepEqual(bed.fake.creates().map((c) => c.body.input), [{ prompt: 'Hi', max_tokens: 64 }, { prompt: 'Hi', max_tokens: 50 }]);
  });

  it('boundary values are accepted: temperature 2, top_p 0, penalties ±2, max_tokens 1', async () => {
    bed.fake.script({ output: ['a'] });
    const c = await bed.client.chat.completions.create({ model: M, messages: msgs, temperature: 2, top_p: 0, presence_penalty: -2, frequency_penalty: 2, max_tokens: 1 });
    assert.equal(c.choices[0].message.content, 'a');
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Hi', max_tokens: 1, temperature: 2, top_p: 0, presence_penalty: -2, frequency_penalty: 2 });
  });

  itExitsCleanly(() => bed, it);
});

describe('validation', () => {
  let bed;
  before(async () => { bed = await setup({ config: { max_body_size: '64KiB' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  // After every rejection the daemon must still serve a normal request.
  async function stillServes() {
    bed.fake.reset();
    bed.fake.script({ output: ['still here'] });
    const c = await bed.client.chat.completions.create(user('ping'));
    assert.equal(c.choices[0].message.content, 'still here');
    bed.fake.reset();
  }

  const cases = [
    ['malformed JSON', '{"model": "deepseek-v3.1", "messages": [', undefined],
    ['a JSON array body', [{ model: M, messages: msgs }], undefined],
    ['a JSON string body', '"hello"', undefined],
    ['an empty body', '', undefined],
    ['missing messages', { model: M }, 'messages'],
    ['empty messages', { model: M, messages: [] }, 'messages'],
    ['messages not an array', { model: M, messages: 'Hi' }, 'messages'],
    ['a message that is not an object', { model: M, messages: ['Hi'] }, ['messages[0]', 'messages']],
    ['an unknown role', { model: M, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    ['a missing role', { model: M, messages: [{ content: 'x' }] }, 'messages[0].role'],
    ['user content of the wrong type', { model: M, messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    ['temperature 3', { model: M, messages: msgs, temperature: 3 }, 'temperature'],
    ['temperature as a string', { model: M, messages: msgs, temperature: 'hot' }, 'temperature'],
    ['top_p -1', { model: M, messages: msgs, top_p: -1 }, 'top_p'],
    ['presence_penalty 3', { model: M, messages: msgs, presence_penalty: 3 }, 'presence_penalty'],
    ['frequency_penalty -2.5', { model: M, messages: msgs, frequency_penalty: -2.5 }, 'frequency_penalty'],
    ['max_tokens 0', { model: M, messages: msgs, max_tokens: 0 }, 'max_tokens'],
    ['max_tokens "10"', { model: M, messages: msgs, max_tokens: '10' }, 'max_tokens'],
    ['max_tokens 2.5', { model: M, messages: msgs, max_tokens: 2.5 }, 'max_tokens'],
    ['max_completion_tokens -1', { model: M, messages: msgs, max_completion_tokens: -1 }, 'max_completion_tokens'],
    ['n 0', { model: M, messages: msgs, n: 0 }, 'n'],
    ['n 129', { model: M, messages: msgs, n: 129 }, 'n'],
    ['stop with 5 items', { model: M, messages: msgs, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    ['stop of the wrong type', { model: M, messages: msgs, stop: 7 }, 'stop'],
    ['an image_url content part', { model: M, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages[0].content[0]'],
    ['an image_url part after text', { model: M, messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages[0].content[1]'],
    ['logprobs true', { model: M, messages: msgs, logprobs: true }, 'logprobs'],
  ];

  for (const [name, body, param] of cases) {
    it(`${name} → 400${param ? ` (param ${param})` : ''}`, async () => {
      const r = await bed.chat(body);
      const e = assertErrorReply(r, 400, { type: 'invalid_request_error' });
      if (Array.isArray(param)) assert.ok(param.includes(e.param), `param ${e.param} should be one of ${param}`);
      else if (param) assert.equal(e.param, param, `param (message: ${e.message})`);
      assert.deepEqual(bed.fake.requests(), [], 'no upstream request');
      await stillServes();
    });
  }

  it('the SDK surfaces a 400 as BadRequestError with param', async () => {
    const e = await apiError(bed.client.chat.completions.create({ model: M, messages: msgs, temperature: 3 }));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    assert.equal(e.type, 'invalid_request_error');
  });

  it('a body over max_body_size → 413', async () => {
    const big = 'x'.repeat(100 * 1024);
    const r = await bed.chat({ model: M, messages: [{ role: 'user', content: big }] });
    assertErrorReply(r, 413);
    assert.deepEqual(bed.fake.requests(), []);
    await stillServes();
  });

  it('a body just under max_body_size is accepted', async () => {
    bed.fake.script({ output: ['big ok'] });
    const content = 'y'.repeat(60 * 1024);
    const r = await bed.chat({ model: M, messages: [{ role: 'user', content }] });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(bed.fake.creates()[0].body.input.prompt, content);
  });

  it('an unknown path → 404 error object', async () => {
    assertErrorReply(await bed.request('GET', '/v1/nope'), 404);
    assertErrorReply(await bed.request('POST', '/v1/chat/completion', { body: { model: M, messages: msgs } }), 404);
    assertErrorReply(await bed.request('GET', '/'), 404);
    assert.deepEqual(bed.fake.requests(), []);
    await stillServes();
  });

  it('a wrong method → 405 error object', async () => {
    assertErrorReply(await bed.request('GET', '/v1/chat/completions'), 405);
    assertErrorReply(await bed.request('DELETE', '/v1/chat/completions'), 405);
    assertErrorReply(await bed.request('POST', '/v1/models', { body: {} }), 405);
    await stillServes();
  });

  itExitsCleanly(() => bed, it);
});
