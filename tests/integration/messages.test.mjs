// POST /v1/messages and /v1/messages/count_tokens through the official
// @anthropic-ai/sdk (messages.create, messages.stream, countTokens, a tool round
// trip) and raw requests: the message object, the event order, errors in
// Anthropic's shape, auth from x-api-key or Bearer, ?beta=true, HEAD /,
// thinking and tools, stop_sequences and the extra_models option.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { CLIENT_KEY, setup, itExitsCleanly } from './helpers.mjs';
import { TCS_B, WEATHER_PARAMS, block, call } from './deepseek.mjs';

const M = 'deepseek-v3.1';
const MSG_ID = /^msg_[A-Za-z0-9]+$/;
const TOOLU_ID = /^toolu_[A-Za-z0-9]+$/;
const weather = { name: 'get_weather', description: 'Get the current weather for a city.', input_schema: WEATHER_PARAMS };
const ARGS = '{"city": "Paris"}';
const ask = (content, extra = {}) => ({ model: M, max_tokens: 100, messages: [{ role: 'user', content }], ...extra });

const anthropic = (url, opts = {}) => new Anthropic({ baseURL: url, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20000, ...opts });

// Raw SSE: [{event, data}] with data parsed.
function events(text) {
  return text.split('\n\n').filter((b) => b.trim() && !b.startsWith(':')).map((b) => ({
    event: /^event: (.*)$/m.exec(b)?.[1],
    data: JSON.parse(/^data: (.*)$/m.exec(b)[1]),
  }));
}

function assertAnthropicError(r, status, type) {
  assert.equal(r.status, status, `status (body: ${r.text.slice(0, 300)})`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(r.json), ['type', 'error'], r.text);
  assert.equal(r.json.type, 'error');
  assert.deepEqual(Object.keys(r.json.error), ['type', 'message']);
  assert.equal(r.json.error.type, type);
  assert.equal(typeof r.json.error.message, 'string');
}

