// Legacy POST /v1/completions (client.completions.create): the prompt sent
// verbatim (no chat template), text_completion objects, echo, prompt arrays,
// n, stop, streaming, and the refused suffix/logprobs; plus chat parameters the
// model cannot honour (logprobs, top_logprobs, logit_bias, images) and unknown
// fields, which are ignored.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CREATE_PATH, REPLICATE_TOKEN, apiError, assertCreate, assertErrorReply, clientFor, setup, itExitsCleanly } from './helpers.mjs';
import { EOS, rawStream } from './deepseek.mjs';

const M = 'deepseek-v3.1';

function assertTextCompletion(c, { model = M, choices, usage }) {
  assert.equal(c.object, 'text_completion');
  assert.equal(typeof c.id, 'string');
  assert.match(c.id, /^cmpl-/, `id ${c.id}`);
  assert.ok(Number.isInteger(c.created) && Math.abs(c.created - Date.now() / 1000) < 30, `created ${c.created} in unix seconds`);
  assert.equal(c.model, model);
  assert.deepEqual(c.choices, choices.map((ch, i) => ({ text: ch.text, index: i, logprobs: null, finish_reason: ch.finish_reason ?? 'stop' })));
  if (usage) {
    assert.deepEqual(
      { p: c.usage.prompt_tokens, c: c.usage.completion_tokens, t: c.usage.total_tokens },
      { p: usage.prompt_tokens, c: usage.completion_tokens, t: usage.prompt_tokens + usage.completion_tokens },
    );
  }
}

