// DeepSeek V3.1 markers and small helpers shared by tools/thinking/jsonmode/
// completions tests: the expected tool description block (openai-api.md §9),
// Python json.dumps, and a raw SSE reader for streamed replies.
import assert from 'node:assert/strict';

// U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER ONE EIGHTH BLOCK, never ASCII.
export const FW = '\uFF5C';
export const LB = '\u2581';
const tok = (...words) => `<${FW}${words.join(LB)}${FW}>`;

export const BOS = tok('begin', 'of', 'sentence');
export const EOS = tok('end', 'of', 'sentence');
export const USER = tok('User');
export const ASSISTANT = tok('Assistant');
export const TCS_B = tok('tool', 'calls', 'begin');
export const TCS_E = tok('tool', 'calls', 'end');
export const TC_B = tok('tool', 'call', 'begin');
export const TC_E = tok('tool', 'call', 'end');
export const SEP = tok('tool', 'sep');
export const TO_B = tok('tool', 'output', 'begin');
export const TO_E = tok('tool', 'output', 'end');
export const THINK_B = '<think>';
export const THINK_E = '</think>';

// Every special token; none may ever reach a client's content.
export const MARKERS = [BOS, EOS, USER, ASSISTANT, TCS_B, TCS_E, TC_B, TC_E, SEP, TO_B, TO_E];

// One native call and a whole block, as the model writes them.
export const call = (name, args) => `${TC_B}${name}${SEP}${args}${TC_E}`;
export const block = (...calls) => `${TCS_B}${calls.join('')}${TCS_E}`;

// Python json.dumps(v) separators (", " and ": "), non-ASCII left alone (the
// tests only use ASCII, where ensure_ascii does not matter).
export function pyDumps(v) {
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`).join(', ')}}`;
  return JSON.stringify(v);
}

export const WEATHER_PARAMS = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' }, unit: { type: 'string', enum: ['c', 'f'] } },
  required: ['city'],
};
export const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Get the current weather for a city.', parameters: WEATHER_PARAMS },
};
export const TIME_PARAMS = { type: 'object', properties: { tz: { type: 'string' } }, required: [] };
export const timeTool = {
  type: 'function',
  function: { name: 'get_time', description: 'Current time in a time zone.', parameters: TIME_PARAMS },
};

// The tool description block of the model card / README (§9), no newline at
// either end; `tools` are OpenAI tool objects.
export function toolBlock(tools) {
  const parts = tools.map(({ function: f }) => `### ${f.name}\nDescription: ${f.description ?? ''}\n\nParameters: ${pyDumps(f.parameters ?? {})}`);
  return '## Tools\nYou have access to the following tools:\n\n' + parts.join('\n\n') +
    '\n\nIMPORTANT: ALWAYS adhere to this exact format for tool use:\n' +
    `${TCS_B}${TC_B}tool_call_name${SEP}tool_call_arguments${TC_E}{additional_tool_calls}${TCS_E}\n\n` +
    'Where:\n' +
    '- `tool_call_name` must be an exact match to one of the available tools\n' +
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n" +
    '- For multiple tool calls, chain them directly without separators or spaces';
}

export const CALL_ID = /^call_[A-Za-z0-9]{24}$/;

export function assertNoMarkers(text, what = 'text') {
  if (text === null || text === undefined) return;
  for (const m of MARKERS) assert.ok(!text.includes(m), `${what} contains the marker ${m}: ${JSON.stringify(text)}`);
  // pieces of a marker (a split one leaked)
  assert.ok(!text.includes(FW), `${what} contains U+FF5C (a piece of a marker): ${JSON.stringify(text)}`);
  assert.ok(!text.includes(LB), `${what} contains U+2581 (a piece of a marker): ${JSON.stringify(text)}`);
}

// Every way to cut `s` into two pieces (both non-empty).
export function twoPieceSplits(s) {
  const out = [];
  for (let k = 1; k < s.length; k++) out.push([s.slice(0, k), s.slice(k)]);
  return out;
}

// Run async fn over items, `width` at a time.
export async function inBatches(items, width, fn) {
  const results = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map((x, j) => fn(x, i + j)))));
  }
  return results;
}

// ---------------------------------------------------------------- SSE

