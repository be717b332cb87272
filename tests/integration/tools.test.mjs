// Tools: the DeepSeek tool description block in the prompt (plain and deepseek
// formats), tool_choice / parallel_tool_calls, parsing the model's native
// tool-call markers (and their malformed variants, the fenced-JSON fallback,
// awkward chunking), streaming tool-call deltas through the SDK's stream
// helper, a full round trip, and the legacy functions / function_call API.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertErrorReply, clientFor, setup, itExitsCleanly } from './helpers.mjs';
import {
  ASSISTANT, BOS, CALL_ID, EOS, SEP, TCS_B, TCS_E, TC_B, TC_E, TO_B, TO_E, USER, LB, FW,
  assembleChat, assertNoMarkers, block, call, inBatches, rawStream, timeTool, toolBlock, twoPieceSplits, weatherTool,
} from './deepseek.mjs';

const M = 'deepseek-v3.1';
const ASK = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Weather in Paris?' }];
const withTools = (extra = {}) => ({ model: M, messages: ASK, tools: [weatherTool], ...extra });
const ARGS = '{"city": "Paris"}';
const ONE_CALL = `Let me check.${block(call('get_weather', ARGS))}`;

// A non-streaming reply with exactly one call to get_weather(ARGS).
function assertOneCall(c, { content = 'Let me check.', args = ARGS } = {}) {
  const ch = c.choices[0];
  assert.equal(ch.finish_reason, 'tool_calls', `finish_reason (message: ${JSON.stringify(ch.message)})`);
  assert.equal(ch.message.role, 'assistant');
  assert.equal(ch.message.content, content);
  assertNoMarkers(ch.message.content, 'content');
  assert.equal(ch.message.tool_calls?.length, 1, `one tool call: ${JSON.stringify(ch.message)}`);
  const [tc] = ch.message.tool_calls;
  assert.match(tc.id, CALL_ID);
  assert.equal(tc.type, 'function');
  assert.equal(tc.function.name, 'get_weather');
  assert.equal(tc.function.arguments, args);
  assert.deepEqual(JSON.parse(tc.function.arguments), JSON.parse(args));
  return tc;
}

// A reply where nothing parsed as a call: plain content, finish "stop".
function assertNoCall(c) {
  const ch = c.choices[0];
  assert.equal(ch.finish_reason, 'stop', `finish_reason (message: ${JSON.stringify(ch.message)})`);
  assert.ok(ch.message.tool_calls === undefined || ch.message.tool_calls === null || ch.message.tool_calls.length === 0,
    `no tool_calls: ${JSON.stringify(ch.message)}`);
  assert.equal(typeof ch.message.content, 'string');
  assertNoMarkers(ch.message.content, 'content');
  return ch.message.content;
}

