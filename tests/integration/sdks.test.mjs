// More real SDKs on the Responses API, pointed at the proxy: the OpenAI Agents
// SDK (its default OpenAIResponsesModel; a text answer and a function tool round
// trip), the AI SDK's default openai(id) (Responses: generateText, streamText)
// and openai's responses.parse with a zod schema. Each asserts the answer the
// SDK hands its caller and what reached Replicate.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Agent, OpenAIProvider, Runner, tool } from '@openai/agents';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { z } from 'zod';
import { zodTextFormat } from 'openai/helpers/zod';
import OpenAI from 'openai';
import { CLIENT_KEY, setup, itExitsCleanly } from './helpers.mjs';
import { block, call } from './deepseek.mjs';

const M = 'deepseek-v3.1';

describe('sdks: Responses API clients', () => {
  let bed;
  let paths = []; // "METHOD /path" of every request an SDK sent: proves which API it spoke
  const prompts = () => bed.fake.creates().map((c) => c.body.input.prompt);
  const recordingFetch = (url, init) => {
    paths.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(url, init);
  };
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => { bed.fake.reset(); paths = []; });

  // The provider's own defaults (useResponses unset): the Responses model.
  const runner = () => new Runner({
    modelProvider: new OpenAIProvider({
      openAIClient: new OpenAI({ baseURL: `${bed.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, fetch: recordingFetch }),
    }),
    tracingDisabled: true,
  });

  it('@openai/agents: a text answer through the default Responses model', async () => {
    bed.fake.script({ output: ['Bonjour', ' !'] });
    const agent = new Agent({ name: 'greeter', instructions: 'Answer in French.', model: M });
    const r = await runner().run(agent, 'Say hello.');
    assert.equal(r.finalOutput, 'Bonjour !');
    assert.equal(bed.fake.creates().length, 1);
    const p = prompts()[0];
    assert.ok(p.includes('Answer in French.') && p.includes('Say hello.'), p);
    assert.deepEqual(paths, ['POST /v1/responses']);
  });

  it('@openai/agents: a streamed run yields the text deltas and the final output', async () => {
    bed.fake.script({ output: ['Un', ', deux', ', trois.'] });
    const agent = new Agent({ name: 'counter', instructions: 'Count.', model: M });
    const r = await runner().run(agent, 'Count to three.', { stream: true });
    let text = '';
    for await (const piece of r.toTextStream()) text += piece;
    await r.completed;
    assert.equal(text, 'Un, deux, trois.');
    assert.equal(r.finalOutput, 'Un, deux, trois.');
    assert.equal(bed.fake.creates()[0].body.input.prompt.includes('Count to three.'), true);
    assert.deepEqual(paths, ['POST /v1/responses']);
  });

  it('@openai/agents: a function tool round trip (call, local execution, output back in, final answer)', async () => {
    bed.fake.script({ output: [block(call('get_weather', '{"city": "Paris"}'))] });
    bed.fake.script({ output: ['It is sunny in Paris.'] });
    const seen = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Get the current weather for a city.',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => { seen.push(city); return `sunny, 21C in ${city}`; },
    });
    const agent = new Agent({ name: 'weather', instructions: 'Use tools.', model: M, tools: [getWeather] });
    const r = await runner().run(agent, 'Weather in Paris?');
    assert.deepEqual(seen, ['Paris']);
    assert.equal(r.finalOutput, 'It is sunny in Paris.');
    assert.equal(bed.fake.creates().length, 2);
    assert.ok(prompts()[0].includes('get_weather'), 'the tool reaches the prompt');
    assert.ok(prompts()[1].includes('sunny, 21C in Paris'), `the tool output reaches the second prompt: ${prompts()[1]}`);
    assert.deepEqual(paths, ['POST /v1/responses', 'POST /v1/responses']);
  });

  it('AI SDK openai(id) (Responses): generateText and streamText', async () => {
    const openai = createOpenAI({ baseURL: `${bed.url}/v1`, apiKey: CLIENT_KEY, fetch: recordingFetch });
    bed.fake.script({ output: ['Four', '.'], metrics: { input_token_count: 5, output_token_count: 2 } });
    const g = await generateText({ model: openai(M), prompt: 'What is 2+2?', maxRetries: 0 });
    assert.equal(g.text, 'Four.');
    assert.equal(g.finishReason, 'stop');
    assert.equal(g.usage.inputTokens, 5);
    assert.equal(g.usage.outputTokens, 2);
    bed.fake.script({ output: ['Str', 'eam', 'ed'] });
    const s = streamText({ model: openai(M), prompt: 'Stream please.', maxRetries: 0 });
    let text = '';
    for await (const piece of s.textStream) text += piece;
    assert.equal(text, 'Streamed');
    assert.equal(await s.finishReason, 'stop');
    assert.equal(bed.fake.creates().length, 2);
    assert.ok(prompts()[1].includes('Stream please.'));
    assert.deepEqual(paths, ['POST /v1/responses', 'POST /v1/responses']);
  });

  it('openai responses.parse with a zod schema: JSON mode upstream, output_parsed', async () => {
    const Person = z.object({ name: z.string(), age: z.number() });
    bed.fake.script({ output: ['{"name": "Ada", ', '"age": 36}'] });
    const r = await bed.client.responses.parse({ model: M, input: 'Who wrote the first program?',
      text: { format: zodTextFormat(Person, 'person') } });
    assert.deepEqual(r.output_parsed, { name: 'Ada', age: 36 });
    assert.ok(prompts()[0].includes('"age"'), `the schema reaches the prompt: ${prompts()[0]}`);
  });

  itExitsCleanly(() => bed, it);
});