// The data payloads of an SSE body: JSON objects, and '[DONE]'. Checks the
// framing rules of openai-api.md §5 (only data: lines and : comments).
export function sseData(text) {
  const out = [];
  for (const blk of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    if (!blk.trim()) continue;
    const lines = blk.split(/\r\n|\n|\r/);
    const data = [];
    for (const l of lines) {
      if (l.startsWith(':')) continue;
      assert.ok(l.startsWith('data:'), `only data: lines and comments in the stream, got ${JSON.stringify(l)}`);
      data.push(l.slice(5).replace(/^ /, ''));
    }
    if (!data.length) continue;
    const d = data.join('\n');
    out.push(d === '[DONE]' ? d : JSON.parse(d));
  }
  return out;
}

// POST a streaming request through the raw helper; returns the chunk objects
// (without the final [DONE], which is checked).
export async function rawStream(bed, path, body, opts = {}) {
  const r = await bed.request('POST', path, { ...opts, body: { ...body, stream: true } });
  assert.equal(r.status, 200, `stream status (body: ${r.text.slice(0, 500)})`);
  assert.match(String(r.headers['content-type']), /^text\/event-stream/);
  const events = sseData(r.text);
  assert.equal(events.at(-1), '[DONE]', `the stream ends with [DONE]: ${r.text.slice(-500)}`);
  assert.equal(events.filter((e) => e === '[DONE]').length, 1, 'one [DONE]');
  return events.slice(0, -1);
}

// Merge chat.completion.chunk objects for choice `index` the way the SDK does,
// and check the per-chunk rules of §4 on the way.
export function assembleChat(chunks, index = 0) {
  const acc = { role: null, content: null, reasoning: null, calls: [], finish: null, contentDeltas: [], reasoningDeltas: [], callDeltas: [], order: [] };
  let id = null;
  let created = null;
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    id ??= c.id;
    created ??= c.created;
    assert.equal(c.id, id, 'same id in every chunk');
    assert.equal(c.created, created, 'same created in every chunk');
    for (const ch of c.choices ?? []) {
      if (ch.index !== index) continue;
      assert.equal(acc.finish, null, `no delta for choice ${index} after its finish_reason: ${JSON.stringify(c)}`);
      const d = ch.delta ?? {};
      if (d.role) acc.role = d.role;
      if (typeof d.reasoning_content === 'string' && d.reasoning_content !== '') {
        acc.reasoning = (acc.reasoning ?? '') + d.reasoning_content;
        acc.reasoningDeltas.push(d.reasoning_content);
        acc.order.push('reasoning');
      }
      if (typeof d.content === 'string' && d.content !== '') {
        acc.content = (acc.content ?? '') + d.content;
        acc.contentDeltas.push(d.content);
        acc.order.push('content');
      }
      for (const tc of d.tool_calls ?? []) {
        assert.ok(Number.isInteger(tc.index), `tool call delta has an integer index: ${JSON.stringify(tc)}`);
        acc.callDeltas.push(tc);
        acc.order.push('tool_calls');
        let slot = acc.calls[tc.index];
        if (!slot) {
          assert.equal(tc.index, acc.calls.length, 'tool call indexes start at 0 and grow by one');
          assert.match(String(tc.id), CALL_ID, `a call's first delta has its id: ${JSON.stringify(tc)}`);
          assert.equal(tc.type, 'function', `a call's first delta has type: ${JSON.stringify(tc)}`);
          assert.equal(typeof tc.function?.name, 'string', `a call's first delta has its name: ${JSON.stringify(tc)}`);
          slot = acc.calls[tc.index] = { id: tc.id, type: tc.type, function: { name: tc.function.name, arguments: '' } };
        } else {
          assert.ok(tc.id === undefined || tc.id === slot.id, `id only in the first delta (or the same): ${JSON.stringify(tc)}`);
          assert.ok(tc.function?.name === undefined, `name only in the first delta: ${JSON.stringify(tc)}`);
        }
        if (typeof tc.function?.arguments === 'string') slot.function.arguments += tc.function.arguments;
      }
      if (ch.finish_reason !== null && ch.finish_reason !== undefined) acc.finish = ch.finish_reason;
    }
  }
  acc.id = id;
  return acc;
}
