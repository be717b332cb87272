// Non-streaming chat completions: the prediction lifecycle, the reply, usage, and
// prompt rendering (plain and deepseek formats).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CREATE_PATH, REPLICATE_TOKEN, assertCompletion, assertCreate, clientFor, setup, user, itExitsCleanly } from './helpers.mjs';

// DeepSeek V3.1 special tokens (U+FF5C fullwidth bar, U+2581 lower one eighth block).
const BOS = '<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>';
const EOS = '<\uFF5Cend\u2581of\u2581sentence\uFF5C>';
const USER = '<\uFF5CUser\uFF5C>';
const ASSISTANT = '<\uFF5CAssistant\uFF5C>';

let bed;
const promptSent = () => bed.fake.creates().at(-1).body.input.prompt;

describe('chat basics', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('creates a prediction, polls urls.get to terminal, answers a chat.completion', async () => {
    bed.fake.script({
      output: ['\n\n', 'Hel', 'lo', '', ' there', '!\n', 'Bye', ''],
      syncStatus: 'processing',
      polls: 1,
      metrics: { input_token_count: 9, output_token_count: 7 },
    });
    const c = await bed.client.chat.completions.create(user('Say hi'));
    assertCompletion(c, {
      model: 'deepseek-v3.1',
      choices: [{ content: '\n\nHello there!\nBye', finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 7 },
    });
    const create = assertCreate(bed.fake, { prompt: 'Say hi' });
    assert.equal(c.id, `chatcmpl-${create.predictionId}`);
    const gets = bed.fake.gets();
    assert.equal(gets.length, 1, 'one GET: the sync reply was "processing"');
    assert.equal(gets[0].path, `/v1/predictions/${create.predictionId}`);
    assert.equal(gets[0].headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
    // The create's header set, whole: curl's default "Accept: */*" is not sent.
    assert.deepEqual(Object.keys(create.headers).sort(), ['authorization', 'content-length',
      'content-type', 'host', 'prefer', 'user-agent', 'x-request-id']);
    assert.equal(gets[0].headers.accept, undefined);
    assert.deepEqual(bed.fake.cancels, []);
  });

  it('a create over 1 MiB goes out whole without Expect: 100-continue (no round trip waiting for 100)', async () => {
    bed.fake.script({ output: ['ok'], metrics: { input_token_count: 1, output_token_count: 1 } });
    const big = 'x'.repeat(1100 * 1000);
    const c = await bed.client.chat.completions.create(user(big));
    assert.equal(c.choices[0].message.content, 'ok');
    const create = bed.fake.creates().at(-1);
    assert.equal(create.headers.expect, undefined);
    assert.equal(create.body.input.prompt, big);
    assert.equal(Number(create.headers['content-length']), Buffer.byteLength(create.rawBody));
    // Under 1 MiB curl asks for nothing either; the header set is the small request's.
    bed.fake.script({ output: ['ok'], metrics: { input_token_count: 1, output_token_count: 1 } });
    await bed.client.chat.completions.create(user('x'.repeat(900 * 1000)));
    assert.deepEqual(Object.keys(bed.fake.creates().at(-1).headers).sort(), ['authorization', 'content-length',
      'content-type', 'host', 'prefer', 'user-agent', 'x-request-id']);
  });

  it('the raw reply: status 200, JSON content type, exact key set', async () => {
    bed.fake.script({ output: ['x'], metrics: { input_token_count: 1, output_token_count: 1 } });
    const r = await bed.chat(user('raw'));
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    const j = r.json;
    for (const k of ['id', 'object', 'created', 'model', 'choices', 'usage']) assert.ok(k in j, `key ${k}`);
    assert.deepEqual(Object.keys(j.choices[0]).sort(), ['finish_reason', 'index', 'logprobs', 'message']);
    assert.deepEqual(j.choices[0].message, { role: 'assistant', content: 'x', refusal: null });
    assert.equal(j.choices[0].logprobs, null);
    assert.deepEqual(
      { p: j.usage.prompt_tokens, c: j.usage.completion_tokens, t: j.usage.total_tokens },
      { p: 1, c: 1, t: 2 },
    );
  });

  it('a cold start ("starting" sync reply, several polls) is waited out, polling every poll_interval', async () => {
    bed.fake.script({
      output: ['warm', 'ed up'],
      syncStatus: 'starting',
      polls: 5,
      startingPolls: 3,
      metrics: { input_token_count: 4, output_token_count: 2 },
    });
    const c = await bed.client.chat.completions.create(user('wake up'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'warmed up' }], usage: { prompt_tokens: 4, completion_tokens: 2 } });
    const gets = bed.fake.gets();
    assert.equal(gets.length, 5);
    for (let i = 1; i < gets.length; i++) {
      const gap = gets[i].time - gets[i - 1].time;
      assert.ok(gap >= 12, `poll gap ${gap} ms should follow poll_interval (20ms)`);
      assert.ok(gap < 1000, `poll gap ${gap} ms`);
    }
  });

  it('a terminal sync reply needs no poll', async () => {
    bed.fake.script({ output: ['done ', 'at once'], syncStatus: 'terminal', metrics: { input_token_count: 3, output_token_count: 2 } });
    const c = await bed.client.chat.completions.create(user('quick'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'done at once' }], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    assert.equal(bed.fake.gets().length, 0);
  });

  it('output given as one string instead of an array is accepted', async () => {
    bed.fake.script({ output: ['one ', 'string'], outputShape: 'string', metrics: { input_token_count: 1, output_token_count: 2 } });
    const c = await bed.client.chat.completions.create(user('s'));
    assert.equal(c.choices[0].message.content, 'one string');
  });

  it('usage is estimated as ceil(bytes/4) of prompt and output when metrics have no token counts', async () => {
    // prompt: 13 bytes → 4; output: 日本語です = 15 bytes → 4 (5 characters would give 2)
    bed.fake.script({ output: ['日本', '語です'], metrics: null });
    let c = await bed.client.chat.completions.create(user('Hello, world!'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: '日本語です' }], usage: { prompt_tokens: 4, completion_tokens: 4 } });
    // no metrics object at all; prompt 8 bytes → 2, output 1 byte → 1
    bed.fake.script({ output: ['x'], metrics: false });
    c = await bed.client.chat.completions.create(user('12345678'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'x' }], usage: { prompt_tokens: 2, completion_tokens: 1 } });
  });

  it('finish_reason is "length" when output tokens reach max_tokens, else "stop"', async () => {
    bed.fake.script({ output: ['a b c d e'], metrics: { input_token_count: 2, output_token_count: 5 } });
    let c = await bed.client.chat.completions.create({ ...user('count'), max_tokens: 5 });
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'a b c d e', finish_reason: 'length' }], usage: { prompt_tokens: 2, completion_tokens: 5 } });
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'count', max_tokens: 5 });

    bed.fake.script({ output: ['a b c d'], metrics: { input_token_count: 2, output_token_count: 4 } });
    c = await bed.client.chat.completions.create({ ...user('count'), max_tokens: 5 });
    assert.equal(c.choices[0].finish_reason, 'stop');

    bed.fake.script({ output: ['long'], metrics: { input_token_count: 2, output_token_count: 7 } });
    c = await bed.client.chat.completions.create({ ...user('count'), max_completion_tokens: 7 });
    assert.equal(c.choices[0].finish_reason, 'length');
    assert.deepEqual(bed.fake.creates().at(-1).body.input, { prompt: 'count', max_tokens: 7 });
  });

  it('without max_tokens the model default 1024 decides "length"', async () => {
    bed.fake.script({ output: ['...'], metrics: { input_token_count: 2, output_token_count: 1024 } });
    let c = await bed.client.chat.completions.create(user('essay'));
    assert.equal(c.choices[0].finish_reason, 'length');
    bed.fake.script({ output: ['...'], metrics: { input_token_count: 2, output_token_count: 1023 } });
    c = await bed.client.chat.completions.create(user('essay'));
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.deepEqual(bed.fake.creates().map((e) => e.body.input), [{ prompt: 'essay' }, { prompt: 'essay' }]);
  });

  it('JSON-sensitive text survives both ways (quotes, backslashes, control characters, emoji)', async () => {
    const tricky = 'He said "hi"\\n \u0001\t tab \u2028 😀 </script>';
    bed.fake.script({ output: ['"quoted"', ' \\ ', '\u0001\u0007', ' 😀\u2029'], metrics: { input_token_count: 1, output_token_count: 4 } });
    const c = await bed.client.chat.completions.create(user(tricky));
    assert.equal(c.choices[0].message.content, '"quoted" \\ \u0001\u0007 😀\u2029');
    assert.equal(promptSent(), tricky);
  });

  itExitsCleanly(() => bed, it);
});

