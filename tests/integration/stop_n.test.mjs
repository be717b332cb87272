// `stop` (emulated by the proxy) and `n` (parallel predictions).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CREATE_PATH, REPLICATE_TOKEN, assertCompletion, setup, itExitsCleanly } from './helpers.mjs';

const M = 'deepseek-v3.1';
const ask = (extra) => ({ model: M, messages: [{ role: 'user', content: 'Go' }], ...extra });

describe('stop', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a stop string cuts the content before the match; stop is never sent upstream', async () => {
    bed.fake.script({ output: ['The answer', ' is 4.', ' END', ' more text'], metrics: { input_token_count: 3, output_token_count: 4 } });
    const c = await bed.client.chat.completions.create(ask({ stop: 'END' }));
    assertCompletion(c, { model: M, choices: [{ content: 'The answer is 4. ', finish_reason: 'stop' }] });
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Go' });
    assert.deepEqual(bed.fake.unknownInputKeys, []);
  });

  it('a match spanning chunks, several stops: the earliest match wins', async () => {
    bed.fake.script({ output: ['Hello wor', 'ld! ST', 'OP here', ' zzz'] });
    let c = await bed.client.chat.completions.create(ask({ stop: ['zzz', 'STOP'] }));
    assert.equal(c.choices[0].message.content, 'Hello world! ');
    assert.equal(c.choices[0].finish_reason, 'stop');
    bed.fake.script({ output: ['xxa', ' yyb'] });
    c = await bed.client.chat.completions.create(ask({ stop: ['b', 'a'] }));
    assert.equal(c.choices[0].message.content, 'xx');
  });

  it('stop with newlines and unicode; a match at the very start gives empty content', async () => {
    bed.fake.script({ output: ['line 1\n', '\nline 2 ¶ end'] });
    let c = await bed.client.chat.completions.create(ask({ stop: ['\n\n'] }));
    assert.equal(c.choices[0].message.content, 'line 1');
    bed.fake.script({ output: ['¶ end'] });
    c = await bed.client.chat.completions.create(ask({ stop: ['¶'] }));
    assert.equal(c.choices[0].message.content, '');
    assert.equal(c.choices[0].finish_reason, 'stop');
  });

  it('a stop match wins over the token limit: finish_reason "stop"', async () => {
    bed.fake.script({ output: ['one two ', '###', ' three'], metrics: { input_token_count: 2, output_token_count: 5 } });
    const c = await bed.client.chat.completions.create(ask({ stop: ['###'], max_tokens: 5 }));
    assert.equal(c.choices[0].message.content, 'one two ');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.deepEqual(bed.fake.creates()[0].body.input, { prompt: 'Go', max_tokens: 5 });
  });

  it('a stop that never matches leaves the content whole', async () => {
    bed.fake.script({ output: ['nothing ', 'to cut'], metrics: { input_token_count: 2, output_token_count: 2 } });
    const c = await bed.client.chat.completions.create(ask({ stop: ['STOP', 'cutx'] }));
    assertCompletion(c, { model: M, choices: [{ content: 'nothing to cut', finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 2 } });
  });

  itExitsCleanly(() => bed, it);
});

describe('n', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('n = 3: three predictions in parallel, choices 0..2, usage summed, id from choice 0', async () => {
    const outputs = [['first'], ['second ', 'one'], ['third']];
    bed.fake.script(
      { output: outputs[0], createDelay: 1000, metrics: { input_token_count: 10, output_token_count: 1 } },
      { output: outputs[1], createDelay: 1000, metrics: { input_token_count: 11, output_token_count: 2 } },
      { output: outputs[2], createDelay: 1000, metrics: { input_token_count: 12, output_token_count: 3 } },
    );
    const c = await bed.client.chat.completions.create(ask({ n: 3 }));
    const creates = bed.fake.creates();
    assert.equal(creates.length, 3);
    for (const cr of creates) {
      assert.equal(cr.path, CREATE_PATH);
      assert.equal(cr.headers.authorization, `Bearer ${REPLICATE_TOKEN}`);
      assert.deepEqual(cr.body, { input: { prompt: 'Go' } });
    }
    const spread = Math.max(...creates.map((x) => x.time)) - Math.min(...creates.map((x) => x.time));
    // In parallel: every create was sent before the first was answered (1 s).
    assert.ok(spread < 1000, `creates sent in parallel (spread ${spread} ms, each answered after 1000 ms)`);
    assert.deepEqual(c.choices.map((ch) => ch.index), [0, 1, 2]);
    assert.deepEqual(c.choices.map((ch) => ch.message.content).sort(), ['first', 'second one', 'third']);
    for (const ch of c.choices) {
      assert.deepEqual(ch.message, { role: 'assistant', content: ch.message.content, refusal: null });
      assert.equal(ch.finish_reason, 'stop');
      assert.equal(ch.logprobs, null);
    }
    assert.equal(c.usage.prompt_tokens, 33);
    assert.equal(c.usage.completion_tokens, 6);
    assert.equal(c.usage.total_tokens, 39);
    const p0 = bed.fake.predictionByOutput(c.choices[0].message.content);
    assert.equal(c.id, `chatcmpl-${p0.id}`);
  });

  it('n = 2 with stop: each choice is cut on its own', async () => {
    bed.fake.script({ output: ['alpha|beta'], match: 'Go' }, { output: ['gamma', '|delta'], match: 'Go' });
    const c = await bed.client.chat.completions.create(ask({ n: 2, stop: '|' }));
    assert.deepEqual(c.choices.map((ch) => ch.message.content).sort(), ['alpha', 'gamma']);
    assert.deepEqual(c.choices.map((ch) => ch.finish_reason), ['stop', 'stop']);
    assert.deepEqual(bed.fake.creates().map((x) => x.body.input), [{ prompt: 'Go' }, { prompt: 'Go' }]);
  });

  it('n = 2 with max_tokens: finish_reason per choice', async () => {
    bed.fake.script(
      { output: ['short'], match: 'Go', metrics: { input_token_count: 1, output_token_count: 2 } },
      { output: ['long long long'], match: 'Go', metrics: { input_token_count: 1, output_token_count: 3 } },
    );
    const c = await bed.client.chat.completions.create(ask({ n: 2, max_tokens: 3 }));
    const byContent = Object.fromEntries(c.choices.map((ch) => [ch.message.content, ch.finish_reason]));
    assert.deepEqual(byContent, { short: 'stop', 'long long long': 'length' });
    assert.deepEqual(bed.fake.creates().map((x) => x.body.input), [{ prompt: 'Go', max_tokens: 3 }, { prompt: 'Go', max_tokens: 3 }]);
    assert.equal(c.usage.completion_tokens, 5);
  });

  itExitsCleanly(() => bed, it);
});
