// Issue 7, back-pressure: a client that stops reading a fast stream must not make the
// proxy buffer the stream (client_output_buffer, then the upstream transfer is paused),
// and a client that reads slowly still gets every byte exactly once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CLIENT_KEY, itExitsCleanly, setup, sleep } from './helpers.mjs';

let bed;

// VmRSS of a process in bytes (Linux /proc).
function rssOf(pid, field = 'VmRSS') {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

// A streaming request whose response is read only when asked to.
function openStream(prompt) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'deepseek-v3.1', stream: true, messages: [{ role: 'user', content: prompt }] });
    const req = http.request(`${bed.url}/v1/chat/completions`, {
      method: 'POST',
      agent: false,
      headers: { Authorization: `Bearer ${CLIENT_KEY}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.pause();
      resolve({ req, res });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Events the fake has written to the given streams so far (default: all of them).
const sentEvents = (streams = bed.fake.streams()) => streams.reduce((n, s) => n + (s.events?.length ?? 0), 0);

// Wait until the fake stops making progress on the streams `which()` returns (every
// one stalled or done). A test passes its own streams: another test's abandoned
// stream is never done, and with it counted a finished stream would look stalled.
async function untilStalled(which = () => bed.fake.streams(), maxMs = 60000) {
  const t0 = Date.now();
  let last = -1;
  let still = 0;
  while (Date.now() - t0 < maxMs) {
    const streams = which();
    const now = sentEvents(streams);
    const allDone = streams.length && streams.every((s) => s.doneAt !== undefined);
    if (allDone) return 'done';
    still = now === last ? still + 1 : 0;
    if (still >= 5) return 'stalled';
    last = now;
    await sleep(200);
  }
  return 'timeout';
}

// The loopback socket buffers (autotuned, several MB each way) took about 7.5 MB of
// one stream before the fake stalled (measured: 13,400-15,000 events of 506 bytes):
// a smaller stream runs to its end without ever pausing the proxy, and in one CI run
// (autotuning up to its limits) 15 MB went through whole. 50 MB, as the non-reading
// clients above, in large events: per-event work (the fake's, the proxy's,
// JSON.parse here) stays small on a loaded machine.
const SLOW_EVENTS = 10000;
const SLOW_EVENT_SIZE = 5000;

// A client reads nothing until the fake stalls (the proxy paused the upstream),
// reads nothing before `holdUntilMs` after the request either, then reads it all: every byte once, in order, then the
// finish chunk and [DONE], and no error event.
async function readsInFitsAndStarts(prompt, holdUntilMs = 0) {
  const out = Array.from({ length: SLOW_EVENTS }, (_, i) => `[${i}]` + 'q'.repeat(SLOW_EVENT_SIZE));
  bed.fake.script({ output: out, burst: 32, match: prompt });
  const t0 = Date.now();
  const { res } = await openStream(prompt);
  const id = bed.fake.creates().at(-1).predictionId;
  res.setEncoding('utf8');
  let text = '';
  res.on('data', (d) => { text += d; });
  const ended = new Promise((r) => res.on('end', r));
  assert.equal(await untilStalled(() => bed.fake.streams(id)), 'stalled', 'the upstream stream was paused');
  await sleep(holdUntilMs - (Date.now() - t0));
  res.resume();
  await ended;
  const blocks = text.split('\n\n').filter((b) => b && !b.startsWith(':')); // not keep-alives
  assert.equal(blocks.at(-1), 'data: [DONE]');
  const chunks = blocks.slice(0, -1).map((b) => JSON.parse(b.slice('data: '.length)));
  assert.deepEqual(chunks.filter((c) => c.error), [], 'no in-band error');
  assert.ok(chunks.at(-1).choices[0].finish_reason, 'the last chunk finishes the choice');
  const content = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(content.length, out.join('').length);
  assert.equal(content, out.join(''));
}

describe('back-pressure on streams', () => {
  // Not about the deadline: moving 50 MB through at load ~10 may take longer than 10 s.
  before(async () => { bed = await setup({ fakeOpts: { rawStreams: true }, config: { request_timeout: '60s' } }); });
  after(async () => { await bed?.finish(); });

  it('5 clients stop reading a fast 50 MB stream: RSS grows by less than 60 MB', async () => {
    const pid = bed.proxy.proc.pid;
    const before = rssOf(pid);
    const token = 'z'.repeat(1000);
    for (let i = 0; i < 5; i++) bed.fake.script({ tokenCount: 50000, token, burst: 64, match: `nonreader ${i}` });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await openStream(`nonreader ${i}`));
    const how = await untilStalled();
    const grown = rssOf(pid) - before;
    const sent = sentEvents();
    console.log(`# 5 non-reading clients: RSS ${(before / 2 ** 20).toFixed(1)} MB -> ${((before + grown) / 2 ** 20).toFixed(1)} MB (+${(grown / 2 ** 20).toFixed(1)} MB); upstream ${how} after ${(sent / 1000).toFixed(1)} MB of 250 MB`);
    for (const c of clients) c.req.destroy();
    assert.ok(grown < 60 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
    assert.equal(how, 'stalled', 'the upstream streams were paused, not read to the end');
    const ids = bed.fake.creates().map((c) => c.predictionId);
    await bed.fake.waitFor(() => ids.every((id) => bed.fake.cancels.includes(id)), 10000, 'the abandoned predictions are canceled');
  });

  it('a client that reads in fits and starts gets every byte once, in order', async () => {
    await readsInFitsAndStarts('slow reader');
  });

  itExitsCleanly(() => bed, it);
});

// request_timeout bounds the wait for Replicate: time the upstream spends paused
// because the client lags is not counted (it used to end such a stream with an
// in-band 504 upstream_timeout mid-answer).
describe('back-pressure and request_timeout', () => {
  // 12 s: moving the 50 MB once the client reads is counted, and takes seconds under ASan.
  before(async () => { bed = await setup({ fakeOpts: { rawStreams: true }, config: { request_timeout: '12s' } }); });
  after(async () => { await bed?.finish(); });

  it('a client that lags longer than request_timeout still gets the whole answer', async () => {
    await readsInFitsAndStarts('lagging reader', 16000);
  });

  itExitsCleanly(() => bed, it);
});