describe('prompt rendering (plain, the default)', () => {
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const render = async (messages) => {
    bed.fake.script({ output: ['ok'] });
    const c = await bed.client.chat.completions.create({ model: 'deepseek-v3.1', messages });
    assert.equal(c.choices[0].message.content, 'ok');
    const input = bed.fake.creates().at(-1).body.input;
    assert.deepEqual(Object.keys(input), ['prompt']);
    return input.prompt;
  };

  it('a single user message is sent verbatim', async () => {
    const text = 'Line one\n\nUser: not a label\n  indented  ';
    assert.equal(await render([{ role: 'user', content: text }]), text);
  });

  it('text content parts are joined with "\\n"', async () => {
    assert.equal(await render([{ role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two' }] }]), 'part one\npart two');
  });

  it('system + user → labelled blocks joined with a blank line', async () => {
    assert.equal(await render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]), 'System: Be brief.\n\nUser: Hi');
  });

  it('developer is labelled System', async () => {
    assert.equal(await render([{ role: 'developer', content: 'Rules.' }, { role: 'user', content: 'Go' }]), 'System: Rules.\n\nUser: Go');
  });

  it('a multi-turn conversation', async () => {
    const p = await render([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'How are you?' },
    ]);
    assert.equal(p, 'System: Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: How are you?');
  });

  it('names render as "User (alice): ..."', async () => {
    const p = await render([
      { role: 'user', name: 'alice', content: 'Hi, I am Alice.' },
      { role: 'user', name: 'bob', content: 'And I am Bob.' },
    ]);
    assert.equal(p, 'User (alice): Hi, I am Alice.\n\nUser (bob): And I am Bob.');
  });

  it('two user messages in a row are labelled, parts joined inside a block', async () => {
    const p = await render([
      { role: 'user', content: 'first' },
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
    ]);
    assert.equal(p, 'User: first\n\nUser: a\nb');
  });

  it('tool results are labelled Tool', async () => {
    const p = await render([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: 'Let me check.' },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":18}' },
    ]);
    // the tool_call_id may be shown like a name: "Tool (call_1): ..."
    assert.match(p, /^User: Weather in Paris\?\n\nAssistant: Let me check\.\n\nTool( \(call_1\))?: \{"temp":18\}$/);
  });

  itExitsCleanly(() => bed, it);
});