describe('tools: the prompt (plain format)', () => {
  let bed;
  const prompt = () => bed.fake.creates().at(-1).body.input.prompt;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('tools → the DeepSeek tool description block (json.dumps spacing) in readable text, between system and user', async () => {
    bed.fake.script({ output: ['ok'] });
    const c = await bed.client.chat.completions.create(withTools());
    assert.equal(c.choices[0].message.content, 'ok');
    assert.equal(c.choices[0].finish_reason, 'stop');
    const input = bed.fake.creates()[0].body.input;
    assert.deepEqual(Object.keys(input), ['prompt'], 'tools are never sent as an input key');
    const p = input.prompt;
    const blk = toolBlock([weatherTool]);
    assert.ok(p.includes(blk), `the prompt holds the exact tool block:\n${p}\n--- expected block ---\n${blk}`);
    assert.ok(p.includes('Parameters: {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}'));
    const iSys = p.indexOf('Be brief.');
    const iBlk = p.indexOf(blk);
    const iUser = p.indexOf('Weather in Paris?');
    assert.ok(iSys >= 0 && iSys < iBlk && iBlk < iUser, `order: system, tool block, user:\n${p}`);
    for (const m of [BOS, USER, ASSISTANT, EOS]) assert.ok(!p.includes(m), `plain prompt has no chat-template marker ${m}`);
    assert.ok(!p.includes('You must call'), 'tool_choice auto adds no instruction');
    assert.ok(!p.includes('Call at most one tool.'), 'parallel calls allowed by default');
  });

  it('two tools are both described, in order, a blank line apart', async () => {
    bed.fake.script({ output: ['ok'] });
    await bed.client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'Hi' }], tools: [weatherTool, timeTool] });
    const p = prompt();
    assert.ok(p.includes(toolBlock([weatherTool, timeTool])), `both tools:\n${p}`);
    assert.ok(p.endsWith('Hi'), `the user text comes last:\n${p}`);
  });

  it('tool_choice "none" → no tool block at all', async () => {
    bed.fake.script({ output: ['ok'] });
    const c = await bed.client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: 'none' });
    assert.equal(c.choices[0].message.content, 'ok');
    const p = prompt();
    assert.ok(!p.includes('## Tools'), `no tool block:\n${p}`);
    assert.ok(!p.includes('get_weather'), `the tool is not mentioned:\n${p}`);
    assert.ok(!p.includes(TCS_B), 'no format paragraph');
    assert.equal(p, 'Weather in Paris?', 'one user message and no active tools: sent verbatim');
  });

  it('tool_choice "required" → "You must call at least one tool." after the format rules', async () => {
    bed.fake.script({ output: [ONE_CALL] });
    const c = await bed.client.chat.completions.create(withTools({ tool_choice: 'required' }));
    assertOneCall(c);
    const p = prompt();
    const blk = toolBlock([weatherTool]);
    assert.ok(p.includes(blk));
    const i = p.indexOf('You must call at least one tool.');
    assert.ok(i > p.indexOf(blk), `instruction after the block:\n${p}`);
    assert.ok(i < p.indexOf('Weather in Paris?'), `instruction before the user turn:\n${p}`);
  });

  it('a named tool_choice → "You must call the tool `get_weather`."', async () => {
    bed.fake.script({ output: [ONE_CALL] });
    const c = await bed.client.chat.completions.create(withTools({
      tools: [timeTool, weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }));
    assertOneCall(c);
    const p = prompt();
    assert.ok(p.includes(toolBlock([timeTool, weatherTool])), 'both tools are still described');
    assert.ok(p.includes('You must call the tool `get_weather`.'), p);
    assert.ok(!p.includes('You must call at least one tool.'));
    assert.ok(p.indexOf('You must call the tool') < p.indexOf('Weather in Paris?'));
  });

  it('parallel_tool_calls false → "Call at most one tool."; true → nothing added', async () => {
    bed.fake.script({ output: ['ok'] }, { output: ['ok'] });
    await bed.client.chat.completions.create(withTools({ parallel_tool_calls: false }));
    let p = prompt();
    assert.ok(p.includes('Call at most one tool.'), p);
    assert.ok(p.indexOf('Call at most one tool.') > p.indexOf('## Tools'));
    await bed.client.chat.completions.create(withTools({ parallel_tool_calls: true }));
    p = prompt();
    assert.ok(!p.includes('Call at most one tool.'), p);
  });

  it('"required" together with parallel_tool_calls false → both lines', async () => {
    bed.fake.script({ output: ['ok'] });
    await bed.client.chat.completions.create(withTools({ tool_choice: 'required', parallel_tool_calls: false }));
    const p = prompt();
    assert.ok(p.includes('You must call at least one tool.'), p);
    assert.ok(p.includes('Call at most one tool.'), p);
  });

  it('a named tool_choice that is not among the tools → 400 tool_choice, nothing sent upstream', async () => {
    const r = await bed.chat({ ...withTools(), tool_choice: { type: 'function', function: { name: 'launch_rocket' } } });
    assertErrorReply(r, 400, { param: 'tool_choice', type: 'invalid_request_error' });
    assert.deepEqual(bed.fake.creates(), [], 'no prediction created');
  });

  itExitsCleanly(() => bed, it);
});

