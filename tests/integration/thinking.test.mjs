// Thinking mode: deepseek-reasoner / reasoning_effort → input.thinking "medium";
// the model's "REASONING</think>CONTENT" split into reasoning_content and content
// (non-streaming and streaming, with </think> split across chunks), reasoning
// token usage, and reasoning_content sent back by clients.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertCreate, assertErrorReply, clientFor, setup, itExitsCleanly } from './helpers.mjs';
import { ASSISTANT, BOS, EOS, USER, assembleChat, inBatches, rawStream, twoPieceSplits } from './deepseek.mjs';

const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'What is 2+2?' }], ...extra });
const THOUGHT = 'Let me think...</think>\n\nThe answer is 4.';

// reasoning_content "Let me think...", content "The answer is 4."
function assertSplit(msg) {
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.reasoning_content, 'Let me think...', `reasoning_content: ${JSON.stringify(msg)}`);
  assert.equal(msg.content, 'The answer is 4.', `content: ${JSON.stringify(msg)}`);
}

describe('thinking: the input flag', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('model deepseek-reasoner → input.thinking "medium"', async () => {
    bed.fake.script({ output: [THOUGHT] });
    const c = await bed.client.chat.completions.create(ask('deepseek-reasoner'));
    assertSplit(c.choices[0].message);
    assertCreate(bed.fake, { prompt: 'What is 2+2?', thinking: 'medium' });
  });

  for (const effort of ['low', 'medium', 'high']) {
    it(`deepseek-v3.1 with reasoning_effort "${effort}" → input.thinking "medium"`, async () => {
      bed.fake.script({ output: [THOUGHT] });
      const c = await bed.client.chat.completions.create(ask('deepseek-v3.1', { reasoning_effort: effort }));
      assertSplit(c.choices[0].message);
      assertCreate(bed.fake, { prompt: 'What is 2+2?', thinking: 'medium' });
    });
  }

  it('reasoning_effort "none" → no thinking key (deepseek-v3.1 and deepseek-reasoner alike)', async () => {
    bed.fake.script({ output: ['4'] }, { output: ['4'] });
    const a = await bed.chat(ask('deepseek-v3.1', { reasoning_effort: 'none' }));
    assert.equal(a.status, 200, a.text);
    const b = await bed.chat(ask('deepseek-reasoner', { reasoning_effort: 'none' }));
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(bed.fake.creates().map((c) => c.body.input), [{ prompt: 'What is 2+2?' }, { prompt: 'What is 2+2?' }]);
    for (const r of [a, b]) assert.equal(r.json.choices[0].message.content, '4');
  });

  it('no reasoning_effort with deepseek-v3.1 / deepseek-chat → no thinking key, no reasoning_content', async () => {
    bed.fake.script({ output: ['4'] }, { output: ['4'] });
    for (const model of ['deepseek-v3.1', 'deepseek-chat']) {
      const r = await bed.chat(ask(model));
      assert.equal(r.status, 200, r.text);
      const msg = r.json.choices[0].message;
      assert.equal(msg.content, '4');
      assert.ok(msg.reasoning_content === undefined || msg.reasoning_content === null, `no reasoning_content: ${JSON.stringify(msg)}`);
      assert.ok(!('completion_tokens_details' in r.json.usage) || r.json.usage.completion_tokens_details?.reasoning_tokens === 0 || r.json.usage.completion_tokens_details === null,
        `no reasoning tokens: ${JSON.stringify(r.json.usage)}`);
    }
    assert.deepEqual(bed.fake.creates().map((c) => c.body.input), [{ prompt: 'What is 2+2?' }, { prompt: 'What is 2+2?' }]);
  });

  it('an unknown reasoning_effort → 400 param reasoning_effort', async () => {
    const r = await bed.chat(ask('deepseek-v3.1', { reasoning_effort: 'extreme' }));
    assertErrorReply(r, 400, { param: 'reasoning_effort' });
    assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
  });

  itExitsCleanly(() => bed, it);
});

