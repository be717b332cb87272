// POST /v1/responses through the official openai SDK (responses.create, stream,
// a tool round trip, previous_response_id) and raw requests: the answer object,
// the event order and sequence numbers, response.failed mid-stream, thinking,
// JSON mode and the input items refused.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertErrorReply, setup, itExitsCleanly } from './helpers.mjs';
import { TCS_B, WEATHER_PARAMS, assertNoMarkers, block, call } from './deepseek.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';

const M = 'deepseek-v3.1';
const RESP_ID = /^resp_[A-Za-z0-9]+$/;
const fnTool = { type: 'function', name: 'get_weather', description: 'Get the current weather for a city.', parameters: WEATHER_PARAMS, strict: false };
const ARGS = '{"city": "Paris"}';

// Raw SSE: [{event, data}] with data parsed.
function events(text) {
  return text.split('\n\n').filter((b) => b.trim() && !b.startsWith(':')).map((b) => {
    const ev = /^event: (.*)$/m.exec(b)?.[1];
    const data = JSON.parse(/^data: (.*)$/m.exec(b)[1]);
    return { event: ev, data };
  });
}

function assertSequence(evs) {
  evs.forEach((e, i) => {
    assert.equal(e.data.type, e.event, 'event: line = type');
    assert.equal(e.data.sequence_number, i, `sequence_number of ${e.event}`);
  });
}