describe('messages: non-streaming and errors', () => {
  let bed, client;
  const prompt = () => bed.fake.creates().at(-1).body.input.prompt;
  // Error mapping as the client sees it: no create retries, no circuit breaker
  // (ops_retries.test.mjs tests those).
  before(async () => {
    bed = await setup({ config: { extra_models: 'claude-*', upstream_max_retries: '0', circuit_cooldown: '0' } });
    client = anthropic(bed.url);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('messages.create: a message with a text block, end_turn, usage; system blocks and max_tokens reach the prediction', async () => {
    bed.fake.script({ output: ['Hello', '!', ' How can', ' I help?'], metrics: { input_token_count: 9, output_token_count: 4 } });
    const m = await client.messages.create({ ...ask('Hi there'), system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      metadata: { user_id: 'u1' }, top_k: 5 });
    assert.match(m.id, MSG_ID);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, M);
    assert.deepEqual(m.content, [{ type: 'text', text: 'Hello! How can I help?' }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.deepEqual(m.usage, { input_tokens: 9, output_tokens: 4 });
    const input = bed.fake.creates()[0].body.input;
    assert.equal(input.max_tokens, 100);
    assert.ok(input.prompt.indexOf('Be brief.') >= 0 && input.prompt.indexOf('Be brief.') < input.prompt.indexOf('Hi there'), input.prompt);
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${bed.fake.creates()[0].headers.authorization.slice(7)}`);
  });

  it('x-api-key and Bearer both authorize; ?beta=true and anthropic-* headers are accepted; HEAD / answers 200', async () => {
    bed.fake.script({ output: ['a'] }, { output: ['b'] });
    const body = ask('x');
    let r = await bed.request('POST', '/v1/messages?beta=true', { auth: false, body,
      headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'a');
    r = await bed.request('POST', '/v1/messages?beta=true', { body });
    assert.equal(r.json.content[0].text, 'b');
    r = await bed.request('HEAD', '/', { auth: false });
    assert.equal(r.status, 200);
  });

  it('stop_sequences: stop_reason stop_sequence naming it; max_tokens reached: max_tokens', async () => {
    bed.fake.script({ output: ['one two ', 'STOP', ' three'] });
    let m = await client.messages.create(ask('count', { stop_sequences: ['STOP'] }));
    assert.deepEqual(m.content, [{ type: 'text', text: 'one two ' }]);
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, 'STOP');
    bed.fake.script({ output: ['a', 'b', 'c'], metrics: { output_token_count: 3 } });
    m = await client.messages.create(ask('x', { max_tokens: 3 }));
    assert.equal(m.stop_reason, 'max_tokens');
  });

  it('thinking enabled without tools: a thinking block then the text', async () => {
    bed.fake.script({ output: ['Let me think...</think>\n\nThe answer is 4.'] });
    const m = await client.messages.create(ask('2+2?', { thinking: { type: 'enabled', budget_tokens: 1024 } }));
    assert.equal(bed.fake.creates()[0].body.input.thinking, 'medium');
    assert.equal(m.content.length, 2);
    assert.equal(m.content[0].type, 'thinking');
    assert.equal(m.content[0].thinking, 'Let me think...');
    assert.deepEqual(m.content[1], { type: 'text', text: 'The answer is 4.' });
  });

  it('a tool round trip: tool_use out (thinking off while tools are offered), tool_result back in', async () => {
    bed.fake.script({ output: [`Let me check.${block(call('get_weather', ARGS))}`] });
    const m = await client.messages.create(ask('Weather in Paris?', { tools: [weather, { type: 'web_search_20250305', name: 'web_search' }],
      tool_choice: { type: 'auto' }, thinking: { type: 'adaptive' } }));
    const input = bed.fake.creates()[0].body.input;
    assert.ok(input.prompt.includes('get_weather'));
    assert.ok(!input.prompt.includes('web_search'), 'server tools are left out');
    assert.equal(input.thinking, undefined, 'thinking off with tools (docs-dialects.md)');
    assert.equal(m.stop_reason, 'tool_use');
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, 'Let me check.');
    const tu = m.content[1];
    assert.equal(tu.type, 'tool_use');
    assert.match(tu.id, TOOLU_ID);
    assert.equal(tu.name, 'get_weather');
    assert.deepEqual(tu.input, { city: 'Paris' });

    bed.fake.script({ output: ['It is sunny.'] });
    const m2 = await client.messages.create({ model: M, max_tokens: 100, tools: [weather], messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hidden', signature: 'x' }, { type: 'text', text: 'Let me check.' }, tu] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: [{ type: 'text', text: '{"temp": 21}' }] },
        { type: 'text', text: 'And tomorrow?', cache_control: { type: 'ephemeral' } }] },
      { role: 'system', content: 'MID SYSTEM NOTE' },
    ] });
    assert.deepEqual(m2.content, [{ type: 'text', text: 'It is sunny.' }]);
    const p = prompt();
    for (const s of ['{"temp": 21}', 'And tomorrow?', 'MID SYSTEM NOTE', TCS_B]) assert.ok(p.includes(s), `"${s}" in the prompt: ${p}`);
    assert.ok(!p.includes('hidden'), 'thinking blocks are not replayed');
  });

  it('errors in Anthropic\'s shape: 400 (no max_tokens, an image), 404 unknown model, 401 without a key; SDK error types', async () => {
    let r = await bed.request('POST', '/v1/messages', { body: { model: M, messages: [{ role: 'user', content: 'x' }] } });
    assertAnthropicError(r, 400, 'invalid_request_error');
    assert.match(r.json.error.message, /max_tokens/);
    r = await bed.request('POST', '/v1/messages', { body: ask([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }]) });
    assertAnthropicError(r, 400, 'invalid_request_error');
    assert.match(r.json.error.message, /image/);
    r = await bed.request('POST', '/v1/messages', { body: { ...ask('x'), model: 'gpt-nope' } });
    assertAnthropicError(r, 404, 'not_found_error');
    assert.equal(bed.fake.creates().length, 0);
    await assert.rejects(client.messages.create({ ...ask('x'), model: 'gpt-nope' }), (e) => e instanceof Anthropic.NotFoundError);
  });

  it('upstream failures: Replicate 429 → rate_limit_error, 503 → 502 api_error, a failed prediction → api_error', async () => {
    bed.fake.script({ http: { status: 429, headers: { 'retry-after': '7' } } });
    let r = await bed.request('POST', '/v1/messages', { body: ask('x') });
    assertAnthropicError(r, 429, 'rate_limit_error');
    assert.equal(r.headers['retry-after'], '7');
    bed.fake.script({ http: { status: 503 } });
    r = await bed.request('POST', '/v1/messages', { body: ask('x') });
    assertAnthropicError(r, 502, 'api_error');
    bed.fake.script({ status: 'failed', error: 'boom' });
    r = await bed.request('POST', '/v1/messages', { body: ask('x') });
    assert.ok(r.status >= 500, r.text);
    assertAnthropicError(r, r.status, 'api_error');
  });

  it('extra_models: claude-* names are served by the configured model and echoed back', async () => {
    bed.fake.script({ output: ['hi'] });
    const m = await client.messages.create({ ...ask('x'), model: 'claude-sonnet-4-5' });
    assert.equal(m.model, 'claude-sonnet-4-5');
    assert.equal(m.content[0].text, 'hi');
  });

  it('count_tokens: the local estimate, no upstream call', async () => {
    const c = await client.messages.countTokens({ model: M, messages: [{ role: 'user', content: 'Hello there, how are you today?' }], tools: [weather] });
    assert.ok(Number.isInteger(c.input_tokens) && c.input_tokens > 5, JSON.stringify(c));
    const r = await bed.request('POST', '/v1/messages/count_tokens?beta=true', { body: { model: M, messages: [{ role: 'user', content: 'Hi' }] } });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['input_tokens']);
    assert.ok(r.json.input_tokens < c.input_tokens);
    assert.equal(bed.fake.creates().length, 0);
  });
  itExitsCleanly(() => bed, it);
});

describe('messages: 404, 405 and 413 under /v1/messages in Anthropic\'s shape', () => {
  let bed;
  before(async () => { bed = await setup({ config: { max_body_size: '1KiB' } }); });
  after(async () => { await bed?.finish(); });

  it('a mistyped subpath 404s as not_found_error naming the served paths, a GET 405s with Allow, a big body 413s', async () => {
    let r = await bed.request('POST', '/v1/messages/count-tokens?beta=true', { body: ask('x') });
    assertAnthropicError(r, 404, 'not_found_error');
    assert.match(r.json.error.message, /^Invalid URL \(POST \/v1\/messages\/count-tokens\)\. This server serves: .*POST \/v1\/messages\/count_tokens$/);
    r = await bed.request('GET', '/v1/messages');
    assertAnthropicError(r, 405, 'invalid_request_error');
    assert.equal(r.headers.allow, 'POST');
    r = await bed.request('POST', '/v1/messages', { body: ask('x'.repeat(4096)) });
    assertAnthropicError(r, 413, 'request_too_large');
    // Without /v1 (a base URL lacking it) the shape is Anthropic's too; elsewhere OpenAI's.
    r = await bed.request('POST', '/messages/nope', { body: ask('x') });
    assertAnthropicError(r, 404, 'not_found_error');
    r = await bed.request('POST', '/v1/nope', { body: ask('x') });
    assert.equal(r.status, 404);
    assert.deepEqual(Object.keys(r.json), ['error']);
    assert.equal(bed.fake.creates().length, 0);
  });
  itExitsCleanly(() => bed, it);
});

describe('messages: the proxy without a server token (401 in Anthropic\'s shape)', () => {
  let bed;
  before(async () => { bed = await setup({ config: { replicate_api_token: '' } }); });
  after(async () => { await bed?.finish(); });

  it('no x-api-key and no Bearer: 401 authentication_error', async () => {
    const r = await bed.request('POST', '/v1/messages', { auth: false, body: ask('x') });
    assertAnthropicError(r, 401, 'authentication_error');
  });
  itExitsCleanly(() => bed, it);
});

describe('messages: streaming', () => {
  let bed, client;
  before(async () => { bed = await setup(); client = anthropic(bed.url); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('event order: message_start, ping, content_block_start/delta/stop, message_delta, message_stop (raw)', async () => {
    bed.fake.script({ output: ['Hel', 'lo'], metrics: { input_token_count: 3, output_token_count: 2 } });
    const r = await bed.request('POST', '/v1/messages', { body: ask('hi', { stream: true }) });
    assert.equal(r.status, 200);
    const evs = events(r.text);
    evs.forEach((e) => assert.equal(e.data.type, e.event));
    assert.deepEqual(evs.map((e) => e.event), ['message_start', 'ping', 'content_block_start', 'content_block_delta',
      'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    assert.match(evs[0].data.message.id, MSG_ID);
    assert.deepEqual(evs[0].data.message.content, []);
    assert.deepEqual(evs[2].data, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    assert.deepEqual(evs[3].data.delta, { type: 'text_delta', text: 'Hel' });
    assert.deepEqual(evs[6].data.delta, { stop_reason: 'end_turn', stop_sequence: null });
    assert.equal(evs[6].data.usage.output_tokens, 2);
  });

  it('messages.stream: text events and the final message; thinking and tool_use blocks with their deltas', async () => {
    bed.fake.script({ output: ['One', ' two'] });
    const s = client.messages.stream(ask('count'));
    let text = '';
    s.on('text', (t) => (text += t));
    const final = await s.finalMessage();
    assert.equal(text, 'One two');
    assert.deepEqual(final.content, [{ type: 'text', text: 'One two' }]);
    assert.equal(final.stop_reason, 'end_turn');

    bed.fake.script({ output: ['hmm</think>', 'Sure.'] });
    const t = await client.messages.stream(ask('x', { thinking: { type: 'enabled', budget_tokens: 1024 } })).finalMessage();
    assert.equal(t.content[0].type, 'thinking');
    assert.equal(t.content[0].thinking, 'hmm');
    assert.deepEqual(t.content[1], { type: 'text', text: 'Sure.' });

    bed.fake.script({ output: [block(call('get_weather', ARGS))] });
    const c = await client.messages.stream(ask('x', { tools: [weather] })).finalMessage();
    assert.equal(c.stop_reason, 'tool_use');
    assert.equal(c.content.length, 1);
    assert.equal(c.content[0].type, 'tool_use');
    assert.match(c.content[0].id, TOOLU_ID);
    assert.deepEqual(c.content[0].input, { city: 'Paris' });
  });

  it('a failure mid-stream is an error event', async () => {
    // A dropped upstream stream is resumed by polling (issue 7); a prediction
    // that fails after output cannot be.
    bed.fake.script({ output: ['one ', 'two '], status: 'failed', error: 'E1001 out of memory', tokenDelay: 10 });
    const r = await bed.request('POST', '/v1/messages', { body: ask('x', { stream: true }) });
    const evs = events(r.text);
    assert.equal(evs[0].event, 'message_start');
    const last = evs.at(-1);
    assert.equal(last.event, 'error');
    assert.equal(last.data.error.type, 'api_error');
    assert.ok(!evs.some((e) => e.event === 'message_stop'));
  });
  itExitsCleanly(() => bed, it);
});