describe('tools: the prompt (prompt_format = deepseek) and a full round trip', () => {
  let bed;
  let client;
  let base;
  const prompt = () => bed.fake.creates().at(-1).body.input.prompt;
  before(async () => {
    bed = await setup();
    const p = await bed.addProxy({ config: { prompt_format: 'deepseek' } });
    base = p.url;
    client = clientFor(base, bed.apiKey);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it("the model card's form: BOS + system + \"\\n\\n\" + tool block + user + <｜Assistant｜></think>", async () => {
    bed.fake.script({ output: ['ok'] });
    await client.chat.completions.create(withTools());
    assert.equal(prompt(), `${BOS}Be brief.\n\n${toolBlock([weatherTool])}${USER}Weather in Paris?${ASSISTANT}</think>`);
  });

  it('no system prompt: BOS is followed directly by "\\n\\n## Tools" (ms-swift); two tools', async () => {
    bed.fake.script({ output: ['ok'] });
    await client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'What time is it in Paris?' }], tools: [weatherTool, timeTool] });
    assert.equal(prompt(), `${BOS}\n\n${toolBlock([weatherTool, timeTool])}${USER}What time is it in Paris?${ASSISTANT}</think>`);
  });

  it('tool_choice "required" → the instruction sits inside the system part, before <｜User｜>', async () => {
    bed.fake.script({ output: ['ok'] });
    await client.chat.completions.create(withTools({ tool_choice: 'required' }));
    const p = prompt();
    const head = `${BOS}Be brief.\n\n${toolBlock([weatherTool])}`;
    assert.ok(p.startsWith(head), p);
    const between = p.slice(head.length, p.indexOf(USER));
    assert.match(between, /^\s*You must call at least one tool\.\s*$/, `between the block and <｜User｜>: ${JSON.stringify(between)}`);
    assert.ok(p.endsWith(`${USER}Weather in Paris?${ASSISTANT}</think>`));
  });

  it('tool_choice "none" → the plain template, no block', async () => {
    bed.fake.script({ output: ['ok'] });
    await client.chat.completions.create(withTools({ tool_choice: 'none' }));
    assert.equal(prompt(), `${BOS}Be brief.${USER}Weather in Paris?${ASSISTANT}</think>`);
  });

  it('round trip through the SDK: call → tool result sent back → exact history in the prompt → final answer', async () => {
    bed.fake.script({ output: [block(call('get_weather', '{"city":"Paris"}'))] });
    const messages = [...ASK];
    const first = await client.chat.completions.create({ model: M, messages, tools: [weatherTool] });
    const tc = assertOneCall(first, { content: null, args: '{"city":"Paris"}' });
    // as an application would: append the assistant message as returned, then the result
    messages.push(first.choices[0].message);
    messages.push({ role: 'tool', tool_call_id: tc.id, content: '{"temp":18}' });

    bed.fake.script({ output: ['It is 18', '°C in Paris.'] });
    const second = await client.chat.completions.create({ model: M, messages, tools: [weatherTool] });
    assert.equal(second.choices[0].message.content, 'It is 18°C in Paris.');
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.ok(!second.choices[0].message.tool_calls?.length, 'no tool_calls in the final answer');

    assert.equal(bed.fake.creates().length, 2);
    assert.equal(prompt(),
      `${BOS}Be brief.\n\n${toolBlock([weatherTool])}${USER}Weather in Paris?${ASSISTANT}</think>` +
      `${TCS_B}${TC_B}get_weather${SEP}{"city":"Paris"}${TC_E}${TCS_E}${EOS}` +
      `${TO_B}{"temp":18}${TO_E}`);
  });

  it('history with content before the calls and two parallel calls, two results, then a user turn', async () => {
    bed.fake.script({ output: ['ok'] });
    await client.chat.completions.create({
      model: M,
      tools: [weatherTool, timeTool],
      messages: [
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: 'Checking both.',
          tool_calls: [
            { id: 'call_aaaaaaaaaaaaaaaaaaaaaaaa', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_bbbbbbbbbbbbbbbbbbbbbbbb', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_aaaaaaaaaaaaaaaaaaaaaaaa', content: '{"temp":18}' },
        { role: 'tool', tool_call_id: 'call_bbbbbbbbbbbbbbbbbbbbbbbb', content: [{ type: 'text', text: '14:05' }] },
        { role: 'assistant', content: '18°C, 14:05.' },
        { role: 'user', content: 'Thanks!' },
      ],
    });
    assert.equal(prompt(),
      `${BOS}\n\n${toolBlock([weatherTool, timeTool])}${USER}Weather and time in Paris?${ASSISTANT}</think>Checking both.` +
      `${TCS_B}${TC_B}get_weather${SEP}{"city":"Paris"}${TC_E}${TC_B}get_time${SEP}{"tz":"Europe/Paris"}${TC_E}${TCS_E}${EOS}` +
      `${TO_B}{"temp":18}${TO_E}${TO_B}14:05${TO_E}18°C, 14:05.${EOS}${USER}Thanks!${ASSISTANT}</think>`);
  });

  itExitsCleanly(() => bed, it);
});

