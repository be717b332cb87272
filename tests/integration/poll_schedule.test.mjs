// No fixed waits (issue 11): when the create's `Prefer: wait` reply says the
// prediction still runs, the first poll goes out at once and later ones back
// off from 20 ms up to poll_interval. poll_interval is 30 s here, longer than
// the request timeout: code that waits a whole poll_interval before polling
// answers 504 instead of the completion.
import assert from 'node:assert/strict';
import { after, beforeEach, before, describe, it } from 'node:test';
import { assertCompletion, itExitsCleanly, setup, user } from './helpers.mjs';

let bed;

describe('poll schedule: no fixed waits', () => {
  before(async () => { bed = await setup({ config: { poll_interval: '30s', request_timeout: '10s' } }); });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  const firstPollFollowsCreate = () => {
    const create = bed.fake.creates().at(-1);
    const gets = bed.fake.gets();
    assert.ok(gets.length >= 1);
    assert.ok(gets[0].seq > create.seq, 'the poll comes after the create');
    // Log order is the only claim: the GET is the next request the fake saw.
    const between = bed.fake.log.filter((e) => e.seq > create.seq && e.seq < gets[0].seq);
    assert.deepEqual(between, []);
    return gets;
  };

  it('chat: a "processing" sync reply is polled at once (not after poll_interval)', async () => {
    bed.fake.script({ output: ['Hel', 'lo'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 3, output_token_count: 2 } });
    const c = await bed.client.chat.completions.create(user('hi'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'Hello' }], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    assert.equal(firstPollFollowsCreate().length, 1);
  });

  it('chat: a cold start needing several polls backs off from 20 ms, not from poll_interval', async () => {
    bed.fake.script({ output: ['warm'], syncStatus: 'starting', polls: 4, startingPolls: 2, metrics: { input_token_count: 1, output_token_count: 1 } });
    const c = await bed.client.chat.completions.create(user('wake'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'warm' }], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const gets = firstPollFollowsCreate();
    assert.equal(gets.length, 4);
    for (let i = 1; i < gets.length; i++) {
      const gap = gets[i].time - gets[i - 1].time;
      assert.ok(gap >= 10, `poll gap ${gap} ms: the backoff's floor is 20 ms, not 0`);
    }
  });

  it('legacy completions: the same schedule', async () => {
    bed.fake.script({ output: ['ok'], syncStatus: 'processing', polls: 2, metrics: { input_token_count: 1, output_token_count: 1 } });
    const c = await bed.client.completions.create({ model: 'deepseek-v3.1', prompt: 'p' });
    assert.equal(c.choices[0].text, 'ok');
    assert.equal(firstPollFollowsCreate().length, 2);
  });

  it('Responses and Anthropic Messages: the same schedule', async () => {
    bed.fake.script({ output: ['r'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 1, output_token_count: 1 } });
    let r = await bed.request('POST', '/v1/responses', { body: { model: 'deepseek-v3.1', input: 'hi' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.output_text ?? r.json.output.at(-1).content[0].text, 'r');
    assert.equal(firstPollFollowsCreate().length, 1);
    bed.fake.reset();
    bed.fake.script({ output: ['m'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 1, output_token_count: 1 } });
    r = await bed.request('POST', '/v1/messages', { body: { model: 'deepseek-v3.1', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'm');
    assert.equal(firstPollFollowsCreate().length, 1);
  });

  it('a poll slower than the backoff is followed at once: poll starts are a round trip apart, not a round trip plus the backoff', async () => {
    // Each GET is answered 300 ms after it arrives (Replicate's take tens of ms); the backoff's
    // gap is at most ~2,700/12 = 225 ms here. Counted from the reply, as it once was, the gaps
    // were 300 ms + 20..225 (mean ~420).
    bed.fake.script({ output: ['slow'], syncStatus: 'starting', terminalAfterMs: 2400, pollDelay: 300, metrics: { input_token_count: 1, output_token_count: 1 } });
    const c = await bed.client.chat.completions.create(user('slow'));
    assertCompletion(c, { model: 'deepseek-v3.1', choices: [{ content: 'slow' }], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const gets = firstPollFollowsCreate();
    assert.ok(gets.length >= 6, `${gets.length} polls`);
    const gaps = gets.slice(1).map((g, i) => g.time - gets[i].time);
    for (const gap of gaps) assert.ok(gap >= 290, `poll gap ${gap} ms: never two polls in flight`);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    assert.ok(mean < 360, `mean poll gap ${mean.toFixed(0)} ms (gaps ${gaps.join(', ')}): the round trip counted twice`);
  });

  it('a non-streamed n=2 request polls each prediction at once', async () => {
    bed.fake.script({ output: ['a'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 1, output_token_count: 1 } });
    bed.fake.script({ output: ['b'], syncStatus: 'processing', polls: 1, metrics: { input_token_count: 1, output_token_count: 1 } });
    const c = await bed.client.chat.completions.create({ ...user('two'), n: 2 });
    assert.deepEqual(c.choices.map((x) => x.message.content).sort(), ['a', 'b']);
    assert.equal(bed.fake.gets().length, 2);
  });

  itExitsCleanly(() => bed, it);
});
