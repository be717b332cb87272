// JSON mode over a text-only model: response_format json_object / json_schema adds
// an instruction to the prompt; the answer is cleaned (fences and prose stripped)
// and validated; invalid output is a 502 invalid_json_output (in-band when
// streaming, where the content is buffered and sent as one clean chunk).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { apiError, assertErrorReply, clientFor, setup, itExitsCleanly } from './helpers.mjs';
import { ASSISTANT, BOS, USER, assembleChat, rawStream, sseData } from './deepseek.mjs';

const M = 'deepseek-v3.1';
const JSON_OBJECT = { type: 'json_object' };
const ask = (extra = {}) => ({ model: M, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Give me JSON' }], response_format: JSON_OBJECT, ...extra });
const PERSON = {
  type: 'json_schema',
  json_schema: {
    name: 'person',
    description: 'A person record',
    strict: true,
    schema: {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' } },
      required: ['name', 'age'],
      additionalProperties: false,
    },
  },
};

describe('JSON mode (non-streaming)', () => {
  let bed;
  const prompt = () => bed.fake.creates().at(-1).body.input.prompt;
  const jsonReply = async (output, extra = {}) => {
    bed.fake.script({ output: Array.isArray(output) ? output : [output] });
    return bed.client.chat.completions.create(ask(extra));
  };
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('json_object → the prompt asks for JSON; a fenced answer with prose → content exactly the JSON', async () => {
    const c = await jsonReply(['Here you go:\n', '```json\n{"a"', ': 1}\n```']);
    assert.equal(c.choices[0].message.content, '{"a": 1}');
    assert.equal(c.choices[0].finish_reason, 'stop');
    const input = bed.fake.creates()[0].body.input;
    assert.deepEqual(Object.keys(input), ['prompt'], 'response_format is never an input key');
    const p = input.prompt;
    assert.match(p, /JSON/, `the prompt asks for JSON:\n${p}`);
    assert.ok(p.includes('Be brief.') && p.includes('Give me JSON'), p);
    assert.ok(p.indexOf('Give me JSON') > p.search(/JSON object/), `the instruction comes before the user turn:\n${p}`);
  });

  it('a single user message in JSON mode is no longer sent verbatim (the instruction is added)', async () => {
    bed.fake.script({ output: ['{}'] });
    const c = await bed.client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'List nothing' }], response_format: JSON_OBJECT });
    assert.equal(c.choices[0].message.content, '{}');
    assert.notEqual(prompt(), 'List nothing');
    assert.match(prompt(), /JSON/);
    assert.ok(prompt().includes('List nothing'));
  });

  it('clean JSON passes through byte for byte (key order, number format, spacing)', async () => {
    const text = '{"z": 1.50, "a": [1, 2, {"b": null}], "s": "caf\\u00e9 ☕"}';
    const c = await jsonReply(['  ', text, '\n']);
    assert.equal(c.choices[0].message.content, text);
    assert.deepEqual(JSON.parse(c.choices[0].message.content), { z: 1.5, a: [1, 2, { b: null }], s: 'café ☕' });
  });

  it('an unlabelled ``` fence and prose after the JSON are stripped too', async () => {
    let c = await jsonReply('```\n{"ok": true}\n```');
    assert.equal(c.choices[0].message.content, '{"ok": true}');
    c = await jsonReply('Sure! {"ok": true} Hope that helps.');
    assert.equal(c.choices[0].message.content, '{"ok": true}');
  });

  it('a JSON string holding ``` and braces is not mistaken for a fence', async () => {
    const text = '{"code": "```js\\nlet o = {a: 1};\\n```", "n": 1}';
    const c = await jsonReply(text);
    assert.equal(c.choices[0].message.content, text);
  });

  it('prose with braces before the JSON: the first balanced object that parses wins', async () => {
    const c = await jsonReply('Use {curly} braces, see [1]: {"a": {"b": [1, 2]}} done');
    assert.equal(c.choices[0].message.content, '{"a": {"b": [1, 2]}}');
  });

  it('<｜end▁of▁sentence｜> after the JSON is dropped', async () => {
    const c = await jsonReply(['{"a": 1}', '<\uFF5Cend\u2581of\u2581sentence\uFF5C>']);
    assert.equal(c.choices[0].message.content, '{"a": 1}');
  });

  it('JSON mode with tools: a tool call is returned as such, not judged as JSON', async () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    bed.fake.script({ output: ['<\uFF5Ctool\u2581calls\u2581begin\uFF5C><\uFF5Ctool\u2581call\u2581begin\uFF5C>get_weather<\uFF5Ctool\u2581sep\uFF5C>{"city": "Paris"}<\uFF5Ctool\u2581call\u2581end\uFF5C><\uFF5Ctool\u2581calls\u2581end\uFF5C>'] });
    const c = await bed.client.chat.completions.create(ask({ tools: [weather] }));
    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    assert.equal(c.choices[0].message.tool_calls[0].function.name, 'get_weather');
  });

  it('broken output {"a":  → HTTP 502, code invalid_json_output', async () => {
    bed.fake.script({ output: ['{"a": '] });
    const r = await bed.chat(ask());
    const e = assertErrorReply(r, 502, { code: 'invalid_json_output' });
    assert.ok(e.message.length > 0);
  });

  it('the SDK surfaces it as an APIError with status 502 and code invalid_json_output', async () => {
    bed.fake.script({ output: ['no JSON here at all'] });
    const e = await apiError(bed.client.chat.completions.create(ask()));
    assert.ok(e instanceof OpenAI.InternalServerError);
    assert.equal(e.status, 502);
    assert.equal(e.code, 'invalid_json_output');
  });

  it('json_object wants an object: a bare array is invalid', async () => {
    bed.fake.script({ output: ['[1, 2, 3]'] });
    assertErrorReply(await bed.chat(ask()), 502, { code: 'invalid_json_output' });
  });

  it('json_schema → the prompt carries the schema name, description and schema', async () => {
    const c = await jsonReply('{"name": "Ada", "age": 36}', { response_format: PERSON });
    assert.equal(c.choices[0].message.content, '{"name": "Ada", "age": 36}');
    const p = prompt();
    assert.match(p, /JSON/);
    assert.ok(p.includes('person'), `the schema name is in the prompt:\n${p}`);
    assert.ok(p.includes('A person record'), `the description is in the prompt:\n${p}`);
    assert.ok(p.includes('"required"') && p.includes('"age"') && p.includes('"additionalProperties"'), `the schema is in the prompt:\n${p}`);
  });

  it('json_schema strict: a required property missing → 502 invalid_json_output; present → 200', async () => {
    bed.fake.script({ output: ['```json\n{"name": "Ada"}\n```'] });
    assertErrorReply(await bed.chat(ask({ response_format: PERSON })), 502, { code: 'invalid_json_output' });
    bed.fake.script({ output: ['```json\n{"name": "Ada", "age": 36}\n```'] });
    const r = await bed.chat(ask({ response_format: PERSON }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, '{"name": "Ada", "age": 36}');
  });

  it('json_schema strict: a wrong type, or an extra property with additionalProperties false → 502', async () => {
    bed.fake.script({ output: ['{"name": "Ada", "age": "old"}'] });
    assertErrorReply(await bed.chat(ask({ response_format: PERSON })), 502, { code: 'invalid_json_output' });
    bed.fake.script({ output: ['{"name": "Ada", "age": 36, "email": "a@b.c"}'] });
    assertErrorReply(await bed.chat(ask({ response_format: PERSON })), 502, { code: 'invalid_json_output' });
  });

  it('json_schema without strict: the schema is asked for, but only JSON validity is enforced', async () => {
    const loose = { type: 'json_schema', json_schema: { ...PERSON.json_schema, strict: false } };
    const c = await jsonReply('{"name": "Ada"}', { response_format: loose });
    assert.equal(c.choices[0].message.content, '{"name": "Ada"}');
    bed.fake.script({ output: ['{"name": '] });
    assertErrorReply(await bed.chat(ask({ response_format: loose })), 502, { code: 'invalid_json_output' });
  });

  it('response_format text, or an unknown type → 200 / 400 param response_format.type', async () => {
    bed.fake.script({ output: ['plain {'] });
    const c = await bed.client.chat.completions.create(ask({ response_format: { type: 'text' } }));
    assert.equal(c.choices[0].message.content, 'plain {');
    assert.ok(!prompt().includes('JSON object'), 'no JSON instruction for type text');
    const r = await bed.chat(ask({ response_format: { type: 'yaml' } }));
    assertErrorReply(r, 400, { param: 'response_format.type' });
  });

  it('JSON mode with thinking: reasoning is split off, the content is the cleaned JSON', async () => {
    bed.fake.script({ output: ['I will answer {"a": 0} style.', '</think>', '\n\n```json\n{"a": 1}\n```'] });
    const c = await bed.client.chat.completions.create(ask({ model: 'deepseek-reasoner' }));
    assert.equal(c.choices[0].message.reasoning_content, 'I will answer {"a": 0} style.');
    assert.equal(c.choices[0].message.content, '{"a": 1}');
  });

  it('n = 2 in JSON mode: both choices cleaned', async () => {
    bed.fake.script({ output: ['```json\n{"i": 1}\n```'] }, { output: ['{"i": 2}'] });
    const c = await bed.client.chat.completions.create(ask({ n: 2 }));
    assert.deepEqual(c.choices.map((ch) => ch.message.content).sort(), ['{"i": 1}', '{"i": 2}']);
  });

  itExitsCleanly(() => bed, it);
});