describe('legacy completions', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the prompt string is sent verbatim as input.prompt; a text_completion comes back', async () => {
    const prompt = 'User: not a label\n\nOnce upon a time';
    bed.fake.script({ output: [' there', ' was', ' a fox.'], metrics: { input_token_count: 8, output_token_count: 3 } });
    const c = await bed.client.completions.create({ model: M, prompt });
    assertTextCompletion(c, { choices: [{ text: ' there was a fox.' }], usage: { prompt_tokens: 8, completion_tokens: 3 } });
    const create = assertCreate(bed.fake, { prompt });
    assert.equal(create.path, CREATE_PATH);
    assert.equal(create.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
  });

  it('the raw reply: status 200, JSON, exact choice keys', async () => {
    bed.fake.script({ output: ['x'] });
    const r = await bed.request('POST', '/v1/completions', { body: { model: M, prompt: 'p' } });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.json.object, 'text_completion');
    assert.deepEqual(Object.keys(r.json.choices[0]).sort(), ['finish_reason', 'index', 'logprobs', 'text']);
    assert.deepEqual(r.json.choices[0], { text: 'x', index: 0, logprobs: null, finish_reason: 'stop' });
    for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) assert.equal(typeof r.json.usage[k], 'number');
  });

  it('sampling parameters are forwarded; finish_reason "length" at max_tokens', async () => {
    bed.fake.script({ output: ['a b c'], metrics: { input_token_count: 2, output_token_count: 3 } });
    const c = await bed.client.completions.create({ model: M, prompt: 'Count:', max_tokens: 3, temperature: 0.2, top_p: 0.5, presence_penalty: 1, frequency_penalty: 0.5, seed: 7, user: 'u' });
    assert.equal(c.choices[0].finish_reason, 'length');
    assertCreate(bed.fake, { prompt: 'Count:', max_tokens: 3, temperature: 0.2, top_p: 0.5, presence_penalty: 1, frequency_penalty: 0.5 });
  });

  it('echo: true prepends the prompt to the text', async () => {
    bed.fake.script({ output: [' world'] });
    const c = await bed.client.completions.create({ model: M, prompt: 'Hello', echo: true });
    assert.equal(c.choices[0].text, 'Hello world');
    assert.equal(bed.fake.creates()[0].body.input.prompt, 'Hello');
  });

  it('prompt ["a","b"] → two predictions, choices 0 and 1 with their own texts', async () => {
    bed.fake.script(
      { output: [' for alpha'], match: (b) => b.input.prompt === 'alpha', createDelay: 80 },
      { output: [' for beta'], match: (b) => b.input.prompt === 'beta' },
    );
    const c = await bed.client.completions.create({ model: M, prompt: ['alpha', 'beta'] });
    assertTextCompletion(c, { choices: [{ text: ' for alpha' }, { text: ' for beta' }] });
    assert.deepEqual(bed.fake.creates().map((x) => x.body.input.prompt).sort(), ['alpha', 'beta']);
  });

  it('prompt array with echo: each choice echoes its own prompt', async () => {
    bed.fake.script(
      { output: ['1'], match: (b) => b.input.prompt === 'A=' },
      { output: ['2'], match: (b) => b.input.prompt === 'B=' },
    );
    const c = await bed.client.completions.create({ model: M, prompt: ['A=', 'B='], echo: true });
    assert.deepEqual(c.choices.map((ch) => ch.text), ['A=1', 'B=2']);
  });

  it('n: 2 with one prompt → two predictions of the same prompt, usage summed', async () => {
    bed.fake.script(
      { output: ['one'], metrics: { input_token_count: 4, output_token_count: 1 } },
      { output: ['two'], metrics: { input_token_count: 4, output_token_count: 2 } },
    );
    const c = await bed.client.completions.create({ model: M, prompt: 'Go', n: 2 });
    assert.deepEqual(c.choices.map((ch) => ch.index), [0, 1]);
    assert.deepEqual(c.choices.map((ch) => ch.text).sort(), ['one', 'two']);
    assert.deepEqual(bed.fake.creates().map((x) => x.body.input), [{ prompt: 'Go' }, { prompt: 'Go' }]);
    assert.equal(c.usage.prompt_tokens, 8);
    assert.equal(c.usage.completion_tokens, 3);
  });

  it('prompt array × n: choices are grouped by prompt (0,1 → first prompt; 2,3 → second)', async () => {
    bed.fake.script(
      { output: ['a1'], match: (b) => b.input.prompt === 'A' },
      { output: ['a2'], match: (b) => b.input.prompt === 'A' },
      { output: ['b1'], match: (b) => b.input.prompt === 'B' },
      { output: ['b2'], match: (b) => b.input.prompt === 'B' },
    );
    const c = await bed.client.completions.create({ model: M, prompt: ['A', 'B'], n: 2 });
    assert.deepEqual(c.choices.map((ch) => ch.index), [0, 1, 2, 3]);
    const texts = c.choices.map((ch) => ch.text);
    assert.deepEqual(texts.slice(0, 2).sort(), ['a1', 'a2'], JSON.stringify(texts));
    assert.deepEqual(texts.slice(2).sort(), ['b1', 'b2'], JSON.stringify(texts));
  });

  it('stop cuts the text (across chunks); never sent upstream', async () => {
    bed.fake.script({ output: ['1, 2, 3', ',', ' 4\n\n', '5'] });
    const c = await bed.client.completions.create({ model: M, prompt: 'Count:', stop: ['\n\n'] });
    assert.equal(c.choices[0].text, '1, 2, 3, 4');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Count:' });
  });

  it('<｜end▁of▁sentence｜> in the output ends the text and is stripped', async () => {
    bed.fake.script({ output: ['The end.', EOS, 'garbage'] });
    const c = await bed.client.completions.create({ model: M, prompt: 'Story:' });
    assert.equal(c.choices[0].text, 'The end.');
  });

  it('streaming through the SDK: text chunks, a finish chunk, [DONE]', async () => {
    bed.fake.script({ output: [' there', ' was', ' a fox.'] });
    const s = await bed.client.completions.create({ model: M, prompt: 'Once upon a time', stream: true });
    let text = '';
    let finish = null;
    let n = 0;
    for await (const ch of s) {
      n++;
      assert.equal(ch.object, 'text_completion');
      assert.equal(ch.choices.length, 1);
      assert.equal(ch.choices[0].index, 0);
      text += ch.choices[0].text;
      if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
    }
    assert.equal(text, ' there was a fox.');
    assert.equal(finish, 'stop');
    assert.ok(n >= 2, `several chunks (${n})`);
    assert.equal(bed.fake.streams().length, 1, 'read through urls.stream');
  });

  it('streaming raw: chunk shape, same id, finish only in the last chunk of the choice, [DONE]', async () => {
    bed.fake.script({ output: ['a', 'b', 'c'] });
    const chunks = await rawStream(bed, '/v1/completions', { model: M, prompt: 'x', max_tokens: 50 });
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, 'one id');
    let text = '';
    const finishes = [];
    for (const c of chunks) {
      assert.equal(c.object, 'text_completion');
      assert.equal(c.model, M);
      for (const ch of c.choices) {
        assert.equal(typeof ch.text, 'string');
        assert.ok('logprobs' in ch && ch.logprobs === null, `logprobs null: ${JSON.stringify(ch)}`);
        text += ch.text;
        finishes.push(ch.finish_reason);
      }
    }
    assert.equal(text, 'abc');
    assert.equal(finishes.at(-1), 'stop');
    assert.ok(finishes.slice(0, -1).every((f) => f === null), `finish_reason null until the end: ${finishes}`);
  });

  it('streaming with echo, stop and a prompt array', async () => {
    bed.fake.script(
      { output: ['1', '|', 'x'], match: (b) => b.input.prompt === 'A=' },
      { output: ['2|y'], match: (b) => b.input.prompt === 'B=' },
    );
    const chunks = await rawStream(bed, '/v1/completions', { model: M, prompt: ['A=', 'B='], echo: true, stop: '|' });
    const texts = ['', ''];
    const finish = [null, null];
    for (const c of chunks) for (const ch of c.choices) { texts[ch.index] += ch.text; if (ch.finish_reason) finish[ch.index] = ch.finish_reason; }
    assert.deepEqual(texts, ['A=1', 'B=2']);
    assert.deepEqual(finish, ['stop', 'stop']);
  });

  it('suffix "x" → 400 param suffix; nothing sent upstream', async () => {
    const e = await apiError(bed.client.completions.create({ model: M, prompt: 'def f(', suffix: 'x' }));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'suffix');
    assertErrorReply(await bed.request('POST', '/v1/completions', { body: { model: M, prompt: 'p', suffix: 'x' } }), 400, { param: 'suffix', type: 'invalid_request_error' });
    assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
  });

  it('logprobs: 1 → 400 param logprobs', async () => {
    const e = await apiError(bed.client.completions.create({ model: M, prompt: 'p', logprobs: 1 }));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'logprobs');
    assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
  });

  it('a missing prompt, or token arrays → 400 param prompt', async () => {
    assertErrorReply(await bed.request('POST', '/v1/completions', { body: { model: M } }), 400, { param: 'prompt' });
    assertErrorReply(await bed.request('POST', '/v1/completions', { body: { model: M, prompt: [1, 2, 3] } }), 400, { param: 'prompt' });
    assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
  });

  itExitsCleanly(() => bed, it);
});