describe('responses: non-streaming', () => {
  let bed;
  const prompt = () => bed.fake.creates().at(-1).body.input.prompt;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('responses.create with instructions and a string input: a completed response, output_text, usage', async () => {
    bed.fake.script({ output: ['Hello', '!', ' How can', ' I help?'], metrics: { input_token_count: 7, output_token_count: 4 } });
    const r = await bed.client.responses.create({ model: M, instructions: 'Be brief.', input: 'Hi there', max_output_tokens: 50 });
    assert.match(r.id, RESP_ID);
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.equal(r.model, M);
    assert.equal(r.output_text, 'Hello! How can I help?');
    assert.equal(r.output.length, 1);
    const [msg] = r.output;
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.status, 'completed');
    assert.deepEqual(msg.content, [{ type: 'output_text', text: 'Hello! How can I help?', annotations: [] }]);
    assert.deepEqual(r.usage, { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
    assert.equal(r.incomplete_details, null);
    const input = bed.fake.creates()[0].body.input;
    assert.equal(input.max_tokens, 50);
    assert.ok(input.prompt.indexOf('Be brief.') >= 0 && input.prompt.indexOf('Be brief.') < input.prompt.indexOf('Hi there'),
      `instructions first: ${input.prompt}`);
  });

  it('input items: developer/user/assistant messages with input_text/output_text parts reach the prompt in order', async () => {
    bed.fake.script({ output: ['ok'] });
    await bed.client.responses.create({ model: M, input: [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'DEV RULES' }] },
      { role: 'user', content: 'first question' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'first answer' }] },
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { role: 'user', content: [{ type: 'input_text', text: 'second ' }, { type: 'input_text', text: 'question' }] },
    ], store: false, include: ['reasoning.encrypted_content'], prompt_cache_key: 'k', metadata: { a: '1' } });
    const p = prompt();
    const order = ['DEV RULES', 'first question', 'first answer', 'second question'].map((s) => p.indexOf(s));
    assert.ok(order.every((v, i) => v >= 0 && (i === 0 || v > order[i - 1])), `order in prompt: ${p}`);
  });

  it('max_output_tokens reached: status incomplete with incomplete_details', async () => {
    bed.fake.script({ output: ['a', 'b', 'c'], metrics: { output_token_count: 3 } });
    const r = await bed.client.responses.create({ model: M, input: 'x', max_output_tokens: 3 });
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.output_text, 'abc');
  });

  it('reasoning.effort → thinking; the reasoning comes back as a reasoning item with a summary', async () => {
    bed.fake.script({ output: ['Let me think...</think>\n\nThe answer is 4.'] });
    const r = await bed.client.responses.create({ model: M, input: '2+2?', reasoning: { effort: 'high' } });
    assert.equal(bed.fake.creates()[0].body.input.thinking, 'medium');
    assert.equal(r.output.length, 2);
    assert.equal(r.output[0].type, 'reasoning');
    assert.deepEqual(r.output[0].summary, [{ type: 'summary_text', text: 'Let me think...' }]);
    assert.equal(r.output_text, 'The answer is 4.');
    assert.ok(r.usage.output_tokens_details.reasoning_tokens >= 1);
  });

  it('text.format json_schema → JSON mode (the schema reaches the prompt, fenced JSON is cleaned)', async () => {
    bed.fake.script({ output: ['```json\n{"a": 1}\n```'] });
    const r = await bed.client.responses.create({ model: M, input: 'give json',
      text: { format: { type: 'json_schema', name: 'thing', schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }, strict: true } } });
    assert.deepEqual(JSON.parse(r.output_text), { a: 1 });
    assert.ok(prompt().includes('"a"'), 'schema in the prompt');
  });

  it('image and file parts → 400 naming them; a bad input → 400; unknown model → 404', async () => {
    let r = await bed.request('POST', '/v1/responses', { body: { model: M, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:,' }] }] } });
    assertErrorReply(r, 400, { param: 'input[0].content' });
    assert.match(r.json.error.message, /input_image/);
    r = await bed.request('POST', '/v1/responses', { body: { model: M, input: 42 } });
    assertErrorReply(r, 400, { param: 'input' });
    r = await bed.request('POST', '/v1/responses', { body: { model: 'nope', input: 'x' } });
    assertErrorReply(r, 404, { code: 'model_not_found' });
    assert.equal(bed.fake.creates().length, 0);
  });

  it('previous_response_id continues a stored response; an unknown id is a 404', async () => {
    bed.fake.script({ output: ['My name is Ada.'] }, { output: ['You asked my name.'] });
    const first = await bed.client.responses.create({ model: M, instructions: 'SYSTEM ONE', input: 'What is your name?' });
    const second = await bed.client.responses.create({ model: M, previous_response_id: first.id, input: 'What did I ask?' });
    assert.equal(second.output_text, 'You asked my name.');
    const p = prompt();
    for (const s of ['What is your name?', 'My name is Ada.', 'What did I ask?'])
      assert.ok(p.includes(s), `"${s}" in the continued prompt: ${p}`);
    assert.ok(!p.includes('SYSTEM ONE'), 'instructions are not carried over');
    const r = await bed.request('POST', '/v1/responses', { body: { model: M, previous_response_id: 'resp_unknown', input: 'x' } });
    assertErrorReply(r, 404, { param: 'previous_response_id', code: 'previous_response_not_found' });
  });

  it('item_reference: an output item this proxy stored is replayed; an unknown one is skipped', async () => {
    bed.fake.script({ output: ['The capital is Paris.'] }, { output: ['ok'] });
    const first = await bed.client.responses.create({ model: M, input: 'Capital of France?' });
    const msgId = first.output[0].id;
    assert.match(msgId, /^msg_/);
    await bed.client.responses.create({ model: M, input: [
      { role: 'user', content: 'Capital of France?' },
      { type: 'item_reference', id: msgId },
      { type: 'item_reference', id: 'msg_not_ours' },
      { role: 'user', content: 'And of Spain?' },
    ] });
    const p = prompt();
    const at = ['Capital of France?', 'The capital is Paris.', 'And of Spain?'].map((x) => p.indexOf(x));
    assert.ok(at.every((v, i) => v >= 0 && (i === 0 || v > at[i - 1])), `replayed in order: ${p}`);
  });

  it('a tool round trip: function tools in, a function_call out, function_call_output back in', async () => {
    bed.fake.script({ output: [`Let me check.${block(call('get_weather', ARGS))}`] });
    const r = await bed.client.responses.create({ model: M, input: 'Weather in Paris?', tools: [fnTool, { type: 'web_search' }],
      reasoning: { effort: 'high' }, parallel_tool_calls: true, tool_choice: 'auto' });
    const input = bed.fake.creates()[0].body.input;
    assert.ok(input.prompt.includes('get_weather'), 'the tool reaches the prompt');
    assert.equal(input.thinking, undefined, 'tools in play: thinking off (see docs-dialects.md)');
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(r.output));
    const [fc] = calls;
    assert.match(fc.call_id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(fc.name, 'get_weather');
    assert.equal(fc.arguments, ARGS);
    assert.equal(fc.status, 'completed');
    assert.equal(r.output_text, 'Let me check.');
    assertNoMarkers(r.output_text);

    bed.fake.script({ output: ['It is sunny in Paris.'] });
    const r2 = await bed.client.responses.create({ model: M, tools: [fnTool], input: [
      { role: 'user', content: 'Weather in Paris?' },
      { type: 'function_call', call_id: fc.call_id, name: fc.name, arguments: fc.arguments },
      { type: 'function_call_output', call_id: fc.call_id, output: '{"temp": 21}' },
    ] });
    assert.equal(r2.output_text, 'It is sunny in Paris.');
    const p = prompt();
    assert.ok(p.includes('{"temp": 21}'), `tool output in the prompt: ${p}`);
    assert.ok(p.includes(TCS_B), 'the earlier call is replayed in the model\'s format');
  });
  itExitsCleanly(() => bed, it);
});

describe('responses: streaming', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('event order, sequence numbers, deltas and response.completed (raw)', async () => {
    bed.fake.script({ output: ['Hel', 'lo', ' there'], metrics: { input_token_count: 3, output_token_count: 3 } });
    const r = await bed.request('POST', '/v1/responses', { body: { model: M, input: 'hi', stream: true } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    const evs = events(r.text);
    assertSequence(evs);
    assert.deepEqual(evs.map((e) => e.event), [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    assert.equal(evs[0].data.response.status, 'in_progress');
    assert.match(evs[0].data.response.id, RESP_ID);
    const deltas = evs.filter((e) => e.event === 'response.output_text.delta');
    assert.deepEqual(deltas.map((e) => e.data.delta), ['Hel', 'lo', ' there']);
    const itemId = evs[2].data.item.id;
    assert.ok(deltas.every((e) => e.data.item_id === itemId && e.data.output_index === 0 && e.data.content_index === 0));
    assert.equal(evs[7].data.text, 'Hello there');
    const done = evs.at(-1).data.response;
    assert.equal(done.status, 'completed');
    assert.equal(done.id, evs[0].data.response.id);
    assert.equal(done.output[0].content[0].text, 'Hello there');
    assert.equal(done.usage.total_tokens, 6);
    assert.ok(!r.text.includes('[DONE]'));
  });

  it('the SDK stream helper: text deltas and the final response', async () => {
    bed.fake.script({ output: ['One', ' two', ' three'] });
    const stream = bed.client.responses.stream({ model: M, input: 'count' });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    assert.equal(text, 'One two three');
    assert.equal(final.output_text, 'One two three');
    assert.equal(final.status, 'completed');
  });

  it('reasoning summary events then the message; a function call with argument events', async () => {
    bed.fake.script({ output: ['hmm</think>', 'Sure.'] });
    let r = await bed.request('POST', '/v1/responses', { body: { model: M, input: 'x', stream: true, reasoning: { effort: 'medium' } } });
    let evs = events(r.text);
    assertSequence(evs);
    // Deltas may come in several pieces (the think splitter holds back a possible "</think>").
    const kinds = evs.map((e) => e.event).filter((k, i, a) => !(k.endsWith('.delta') && a[i - 1] === k));
    assert.deepEqual(kinds.slice(2, 8), ['response.output_item.added', 'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.done', 'response.reasoning_summary_part.done',
      'response.output_item.done']);
    assert.equal(evs.at(-1).data.response.output[0].summary[0].text, 'hmm');
    assert.equal(evs.at(-1).data.response.output[1].content[0].text, 'Sure.');

    bed.fake.script({ output: [block(call('get_weather', ARGS))] });
    r = await bed.request('POST', '/v1/responses', { body: { model: M, input: 'x', stream: true, tools: [fnTool] } });
    evs = events(r.text);
    assertSequence(evs);
    assert.deepEqual(evs.map((e) => e.event), ['response.created', 'response.in_progress', 'response.output_item.added',
      'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed']);
    assert.equal(evs[2].data.item.type, 'function_call');
    assert.equal(evs[2].data.item.name, 'get_weather');
    assert.equal(evs[4].data.arguments, ARGS);
    assert.equal(evs.at(-1).data.response.output[0].arguments, ARGS);
  });

  it('a failure after the first byte is a response.failed event, not a silent close', async () => {
    // A dropped upstream stream is resumed by polling (issue 7); a prediction
    // that fails after output cannot be resumed.
    bed.fake.script({ output: ['one ', 'two '], status: 'failed', error: 'E1001 out of memory', tokenDelay: 10 });
    const r = await bed.request('POST', '/v1/responses', { body: { model: M, input: 'x', stream: true } });
    const evs = events(r.text);
    assertSequence(evs);
    const last = evs.at(-1);
    assert.equal(last.event, 'response.failed');
    assert.equal(last.data.response.status, 'failed');
    assert.equal(last.data.response.error.code, 'prediction_failed');
    assert.ok(last.data.response.error.message.includes('E1001 out of memory'));
  });
  itExitsCleanly(() => bed, it);
});

describe('responses: stored responses belong to the key that made them; extra_models', () => {
  let bed; // gateway mode: two virtual keys
  let pass; // pass-through: each caller's own Replicate token
  const body = (extra) => ({ model: M, input: 'What is your name?', ...extra });
  before(async () => {
    bed = await gatewayBed({ config: { extra_models: 'gpt-*,o3' } });
    pass = await setup();
  });
  after(async () => { await bed?.finish(); await pass?.finish(); });

  it('another key cannot continue a response or replay its items (404 / skipped); its own key can', async () => {
    const [a, b] = [await bed.newKey(), await bed.newKey()];
    bed.fake.script({ output: ['My name is Ada.'] });
    const first = await bed.request('POST', '/v1/responses', { key: a.key, body: body() });
    assert.equal(first.status, 200, first.text);
    const cont = body({ input: 'And again?', previous_response_id: first.json.id });
    for (const key of [b.key, MASTER]) {
      const r = await bed.request('POST', '/v1/responses', { key, body: cont });
      assertErrorReply(r, 404, { param: 'previous_response_id', code: 'previous_response_not_found' });
      assert.match(r.json.error.message, new RegExp(first.json.id));
    }
    // An item reference of another key's output is skipped, not replayed.
    bed.fake.script({ output: ['ok'] });
    const ref = await bed.request('POST', '/v1/responses', { key: b.key, body: body({ input: [
      { type: 'item_reference', id: first.json.output[0].id }, { role: 'user', content: 'Hello' }] }) });
    assert.equal(ref.status, 200, ref.text);
    assert.ok(!bed.fake.creates().at(-1).body.input.prompt.includes('My name is Ada.'));
    bed.fake.script({ output: ['Yes.'] });
    const own = await bed.request('POST', '/v1/responses', { key: a.key, body: cont });
    assert.equal(own.status, 200, own.text);
    assert.ok(bed.fake.creates().at(-1).body.input.prompt.includes('My name is Ada.'));
  });

  it('pass-through: scoped by the caller\'s bearer token', async () => {
    const [t1, t2] = ['r8_caller_one_0123456789', 'r8_caller_two_0123456789'];
    for (const t of [t1, t2]) pass.proxy.addSecret(t);
    pass.fake.script({ output: ['Noted.'] });
    const first = await pass.request('POST', '/v1/responses', { key: t1, body: body() });
    assert.equal(first.status, 200, first.text);
    const cont = body({ input: 'And?', previous_response_id: first.json.id });
    assertErrorReply(await pass.request('POST', '/v1/responses', { key: t2, body: cont }), 404,
      { code: 'previous_response_not_found' });
    pass.fake.script({ output: ['Sure.'] });
    assert.equal((await pass.request('POST', '/v1/responses', { key: t1, body: cont })).status, 200);
  });

  it('extra_models: a listed name (glob) is served by the configured model and echoed back', async () => {
    const k = await bed.newKey();
    bed.fake.reset();
    for (const model of ['gpt-4.1-mini', 'o3']) {
      bed.fake.script({ output: ['Hi.'] });
      const r = await bed.request('POST', '/v1/responses', { key: k.key, body: body({ model }) });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.model, model);
      assert.equal(r.json.output_text ?? r.json.output[0].content[0].text, 'Hi.');
    }
    assert.equal(bed.fake.creates().length, 2);
    assert.ok(bed.fake.creates().every((c) => c.path.includes('deepseek-v3.1')), bed.fake.creates().map((c) => c.path).join());
    const other = await bed.request('POST', '/v1/responses', { key: k.key, body: body({ model: 'claude-3' }) });
    assertErrorReply(other, 404, { code: 'model_not_found' });
  });

  itExitsCleanly(() => ({ proxies: [...bed.proxies, ...pass.proxies], close: async () => { await bed.close(); await pass.close(); } }), it);
});