describe('JSON mode (streaming)', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the content arrives as one clean JSON chunk at the end', async () => {
    bed.fake.script({ output: ['Here you go:\n', '```json\n', '{"a"', ': 1}', '\n```'] });
    const chunks = await rawStream(bed, '/v1/chat/completions', ask());
    const a = assembleChat(chunks);
    assert.equal(a.role, 'assistant');
    assert.equal(a.content, '{"a": 1}');
    assert.deepEqual(a.contentDeltas, ['{"a": 1}'], 'one content delta');
    assert.equal(a.finish, 'stop');
  });

  it('through the SDK', async () => {
    bed.fake.script({ output: ['{"b"', ': [true]}'] });
    const s = await bed.client.chat.completions.create({ ...ask(), stream: true });
    let content = '';
    let finish = null;
    for await (const c of s) {
      if (c.choices[0]?.delta?.content) content += c.choices[0].delta.content;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(content, '{"b": [true]}');
    assert.equal(finish, 'stop');
  });

  it('invalid JSON → an in-band error (code invalid_json_output) then [DONE]; no content', async () => {
    bed.fake.script({ output: ['{"a": ', '1'] });
    const r = await bed.chat({ ...ask(), stream: true });
    assert.equal(r.status, 200, 'the stream was already open');
    const events = sseData(r.text);
    assert.equal(events.at(-1), '[DONE]');
    const err = events.find((e) => e !== '[DONE]' && e.error);
    assert.ok(err, `an error event: ${r.text}`);
    assert.deepEqual(Object.keys(err.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(err.error.code, 'invalid_json_output');
    for (const e of events) {
      if (e === '[DONE]' || e.error) continue;
      for (const ch of e.choices ?? []) assert.ok(!ch.delta?.content, `no content before the error: ${JSON.stringify(e)}`);
    }
  });

  it('the SDK raises the in-band error as an APIError', async () => {
    bed.fake.script({ output: ['not json'] });
    const s = await bed.client.chat.completions.create({ ...ask(), stream: true });
    await assert.rejects(async () => { for await (const _ of s); }, (e) => { // eslint-disable-line no-unused-vars
      assert.ok(e instanceof OpenAI.APIError, `${e?.constructor?.name}: ${e?.message}`);
      assert.match(e.message, /JSON/i);
      return true;
    });
  });

  it('json_schema strict, streamed: missing property → in-band error; valid → one chunk', async () => {
    bed.fake.script({ output: ['{"name": "Ada"}'] });
    let r = await bed.chat({ ...ask({ response_format: PERSON }), stream: true });
    let events = sseData(r.text);
    assert.equal(events.find((e) => e?.error)?.error?.code, 'invalid_json_output', r.text);
    bed.fake.script({ output: ['```json\n{"name": ', '"Ada", "age": 36}\n```'] });
    const a = assembleChat(await rawStream(bed, '/v1/chat/completions', ask({ response_format: PERSON })));
    assert.deepEqual(a.contentDeltas, ['{"name": "Ada", "age": 36}']);
    r = null; events = null;
  });

  it('streamed thinking + JSON: reasoning streams, the JSON comes as one chunk', async () => {
    bed.fake.script({ output: ['Reason', 'ing.', '</think>', '{"a"', ': 1}'] });
    const a = assembleChat(await rawStream(bed, '/v1/chat/completions', ask({ model: 'deepseek-reasoner' })));
    assert.equal(a.reasoning, 'Reasoning.');
    assert.deepEqual(a.contentDeltas, ['{"a": 1}']);
  });

  itExitsCleanly(() => bed, it);
});

describe('JSON mode (prompt_format = deepseek)', () => {
  let bed;
  let client;
  before(async () => {
    bed = await setup();
    const p = await bed.addProxy({ config: { prompt_format: 'deepseek' } });
    client = clientFor(p.url, bed.apiKey);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('the instruction is one more part of the system prompt, after the system messages', async () => {
    bed.fake.script({ output: ['{"a": 1}'] });
    const c = await client.chat.completions.create(ask());
    assert.equal(c.choices[0].message.content, '{"a": 1}');
    const p = bed.fake.creates()[0].body.input.prompt;
    assert.ok(p.startsWith(`${BOS}Be brief.\n\n`), p);
    assert.ok(p.endsWith(`${USER}Give me JSON${ASSISTANT}</think>`), p);
    const instruction = p.slice(`${BOS}Be brief.\n\n`.length, p.indexOf(USER));
    assert.match(instruction, /JSON/);
    assert.ok(!instruction.includes('\n\n\n'), JSON.stringify(instruction));
  });

  it('no system message: BOS + instruction + user turn', async () => {
    bed.fake.script({ output: ['{}'] });
    await client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'x' }], response_format: JSON_OBJECT });
    const p = bed.fake.creates()[0].body.input.prompt;
    assert.match(p, new RegExp(`^${BOS}\\S[^]*JSON[^]*${USER}x${ASSISTANT}</think>$`), p);
  });

  itExitsCleanly(() => bed, it);
});