describe('prompt rendering (prompt_format = deepseek)', () => {
  let client;
  before(async () => {
    bed = await setup();
    const p = await bed.addProxy({ config: { prompt_format: 'deepseek' } });
    client = clientFor(p.url, bed.apiKey);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const render = async (messages) => {
    bed.fake.script({ output: ['ok'] });
    const c = await client.chat.completions.create({ model: 'deepseek-v3.1', messages });
    assert.equal(c.choices[0].message.content, 'ok');
    const [create] = bed.fake.creates();
    assert.equal(create.path, CREATE_PATH);
    assert.deepEqual(Object.keys(create.body.input), ['prompt']);
    return create.body.input.prompt;
  };

  it('system "S" + user "Hi"', async () => {
    const p = await render([{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }]);
    assert.equal(p, `${BOS}S${USER}Hi${ASSISTANT}</think>`);
    assert.equal(Buffer.from(p).subarray(0, 4).toString('hex'), '3cefbd9c', 'U+FF5C as UTF-8 EF BD 9C');
  });

  it('a lone user message still gets the template', async () => {
    assert.equal(await render([{ role: 'user', content: 'Hi' }]), `${BOS}${USER}Hi${ASSISTANT}</think>`);
  });

  it("the model card's multi-turn vector (old reasoning dropped)", async () => {
    const p = await render([
      { role: 'system', content: 'You are a helpful assistant' },
      { role: 'user', content: 'Who are you?' },
      { role: 'assistant', content: '<think>Hmm</think>I am DeepSeek' },
      { role: 'user', content: '1+1=?' },
    ]);
    assert.equal(p, `${BOS}You are a helpful assistant${USER}Who are you?${ASSISTANT}</think>I am DeepSeek${EOS}${USER}1+1=?${ASSISTANT}</think>`);
  });

  it('all system messages are joined with "\\n\\n" at the start', async () => {
    const p = await render([
      { role: 'system', content: 'One.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'developer', content: 'Two.' },
      { role: 'user', content: 'Again' },
    ]);
    assert.equal(p, `${BOS}One.\n\nTwo.${USER}Hi${ASSISTANT}</think>Hello${EOS}${USER}Again${ASSISTANT}</think>`);
  });

  itExitsCleanly(() => bed, it);
});
