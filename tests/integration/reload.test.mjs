// SIGHUP reloads the config file (it used to kill the process, cutting every stream):
// open streams finish intact, new requests use the new values, the log names what
// changed (never a secret's value), a broken file keeps the running config, and an
// option that needs a restart is reported as such.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { REPLICATE_TOKEN, assertChunks, assertErrorReply, configText, itExitsCleanly, setup, sseRequest, user } from './helpers.mjs';

const NEW_TOKEN = 'r8_ReloadedTokenAfterSighup0000000000000';

// Wait until stderr has grown past `from` and contains `text`; returns the new part.
async function logAfter(p, from, text, timeoutMs = 5000) {
  const t0 = Date.now();
  for (;;) {
    const part = p.stderr.slice(from);
    if (part.includes(text)) return part;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no "${text}" in the log within ${timeoutMs} ms:\n${part}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SIGHUP reload', () => {
  let bed;
  let p;
  const rewrite = (changes) => writeFileSync(p.file, configText({ ...p.config, ...changes }));
  // Send SIGHUP and wait for the reload's verdict in the log.
  const hup = async (expect) => {
    const from = p.stderr.length;
    p.proc.kill('SIGHUP');
    return logAfter(p, from, expect);
  };
  before(async () => {
    bed = await setup({ fakeOpts: { tokens: [REPLICATE_TOKEN, NEW_TOKEN] }, config: { request_timeout: '10s' } });
    p = bed.proxy;
    p.addSecret(NEW_TOKEN);
  });
  after(async () => { await bed?.finish(); });
  beforeEach(() => bed.fake.reset());

  it('a stream open across SIGHUP completes intact; the next request uses the new token', async () => {
    const output = Array.from({ length: 16 }, (_, i) => `w${i} `);
    bed.fake.script({ output, tokenDelay: 40 });
    let reloaded = null;
    const s = await sseRequest(bed.url, '/v1/chat/completions', { ...user('long'), stream: true }, {
      onEvent: (ev, req, out) => {
        if (out.chunks.length === 2 && !reloaded) {
          rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: '500ms' });
          reloaded = hup('option');
        }
      },
    });
    const log = await reloaded;
    assert.equal(s.status, 200);
    assert.deepEqual(s.bad, []);
    assert.equal(s.error, null);
    assert.ok(s.done, 'the stream ended with [DONE]');
    const { contents } = assertChunks(s.chunks, { finish: 'stop' });
    assert.equal(contents[0], output.join(''));
    // The stream kept the token it started with.
    for (const r of bed.fake.requests()) if (r.headers.authorization) assert.equal(r.headers.authorization, `Bearer ${REPLICATE_TOKEN}`, `${r.kind} ${r.path}`);
    // The log names the changed keys, never the new token.
    assert.match(log, /reload: 2 options changed: replicate_api_token, request_timeout/);
    assert.ok(!log.includes(NEW_TOKEN));
    assert.ok(!log.includes('needs a restart'));

    bed.fake.reset();
    bed.fake.script({ output: ['after reload'] });
    const c = await bed.client.chat.completions.create(user('next'));
    assert.equal(c.choices[0].message.content, 'after reload');
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${NEW_TOKEN}`);
  });

  it('the reloaded request_timeout applies to new requests (504 after 500 ms, not 10 s)', async () => {
    bed.fake.script({ createDelay: 6000 });
    assertErrorReply(await bed.chat(user('slow')), 504);
  });

  it('a broken config file → logged, the running config stays, the process lives', async () => {
    writeFileSync(p.file, `replicate_api_token: ${NEW_TOKEN}x\nrequest_timeout = 10s\n`);
    const log = await hup('the running configuration stays');
    assert.match(log, /reload: .*proxy\.conf:1: expected 'replicate_api_token = value'/);
    rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: 'soon' });
    await hup('the running configuration stays');
    assert.equal(p.exited, null);
    bed.fake.script({ output: ['still new'] });
    const c = await bed.client.chat.completions.create(user('x'));
    assert.equal(c.choices[0].message.content, 'still new');
    assert.equal(bed.fake.creates()[0].headers.authorization, `Bearer ${NEW_TOKEN}`);
    bed.fake.script({ createDelay: 6000 });
    assertErrorReply(await bed.chat(user('slow')), 504);
  });

  it('a restart-only change is reported and not applied; others in the same reload are', async () => {
    rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: '10s', listen: '127.0.0.1:1', workers: 3 });
    const log = await hup('options changed');
    assert.match(log, /listen \(needs a restart\)/);
    assert.match(log, /workers \(needs a restart\)/);
    assert.match(log, /request_timeout/);
    assert.match(log, /keep their running values until the process is restarted/);
    bed.fake.script({ output: ['same port'], createDelay: 700 });
    const c = await bed.client.chat.completions.create(user('x'));
    assert.equal(c.choices[0].message.content, 'same port', 'served on the old port, with the new 10 s timeout');
  });

  it('a file equal to the running config is reported unchanged; the log level applies at once', async () => {
    // The restart-only values are back to the running ones: nothing differs.
    rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: '10s' });
    await hup('the configuration is unchanged');
    rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: '10s', log_level: 'error' });
    await hup('log_level');
    const from = p.stderr.length;
    bed.fake.script({ output: ['quiet'] });
    await bed.client.chat.completions.create(user('x'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(p.stderr.slice(from), '', 'nothing below error is logged');
    rewrite({ replicate_api_token: NEW_TOKEN, request_timeout: '10s', log_level: 'debug' });
    await hup('log_level');
  });

  it('SIGPIPE is ignored', async () => {
    p.proc.kill('SIGPIPE');
    const r = await bed.request('GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(p.exited, null);
  });

  itExitsCleanly(() => bed, it);
});