describe('tools: parsing the model output (non-streaming)', () => {
  let bed;
  const ask = async (output, extra = {}) => {
    bed.fake.script({ output: Array.isArray(output) ? output : [output] });
    return bed.client.chat.completions.create(withTools(extra));
  };
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('content before the block + one call → content, tool_calls, finish_reason "tool_calls"', async () => {
    assertOneCall(await ask(ONE_CALL));
  });

  it('the raw reply: message keys, call object exactly {id, type, function:{name, arguments}}', async () => {
    bed.fake.script({ output: [ONE_CALL] });
    const r = await bed.chat(withTools());
    assert.equal(r.status, 200, r.text);
    const ch = r.json.choices[0];
    assert.deepEqual(Object.keys(ch).sort(), ['finish_reason', 'index', 'logprobs', 'message']);
    assert.equal(ch.finish_reason, 'tool_calls');
    const msg = ch.message;
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.content, 'Let me check.');
    assert.equal(msg.refusal, null);
    assert.equal(msg.tool_calls.length, 1);
    const tc = msg.tool_calls[0];
    assert.deepEqual(Object.keys(tc).sort(), ['function', 'id', 'type']);
    assert.deepEqual(Object.keys(tc.function).sort(), ['arguments', 'name']);
    assert.equal(typeof tc.function.arguments, 'string', 'arguments is a JSON string');
    assert.ok(!('function_call' in msg), 'no legacy function_call with tools');
  });

  it('no text before the block → content null', async () => {
    const c = await ask(block(call('get_weather', ARGS)));
    assertOneCall(c, { content: null });
  });

  it('whitespace-only text before the block and <｜end▁of▁sentence｜> after it → content null, nothing leaks', async () => {
    const c = await ask(['\n', block(call('get_weather', ARGS)), EOS]);
    assertOneCall(c, { content: null });
  });

  it('two calls (parallel) → two entries in order, distinct ids', async () => {
    const c = await ask(`Checking.${block(call('get_weather', ARGS), call('get_time', '{"tz": "Europe/Paris"}'))}`, { tools: [weatherTool, timeTool] });
    const ch = c.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls');
    assert.equal(ch.message.content, 'Checking.');
    assert.equal(ch.message.tool_calls.length, 2, JSON.stringify(ch.message));
    const [a, b] = ch.message.tool_calls;
    assert.deepEqual([a.function.name, b.function.name], ['get_weather', 'get_time']);
    assert.equal(a.function.arguments, ARGS);
    assert.deepEqual(JSON.parse(b.function.arguments), { tz: 'Europe/Paris' });
    for (const t of [a, b]) { assert.match(t.id, CALL_ID); assert.equal(t.type, 'function'); }
    assert.notEqual(a.id, b.id);
  });

  it('ids differ between requests too', async () => {
    const ids = new Set();
    for (let i = 0; i < 5; i++) ids.add(assertOneCall(await ask(ONE_CALL)).id);
    assert.equal(ids.size, 5);
  });

  const variants = [
    ['<｜tool_calls_begin｜> (underscores)', `<${FW}tool_calls_begin${FW}>${call('get_weather', ARGS)}${TCS_E}`],
    ['<｜tool calls begin｜> (spaces)', `<${FW}tool calls begin${FW}>${call('get_weather', ARGS)}${TCS_E}`],
    ['<｜tool\\_calls\\_begin｜> (escaped underscores)', `<${FW}tool\\_calls\\_begin${FW}>${call('get_weather', ARGS)}${TCS_E}`],
    ['<｜tool▁calls｜> as the opener', `<${FW}tool${LB}calls${FW}>${call('get_weather', ARGS)}${TCS_E}`],
    ['whitespace before <｜tool▁call▁end｜>', `${TCS_B}${TC_B}get_weather${SEP}${ARGS}\n  ${TC_E}${TCS_E}`],
    ['whitespace around the name and arguments', `${TCS_B}${TC_B} get_weather ${SEP} ${ARGS}\n${TC_E}${TCS_E}`],
    ['no <｜tool▁calls▁end｜> (output ends after the call)', `${TCS_B}${call('get_weather', ARGS)}`],
    ['<｜end▁of▁sentence｜> instead of <｜tool▁calls▁end｜>', `${TCS_B}${call('get_weather', ARGS)}${EOS}`],
  ];
  for (const [name, out] of variants) {
    it(`a malformed variant still parses: ${name}`, async () => {
      const c = await ask(`Let me check.${out}`);
      const ch = c.choices[0];
      assert.equal(ch.finish_reason, 'tool_calls', `finish_reason; message ${JSON.stringify(ch.message)}`);
      assert.equal(ch.message.content, 'Let me check.');
      assert.equal(ch.message.tool_calls?.length, 1, JSON.stringify(ch.message));
      assert.equal(ch.message.tool_calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(ch.message.tool_calls[0].function.arguments), { city: 'Paris' });
    });
  }

  it('an invented tool name → no tool_calls, the text stays in content (without markers), finish "stop"', async () => {
    const content = assertNoCall(await ask(`Let me check.${block(call('launch_rocket', '{"target": "Moon"}'))}`));
    assert.ok(content.startsWith('Let me check.'), content);
    assert.ok(content.includes('launch_rocket'), `the invented call is visible as text: ${JSON.stringify(content)}`);
    assert.ok(content.includes('Moon'), content);
  });

  it('invalid JSON arguments → no tool_calls, the text stays in content, finish "stop"', async () => {
    const content = assertNoCall(await ask(`Let me check.${block(call('get_weather', '{"city": Paris'))}`));
    assert.ok(content.startsWith('Let me check.'), content);
    assert.ok(content.includes('get_weather') && content.includes('{"city": Paris'), `the broken call is visible: ${JSON.stringify(content)}`);
  });

  it('one good call and one invented → only the good one is a tool call', async () => {
    const c = await ask(block(call('get_weather', ARGS), call('nope', '{}')));
    const ch = c.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls');
    assert.equal(ch.message.tool_calls.length, 1);
    assert.equal(ch.message.tool_calls[0].function.name, 'get_weather');
    assertNoMarkers(ch.message.content, 'content');
  });

  it('fenced JSON fallback: ```json {"name", "arguments"} ``` → a tool call', async () => {
    const c = await ask('```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```');
    const ch = c.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls', JSON.stringify(ch.message));
    assert.equal(ch.message.content, null);
    assert.equal(ch.message.tool_calls.length, 1);
    const [tc] = ch.message.tool_calls;
    assert.match(tc.id, CALL_ID);
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Paris' });
  });

  it('fenced JSON naming an unknown tool, and a plain JSON answer, stay content', async () => {
    let content = assertNoCall(await ask('```json\n{"name": "launch_rocket", "arguments": {}}\n```'));
    assert.ok(content.includes('launch_rocket'), content);
    content = assertNoCall(await ask('{"city": "Paris", "temp": 18}'));
    assert.equal(content, '{"city": "Paris", "temp": 18}');
  });

  it('plain text with tools offered → content, finish "stop", no tool_calls', async () => {
    assert.equal(assertNoCall(await ask(['It is ', 'sunny.'])), 'It is sunny.');
  });

  it('the block split into one chunk per character → same result', async () => {
    assertOneCall(await ask([...ONE_CALL]));
  });

  it('every two-piece split of the output (inside every marker) → same result', async () => {
    const splits = twoPieceSplits(ONE_CALL);
    const failures = [];
    await inBatches(splits, 8, async (pieces) => {
      bed.fake.script({ output: pieces });
      const c = await bed.client.chat.completions.create(withTools());
      try { assertOneCall(c); } catch (e) { failures.push(`${JSON.stringify(pieces)} → ${JSON.stringify(c.choices[0])}: ${e.message}`); }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${splits.length} splits failed`);
  });

  it('tool_choice "none": marker-free text is content and finish "stop"', async () => {
    const c = await ask(['Just ', 'text.'], { tool_choice: 'none' });
    assert.equal(c.choices[0].message.content, 'Just text.');
    assert.equal(c.choices[0].finish_reason, 'stop');
  });

  it('arguments with nested braces, escaped quotes, "}" in strings and non-ASCII are passed through exactly', async () => {
    const args = '{"text": "He said \\"hi\\" } ]", "nested": {"a": [1, {"b": "}{"}], "c": null}, "city": "Zürich 東京 😀"}';
    const c = await ask(['Ok.', TCS_B, TC_B, 'get_weather', SEP, args.slice(0, 20), args.slice(20), TC_E, TCS_E]);
    assertOneCall(c, { content: 'Ok.', args });
  });

  it('empty arguments count as "{}"', async () => {
    const c = await ask(block(call('get_time', '')), { tools: [timeTool] });
    const ch = c.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls', JSON.stringify(ch));
    assert.deepEqual(JSON.parse(ch.message.tool_calls[0].function.arguments), {});
  });

  it('a tool whose name extends another tool\'s name is told apart', async () => {
    const v2 = { type: 'function', function: { ...weatherTool.function, name: 'get_weather_v2' } };
    const c = await ask(block(call('get_weather_v2', ARGS)), { tools: [weatherTool, v2] });
    assert.equal(c.choices[0].message.tool_calls[0].function.name, 'get_weather_v2');
  });

  it('deepseek-reasoner with tools: reasoning, content and the call are all separated', async () => {
    const c = await ask(['Need the weather.', '</think>', '\n\nLet me check.', block(call('get_weather', ARGS))], { model: 'deepseek-reasoner' });
    assertOneCall(c);
    assert.equal(c.choices[0].message.reasoning_content, 'Need the weather.');
  });

  // With tools inactive (tool_choice "none", or no tools at all) a native block the
  // model writes anyway is removed: no call is reported and no marker reaches content.
  it('tool_choice "none" with tool history: a native block the model writes anyway never shows markers in content', async () => {
    bed.fake.script({ output: ['Checking again.', block(call('get_weather', ARGS))] });
    const c = await bed.client.chat.completions.create({
      model: M,
      tools: [weatherTool],
      tool_choice: 'none',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_aaaaaaaaaaaaaaaaaaaaaaaa', type: 'function', function: { name: 'get_weather', arguments: ARGS } }] },
        { role: 'tool', tool_call_id: 'call_aaaaaaaaaaaaaaaaaaaaaaaa', content: '{"temp":18}' },
        { role: 'user', content: 'And now?' },
      ],
    });
    const ch = c.choices[0];
    assert.ok(!ch.message.tool_calls?.length, 'tool_choice "none": no tool_calls');
    assert.equal(ch.finish_reason, 'stop');
    assertNoMarkers(ch.message.content, 'content');
    assert.equal(ch.message.content, 'Checking again.');
  });

  it('no tools at all: a native block in the output is removed from content', async () => {
    bed.fake.script({ output: ['Hi', block(call('get_weather', ARGS)), ' there'] });
    const c = await bed.client.chat.completions.create({
      model: M, messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(c.choices[0].message.content, 'Hi there');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.choices[0].message.tool_calls, undefined);
  });

  it('n = 2 with tools: each choice parsed on its own', async () => {
    bed.fake.script({ output: [ONE_CALL] }, { output: ['No call needed.'] });
    const c = await bed.client.chat.completions.create(withTools({ n: 2 }));
    assert.equal(c.choices.length, 2);
    const byFinish = Object.fromEntries(c.choices.map((ch) => [ch.finish_reason, ch.message]));
    assert.deepEqual(Object.keys(byFinish).sort(), ['stop', 'tool_calls']);
    assert.equal(byFinish.stop.content, 'No call needed.');
    assert.equal(byFinish.tool_calls.tool_calls[0].function.name, 'get_weather');
  });

  itExitsCleanly(() => bed, it);
});

describe('tools: streaming', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const stream = async (output, extra = {}) => {
    bed.fake.script({ output });
    return rawStream(bed, '/v1/chat/completions', withTools(extra));
  };

  it('content deltas first, then {index,id,type,function:{name,arguments:""}}, then argument fragments; finish "tool_calls"', async () => {
    const chunks = await stream(['Let me ', 'check.', TCS_B, TC_B, 'get_weather', SEP, '{"city": ', '"Paris"}', TC_E, TCS_E]);
    const a = assembleChat(chunks);
    assert.equal(a.role, 'assistant');
    assert.equal(a.content, 'Let me check.');
    for (const d of a.contentDeltas) assertNoMarkers(d, 'a content delta');
    assert.equal(a.finish, 'tool_calls');
    assert.equal(a.calls.length, 1);
    assert.equal(a.calls[0].function.name, 'get_weather');
    assert.equal(a.calls[0].function.arguments, ARGS);
    // the first delta of the call: exactly as specified
    const first = a.callDeltas[0];
    assert.deepEqual(first, { index: 0, id: first.id, type: 'function', function: { name: 'get_weather', arguments: '' } });
    for (const d of a.callDeltas.slice(1)) {
      assert.deepEqual(Object.keys(d).sort(), ['function', 'index'], `later deltas: index + arguments only: ${JSON.stringify(d)}`);
      assert.deepEqual(Object.keys(d.function), ['arguments']);
    }
    assert.ok(a.callDeltas.length >= 2, 'arguments come in their own delta(s)');
    // order: all content before the call
    const firstCall = a.order.indexOf('tool_calls');
    assert.ok(!a.order.slice(firstCall).includes('content'), `no content after the call started: ${a.order}`);
    // the finish chunk carries an empty delta
    const fin = chunks.find((c) => c.choices?.[0]?.finish_reason);
    assert.equal(fin.choices[0].finish_reason, 'tool_calls');
    assert.equal(bed.fake.streams().length, 1, 'the proxy read the prediction through urls.stream');
  });

  it('content before the block is sent as it comes, before the call is complete', async () => {
    bed.fake.script({ output: ['Let me check.', TCS_B, TC_B, 'get_weather', SEP, '{"city": ', '"Paris"}', TC_E, TCS_E], tokenDelay: 80 });
    const t0 = Date.now();
    const s = await bed.client.chat.completions.create({ ...withTools(), stream: true });
    let tContent = null;
    let tCall = null;
    let tEnd = null;
    for await (const c of s) {
      const d = c.choices[0]?.delta ?? {};
      if (d.content && tContent === null) tContent = Date.now() - t0;
      if (d.tool_calls && tCall === null) tCall = Date.now() - t0;
      if (c.choices[0]?.finish_reason) tEnd = Date.now() - t0;
    }
    assert.ok(tContent !== null && tCall !== null && tEnd !== null, `content ${tContent}, call ${tCall}, end ${tEnd}`);
    assert.ok(tEnd - tContent >= 400, `the content delta (${tContent} ms) came well before the end (${tEnd} ms): 8 chunks 80 ms apart`);
    assert.ok(tCall >= tContent, 'the call follows the content');
  });

  it("the SDK's stream helper accepts it: finalChatCompletion() has the call", async () => {
    bed.fake.script({ output: ['Let me check.', TCS_B, TC_B, 'get_weather', SEP, '{"city":', ' "Paris"}', TC_E, TCS_E] });
    const s = bed.client.chat.completions.stream(withTools());
    const events = [];
    s.on('tool_calls.function.arguments.done', (e) => events.push(e));
    for await (const _ of s); // eslint-disable-line no-unused-vars
    const final = await s.finalChatCompletion();
    const ch = final.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls');
    assert.equal(ch.message.content, 'Let me check.');
    assert.equal(ch.message.tool_calls.length, 1);
    const tc = ch.message.tool_calls[0];
    assert.match(tc.id, CALL_ID);
    assert.equal(tc.type, 'function');
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Paris' });
    assert.equal(events.length, 1);
    assert.equal(events[0].name, 'get_weather');
  });

  it('two parallel calls stream as index 0 and 1 with distinct ids (SDK helper and raw)', async () => {
    const out = ['Checking.', TCS_B, call('get_weather', ARGS), call('get_time', '{"tz": "UTC"}'), TCS_E];
    let chunks = await stream(out, { tools: [weatherTool, timeTool] });
    const a = assembleChat(chunks);
    assert.equal(a.content, 'Checking.');
    assert.equal(a.finish, 'tool_calls');
    assert.deepEqual(a.calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.deepEqual(a.calls.map((c) => JSON.parse(c.function.arguments)), [{ city: 'Paris' }, { tz: 'UTC' }]);
    assert.notEqual(a.calls[0].id, a.calls[1].id);

    bed.fake.script({ output: out });
    const s = bed.client.chat.completions.stream(withTools({ tools: [weatherTool, timeTool] }));
    for await (const _ of s); // eslint-disable-line no-unused-vars
    const final = await s.finalChatCompletion();
    assert.deepEqual(final.choices[0].message.tool_calls.map((t) => t.function.name), ['get_weather', 'get_time']);
    chunks = null;
  });

  it('one character per chunk: markers never leak, the call still parses', async () => {
    const chunks = await stream([...ONE_CALL]);
    const a = assembleChat(chunks);
    assert.equal(a.content, 'Let me check.');
    for (const d of a.contentDeltas) assertNoMarkers(d, 'a content delta');
    assert.equal(a.finish, 'tool_calls');
    assert.equal(a.calls.length, 1);
    assert.equal(a.calls[0].function.name, 'get_weather');
    assert.equal(a.calls[0].function.arguments, ARGS);
  });

  it('every two-piece split of the output, streamed → same deltas merged', async () => {
    const splits = twoPieceSplits(ONE_CALL);
    const failures = [];
    await inBatches(splits, 8, async (pieces) => {
      bed.fake.script({ output: pieces });
      let a;
      try {
        a = assembleChat(await rawStream(bed, '/v1/chat/completions', withTools()));
        assert.equal(a.content, 'Let me check.');
        assert.equal(a.finish, 'tool_calls');
        assert.equal(a.calls.length, 1);
        assert.equal(a.calls[0].function.name, 'get_weather');
        assert.equal(a.calls[0].function.arguments, ARGS);
      } catch (e) { failures.push(`${JSON.stringify(pieces)}: ${e.message}`); }
    });
    assert.deepEqual(failures, [], `${failures.length} of ${splits.length} splits failed`);
  });

  it('large arguments (~24 KB) in many small chunks arrive whole and in order', async () => {
    const big = JSON.stringify({ city: 'Paris', notes: Array.from({ length: 600 }, (_, i) => `note ${i} ${'x'.repeat(24)}`) });
    const out = ['Ok.', TCS_B, TC_B, 'get_weather', SEP];
    for (let i = 0; i < big.length; i += 97) out.push(big.slice(i, i + 97));
    out.push(TC_E, TCS_E);
    const a = assembleChat(await stream(out));
    assert.equal(a.calls.length, 1);
    assert.equal(a.calls[0].function.arguments, big);
    assert.equal(a.content, 'Ok.');
    assert.equal(a.finish, 'tool_calls');
  });

  it('n = 2 streamed: each choice has its own role, content / call deltas and finish_reason', async () => {
    bed.fake.script({ output: ['Let me check.', block(call('get_weather', ARGS))] }, { output: ['No ', 'call.'] });
    const chunks = await rawStream(bed, '/v1/chat/completions', withTools({ n: 2 }));
    const a = [assembleChat(chunks, 0), assembleChat(chunks, 1)];
    for (const x of a) assert.equal(x.role, 'assistant');
    const byFinish = Object.fromEntries(a.map((x) => [x.finish, x]));
    assert.deepEqual(Object.keys(byFinish).sort(), ['stop', 'tool_calls']);
    assert.equal(byFinish.stop.content, 'No call.');
    assert.equal(byFinish.stop.calls.length, 0);
    assert.equal(byFinish.tool_calls.content, 'Let me check.');
    assert.equal(byFinish.tool_calls.calls[0].function.arguments, ARGS);
    assert.equal(byFinish.tool_calls.calls[0].function.name, 'get_weather');
  });

  it('include_usage with tool calls: a usage chunk with choices [] before [DONE]; the SDK helper still works', async () => {
    bed.fake.script({ output: [ONE_CALL], metrics: { input_token_count: 7, output_token_count: 5 } });
    const chunks = await rawStream(bed, '/v1/chat/completions', withTools({ stream_options: { include_usage: true } }));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual({ p: last.usage.prompt_tokens, c: last.usage.completion_tokens, t: last.usage.total_tokens }, { p: 7, c: 5, t: 12 });
    bed.fake.script({ output: [ONE_CALL] });
    const s = bed.client.chat.completions.stream(withTools({ stream_options: { include_usage: true } }));
    for await (const _ of s); // eslint-disable-line no-unused-vars
    const final = await s.finalChatCompletion();
    assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather');
  });

  it('round trip with the stream helper: its final message is sent back as is (200)', async () => {
    bed.fake.script({ output: ['Let me check.', block(call('get_weather', '{"city":"Paris"}'))] });
    const s = bed.client.chat.completions.stream(withTools());
    for await (const _ of s); // eslint-disable-line no-unused-vars
    const final = await s.finalChatCompletion();
    const msg = final.choices[0].message;
    bed.fake.script({ output: ['18°C.'] });
    const c = await bed.client.chat.completions.create(withTools({
      messages: [...ASK, msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '{"temp":18}' }],
    }));
    assert.equal(c.choices[0].message.content, '18°C.');
    const p = bed.fake.creates().at(-1).body.input.prompt;
    assert.ok(p.includes(`${TC_B}get_weather${SEP}{"city":"Paris"}${TC_E}`), `the call is in the history:\n${p}`);
    assert.ok(p.includes('{"temp":18}'), p);
  });

  it('an invented tool name, streamed → content only, finish "stop", no markers', async () => {
    const chunks = await stream(['Let me check.', TCS_B, TC_B, 'launch_rocket', SEP, '{}', TC_E, TCS_E]);
    const a = assembleChat(chunks);
    assert.equal(a.calls.length, 0, JSON.stringify(a.callDeltas));
    assert.equal(a.finish, 'stop');
    assert.ok(a.content.startsWith('Let me check.'), a.content);
    for (const d of a.contentDeltas) assertNoMarkers(d, 'a content delta');
  });

  it('fenced JSON fallback, streamed → a tool call', async () => {
    const a = assembleChat(await stream(['```json\n{"name": "get_weather", ', '"arguments": {"city": "Paris"}}\n```']));
    assert.equal(a.finish, 'tool_calls', JSON.stringify(a));
    assert.equal(a.calls.length, 1);
    assert.equal(a.calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(a.calls[0].function.arguments), { city: 'Paris' });
    assert.ok(a.content === null || a.content === '', `no content: ${JSON.stringify(a.content)}`);
  });

  it('plain text with tools offered streams as content, finish "stop"', async () => {
    const a = assembleChat(await stream(['It is ', 'sunny', '.']));
    assert.equal(a.content, 'It is sunny.');
    assert.equal(a.finish, 'stop');
    assert.equal(a.calls.length, 0);
  });

  itExitsCleanly(() => bed, it);
});

describe('legacy functions / function_call', () => {
  let bed;
  const fnDef = weatherTool.function;
  const legacy = (extra = {}) => ({ model: M, messages: ASK, functions: [fnDef], ...extra });
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('functions → message.function_call {name, arguments}, finish_reason "function_call"', async () => {
    bed.fake.script({ output: [ONE_CALL] });
    const c = await bed.client.chat.completions.create(legacy());
    const ch = c.choices[0];
    assert.equal(ch.finish_reason, 'function_call', JSON.stringify(ch));
    assert.deepEqual(ch.message.function_call, { name: 'get_weather', arguments: ARGS });
    assert.ok(!ch.message.tool_calls, `no tool_calls in the legacy shape: ${JSON.stringify(ch.message)}`);
    assert.equal(ch.message.content, 'Let me check.');
    const p = bed.fake.creates()[0].body.input.prompt;
    assert.ok(p.includes(toolBlock([weatherTool])), p);
    assert.ok(p.includes('Call at most one tool.'), 'legacy function calling answers one call');
  });

  it('function_call {name} → "You must call the tool `get_weather`."; "none" → no block', async () => {
    bed.fake.script({ output: [ONE_CALL] }, { output: ['ok'] });
    const c = await bed.client.chat.completions.create(legacy({ function_call: { name: 'get_weather' } }));
    assert.equal(c.choices[0].finish_reason, 'function_call');
    assert.ok(bed.fake.creates()[0].body.input.prompt.includes('You must call the tool `get_weather`.'));
    await bed.client.chat.completions.create(legacy({ function_call: 'none' }));
    assert.ok(!bed.fake.creates()[1].body.input.prompt.includes('## Tools'));
  });

  it('the legacy round trip (assistant function_call + a function message) is accepted', async () => {
    bed.fake.script({ output: ['It is 18°C.'] });
    const c = await bed.client.chat.completions.create(legacy({
      messages: [
        ...ASK,
        { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { role: 'function', name: 'get_weather', content: '{"temp":18}' },
      ],
    }));
    assert.equal(c.choices[0].message.content, 'It is 18°C.');
    assert.equal(c.choices[0].finish_reason, 'stop');
    const p = bed.fake.creates()[0].body.input.prompt;
    assert.ok(p.includes('{"city":"Paris"}') && p.includes('{"temp":18}'), `history rendered:\n${p}`);
  });

  it('legacy functions, streamed: function_call deltas, finish "function_call"', async () => {
    bed.fake.script({ output: ['Let me check.', TCS_B, call('get_weather', ARGS), TCS_E] });
    const chunks = await rawStream(bed, '/v1/chat/completions', legacy());
    let name = '';
    let args = '';
    let finish = null;
    let content = '';
    for (const c of chunks) {
      const ch = c.choices?.[0];
      if (!ch) continue;
      assert.ok(!ch.delta?.tool_calls, `no tool_calls deltas in the legacy shape: ${JSON.stringify(c)}`);
      if (ch.delta?.function_call?.name) name += ch.delta.function_call.name;
      if (ch.delta?.function_call?.arguments) args += ch.delta.function_call.arguments;
      if (ch.delta?.content) content += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.equal(content, 'Let me check.');
    assert.equal(name, 'get_weather');
    assert.equal(args, ARGS);
    assert.equal(finish, 'function_call');
  });

  itExitsCleanly(() => bed, it);
});