describe('thinking: splitting the output (non-streaming)', () => {
  let bed;
  const think = async (output, extra = {}) => {
    bed.fake.script({ output, ...extra });
    return bed.client.chat.completions.create(ask('deepseek-reasoner'));
  };
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('"REASONING</think>\\n\\nCONTENT" → reasoning_content and content; usage has reasoning_tokens ≤ completion_tokens', async () => {
    const c = await think(['Let me', ' think...', '</think>', '\n\n', 'The answer', ' is 4.'], { metrics: { input_token_count: 9, output_token_count: 20 } });
    assertSplit(c.choices[0].message);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.usage.prompt_tokens, 9);
    assert.equal(c.usage.completion_tokens, 20);
    const rt = c.usage.completion_tokens_details?.reasoning_tokens;
    assert.equal(typeof rt, 'number', `usage.completion_tokens_details.reasoning_tokens: ${JSON.stringify(c.usage)}`);
    assert.ok(Number.isInteger(rt) && rt > 0 && rt <= c.usage.completion_tokens, `0 < reasoning_tokens ${rt} ≤ completion_tokens ${c.usage.completion_tokens}`);
  });

  it('reasoning_tokens never exceed completion_tokens, even when Replicate counts few tokens', async () => {
    const long = 'I need to reason about this at some length before answering. '.repeat(4);
    const c = await think([long, '</think>', 'Four.'], { metrics: { input_token_count: 9, output_token_count: 3 } });
    assert.equal(c.choices[0].message.content, 'Four.');
    const u = c.usage;
    assert.equal(u.completion_tokens, 3);
    const rt = u.completion_tokens_details?.reasoning_tokens;
    assert.equal(typeof rt, 'number', JSON.stringify(u));
    assert.ok(rt <= u.completion_tokens, `reasoning_tokens ${rt} ≤ completion_tokens ${u.completion_tokens}: ${JSON.stringify(u)}`);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  });

  it('the raw reply carries reasoning_content in the message', async () => {
    bed.fake.script({ output: [THOUGHT] });
    const r = await bed.chat(ask('deepseek-reasoner'));
    assert.equal(r.status, 200, r.text);
    const msg = r.json.choices[0].message;
    assertSplit(msg);
    assert.equal(msg.refusal, null);
    assert.ok(!r.text.includes('</think>'), `no </think> anywhere in the reply: ${r.text}`);
  });

  it('</think> split across chunks at every position never leaks', async () => {
    const splits = twoPieceSplits(THOUGHT);
    const failures = [];
    await inBatches(splits, 8, async (pieces) => {
      bed.fake.script({ output: pieces });
      const c = await bed.client.chat.completions.create(ask('deepseek-reasoner'));
      try { assertSplit(c.choices[0].message); } catch (e) { failures.push(`${JSON.stringify(pieces)}: ${e.message}`); }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${splits.length} splits failed`);
  });

  it('one character per chunk', async () => {
    assertSplit((await think([...THOUGHT])).choices[0].message);
  });

  it('a repeated leading "<think>" and whitespace are not part of the reasoning', async () => {
    const c = await think(['\n<think>\n', 'Let me think...', '</think>\n\n', 'The answer is 4.']);
    assertSplit(c.choices[0].message);
  });

  it('"</think>" at the very start → empty reasoning, the rest is content', async () => {
    const c = await think(['</think>', 'The answer is 4.']);
    const msg = c.choices[0].message;
    assert.equal(msg.content, 'The answer is 4.');
    assert.ok(msg.reasoning_content === '' || msg.reasoning_content === null || msg.reasoning_content === undefined, JSON.stringify(msg));
  });

  it('a second "</think>" belongs to the content', async () => {
    const c = await think(['a</think>b', '</think>c']);
    assert.equal(c.choices[0].message.reasoning_content, 'a');
    assert.equal(c.choices[0].message.content, 'b</think>c');
  });

  it('no "</think>" at all (cut off by max_tokens): everything is reasoning, content empty, finish "length"', async () => {
    bed.fake.script({ output: ['Still ', 'thinking'], metrics: { input_token_count: 3, output_token_count: 2 } });
    const c = await bed.client.chat.completions.create(ask('deepseek-reasoner', { max_tokens: 2 }));
    const ch = c.choices[0];
    assert.equal(ch.message.reasoning_content, 'Still thinking');
    assert.ok(ch.message.content === '' || ch.message.content === null, JSON.stringify(ch.message));
    assert.equal(ch.finish_reason, 'length');
  });

  it('without thinking, "</think>" in the output is plain content', async () => {
    bed.fake.script({ output: ['a</think>b'] });
    const c = await bed.client.chat.completions.create(ask('deepseek-v3.1'));
    assert.equal(c.choices[0].message.content, 'a</think>b');
    assert.ok(!c.choices[0].message.reasoning_content);
  });

  it('a stop sequence applies to the content, not the reasoning', async () => {
    bed.fake.script({ output: ['Think END here', '</think>', 'Answer END more'] });
    const c = await bed.client.chat.completions.create(ask('deepseek-reasoner', { stop: 'END' }));
    const msg = c.choices[0].message;
    assert.equal(msg.content, 'Answer ');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.ok(msg.reasoning_content.startsWith('Think'), JSON.stringify(msg));
  });

  it('thinking with n = 2: each choice split on its own', async () => {
    bed.fake.script({ output: ['A1</think>A2'] }, { output: ['B1</think>B2'] });
    const c = await bed.client.chat.completions.create(ask('deepseek-reasoner', { n: 2 }));
    const pairs = c.choices.map((ch) => [ch.message.reasoning_content, ch.message.content]).sort();
    assert.deepEqual(pairs, [['A1', 'A2'], ['B1', 'B2']]);
    assert.deepEqual(bed.fake.creates().map((x) => x.body.input.thinking), ['medium', 'medium']);
  });

  itExitsCleanly(() => bed, it);
});

describe('thinking: streaming', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const stream = async (output, extra = {}) => {
    bed.fake.script({ output });
    return rawStream(bed, '/v1/chat/completions', ask('deepseek-reasoner', extra));
  };

  it('reasoning_content deltas first, then content deltas; finish "stop"', async () => {
    const chunks = await stream(['Let me', ' think', '...', '</think>', '\n\n', 'The answer', ' is 4.']);
    const a = assembleChat(chunks);
    assert.equal(a.role, 'assistant');
    assert.equal(a.reasoning, 'Let me think...');
    assert.equal(a.content, 'The answer is 4.');
    assert.equal(a.finish, 'stop');
    const firstContent = a.order.indexOf('content');
    assert.ok(firstContent > 0, `reasoning came first: ${a.order}`);
    assert.ok(!a.order.slice(firstContent).includes('reasoning'), `no reasoning after content: ${a.order}`);
    assert.ok(a.reasoningDeltas.length >= 2, `reasoning is streamed, not sent at the end: ${JSON.stringify(a.reasoningDeltas)}`);
    for (const d of [...a.reasoningDeltas, ...a.contentDeltas]) assert.ok(!d.includes('</think>'), `no </think> in ${JSON.stringify(d)}`);
    assert.equal(bed.fake.creates()[0].body.input.thinking, 'medium');
    assert.equal(bed.fake.streams().length, 1, 'read through urls.stream');
  });

  it('</think> split across chunks ("</th" + "ink>") never leaks into either field', async () => {
    const chunks = await stream(['Let me think...<', '/th', 'ink', '>\n', '\nThe answer is 4.']);
    const a = assembleChat(chunks);
    assert.equal(a.reasoning, 'Let me think...');
    assert.equal(a.content, 'The answer is 4.');
    for (const d of [...a.reasoningDeltas, ...a.contentDeltas]) {
      for (const piece of ['<', '/th', 'ink>']) assert.ok(!d.includes(piece), `${JSON.stringify(piece)} leaked in ${JSON.stringify(d)}`);
    }
  });

  it('every two-piece split, streamed → the same two fields', async () => {
    const splits = twoPieceSplits(THOUGHT);
    const failures = [];
    await inBatches(splits, 8, async (pieces) => {
      bed.fake.script({ output: pieces });
      try {
        const a = assembleChat(await rawStream(bed, '/v1/chat/completions', ask('deepseek-reasoner')));
        assert.equal(a.reasoning, 'Let me think...');
        assert.equal(a.content, 'The answer is 4.');
        assert.equal(a.finish, 'stop');
      } catch (e) { failures.push(`${JSON.stringify(pieces)}: ${e.message}`); }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${splits.length} splits failed`);
  });

  it('through the SDK: delta.reasoning_content then delta.content', async () => {
    bed.fake.script({ output: ['Let me ', 'think...', '</think>\n\n', 'The answer ', 'is 4.'] });
    const s = await bed.client.chat.completions.create({ ...ask('deepseek-reasoner'), stream: true, stream_options: { include_usage: true } });
    let reasoning = '';
    let content = '';
    let usage = null;
    let finish = null;
    for await (const c of s) {
      if (c.usage) usage = c.usage;
      const ch = c.choices[0];
      if (!ch) continue;
      if (ch.delta.reasoning_content) {
        assert.equal(content, '', 'no reasoning after content started');
        reasoning += ch.delta.reasoning_content;
      }
      if (ch.delta.content) content += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.equal(reasoning, 'Let me think...');
    assert.equal(content, 'The answer is 4.');
    assert.equal(finish, 'stop');
    assert.ok(usage, 'include_usage gives a usage chunk');
    const rt = usage.completion_tokens_details?.reasoning_tokens;
    assert.equal(typeof rt, 'number', `streamed usage has reasoning_tokens: ${JSON.stringify(usage)}`);
    assert.ok(rt <= usage.completion_tokens, JSON.stringify(usage));
  });

  it("the SDK's stream helper keeps content intact", async () => {
    bed.fake.script({ output: [...THOUGHT] });
    const s = bed.client.chat.completions.stream(ask('deepseek-reasoner'));
    for await (const _ of s); // eslint-disable-line no-unused-vars
    const final = await s.finalChatCompletion();
    assert.equal(final.choices[0].message.content, 'The answer is 4.');
    assert.equal(final.choices[0].finish_reason, 'stop');
  });

  it('reasoning is sent as it comes, long before the answer', async () => {
    bed.fake.script({ output: ['Step one. ', 'Step two. ', 'Step three.', '</think>', 'Done.'], tokenDelay: 120 });
    const t0 = Date.now();
    const s = await bed.client.chat.completions.create({ ...ask('deepseek-reasoner'), stream: true });
    let tReason = null;
    let tContent = null;
    for await (const c of s) {
      const d = c.choices[0]?.delta ?? {};
      if (d.reasoning_content && tReason === null) tReason = Date.now() - t0;
      if (d.content && tContent === null) tContent = Date.now() - t0;
    }
    assert.ok(tReason !== null && tContent !== null);
    assert.ok(tContent - tReason >= 300, `first reasoning at ${tReason} ms, content at ${tContent} ms (chunks 120 ms apart)`);
  });

  itExitsCleanly(() => bed, it);
});

describe('thinking: reasoning_content sent back, and the deepseek template', () => {
  let bed;
  let ds;
  before(async () => {
    bed = await setup();
    const p = await bed.addProxy({ config: { prompt_format: 'deepseek' } });
    ds = clientFor(p.url, bed.apiKey);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const history = [
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'The answer is 4.', reasoning_content: 'SECRET-REASONING two plus two' },
    { role: 'user', content: 'And 3+3?' },
  ];

  it('an assistant message with reasoning_content is accepted (200); its reasoning is not in the prompt (plain)', async () => {
    bed.fake.script({ output: ['Hmm</think>6.'] });
    const c = await bed.client.chat.completions.create({ model: 'deepseek-reasoner', messages: history });
    assert.equal(c.choices[0].message.content, '6.');
    const p = bed.fake.creates()[0].body.input.prompt;
    assert.ok(!p.includes('SECRET-REASONING'), `reasoning was replayed:\n${p}`);
    assert.ok(p.includes('The answer is 4.') && p.includes('And 3+3?'), p);
  });

  it('the same, deepseek template: exact prompt, thinking generation prompt <｜Assistant｜><think>', async () => {
    bed.fake.script({ output: ['Hmm</think>6.'] });
    const c = await ds.chat.completions.create({ model: 'deepseek-reasoner', messages: history });
    assert.equal(c.choices[0].message.reasoning_content, 'Hmm');
    assert.equal(c.choices[0].message.content, '6.');
    const input = bed.fake.creates()[0].body.input;
    assert.equal(input.thinking, 'medium');
    assert.equal(input.prompt, `${BOS}${USER}What is 2+2?${ASSISTANT}</think>The answer is 4.${EOS}${USER}And 3+3?${ASSISTANT}<think>`);
  });

  it('a previous answer sent back with its reasoning inline ("<think>…</think>answer") is cut to the answer', async () => {
    bed.fake.script({ output: ['ok'] });
    await ds.chat.completions.create({
      model: 'deepseek-v3.1',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'old thoughts</think>Hello!' },
        { role: 'user', content: 'Bye' },
      ],
    });
    assert.equal(bed.fake.creates()[0].body.input.prompt, `${BOS}${USER}Hi${ASSISTANT}</think>Hello!${EOS}${USER}Bye${ASSISTANT}</think>`);
  });

  it('reasoning_content: null and "" on an assistant message are accepted too', async () => {
    bed.fake.script({ output: ['a'] }, { output: ['b'] });
    for (const rc of [null, '']) {
      const r = await bed.chat({ model: 'deepseek-v3.1', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y', reasoning_content: rc }, { role: 'user', content: 'z' }] });
      assert.equal(r.status, 200, r.text);
    }
  });

  itExitsCleanly(() => bed, it);
});