describe('legacy completions with prompt_format = deepseek', () => {
  let bed;
  let client;
  before(async () => {
    bed = await setup();
    const p = await bed.addProxy({ config: { prompt_format: 'deepseek' } });
    client = clientFor(p.url, bed.apiKey);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the prompt is still sent verbatim: no chat template for completions', async () => {
    bed.fake.script({ output: ['ok'] });
    const c = await client.completions.create({ model: M, prompt: 'Raw text' });
    assert.equal(c.choices[0].text, 'ok');
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Raw text' });
  });

  itExitsCleanly(() => bed, it);
});

describe('unsupported chat parameters', () => {
  let bed;
  const msgs = [{ role: 'user', content: 'Hi' }];
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const refused = [
    ['logprobs: true', { logprobs: true }, 'logprobs'],
    ['top_logprobs: 2', { top_logprobs: 2 }, 'top_logprobs'],
    ['logprobs: true with top_logprobs: 2', { logprobs: true, top_logprobs: 2 }, ['logprobs', 'top_logprobs']],
    ['logit_bias: {"1": 5}', { logit_bias: { 1: 5 } }, 'logit_bias'],
    ['an image_url content part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, 'messages[0].content[0]'],
  ];
  for (const [name, extra, param] of refused) {
    it(`${name} → 400 invalid_request_error, param ${param}; nothing sent upstream`, async () => {
      const e = await apiError(bed.client.chat.completions.create({ model: M, messages: msgs, ...extra }));
      assert.equal(e.status, 400);
      if (Array.isArray(param)) assert.ok(param.includes(e.param), `param ${e.param}`);
      else assert.equal(e.param, param, e.message);
      assert.equal(e.type, 'invalid_request_error');
      assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
    });
  }

  it('the refusals also hold for streaming requests (a plain 400, not a stream)', async () => {
    const r = await bed.chat({ model: M, messages: msgs, logit_bias: { 1: 5 }, stream: true });
    assertErrorReply(r, 400, { param: 'logit_bias' });
  });

  it('logprobs: false, top_logprobs: null and logit_bias: null / {} are accepted', async () => {
    bed.fake.script({ output: ['ok'] }, { output: ['ok'] });
    let r = await bed.chat({ model: M, messages: msgs, logprobs: false, top_logprobs: null, logit_bias: null });
    assert.equal(r.status, 200, r.text);
    r = await bed.chat({ model: M, messages: msgs, logit_bias: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(bed.fake.creates().map((c) => c.body.input), [{ prompt: 'Hi' }, { prompt: 'Hi' }]);
  });

  it('unknown extra fields (top level, in messages, in tools) are ignored: 200, nothing extra upstream', async () => {
    bed.fake.script({ output: ['fine'] });
    const r = await bed.chat({
      model: M,
      messages: [{ role: 'user', content: 'Hi', x_custom: 1 }],
      some_future_option: { nested: [1, 2] },
      web_search_options: {},
      verbosity: 'low',
      prediction: { type: 'content', content: 'x' },
      store: true,
      service_tier: 'default',
      modalities: ['text'],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'fine');
    assertCreate(bed.fake, { prompt: 'Hi' });
  });

  itExitsCleanly(() => bed, it);
});
