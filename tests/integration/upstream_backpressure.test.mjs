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

// Bytes the fake has written to the streams so far (events × event size).
const sentEvents = () => bed.fake.streams().reduce((n, s) => n + (s.events?.length ?? 0), 0);

// Wait until the fake stops making progress (every stream stalled or done).
async function untilStalled(maxMs = 60000) {
  const t0 = Date.now();
  let last = -1;
  let still = 0;
  while (Date.now() - t0 < maxMs) {
    const now = sentEvents();
    const allDone = bed.fake.streams().length && bed.fake.streams().every((s) => s.doneAt !== undefined);
    if (allDone) return 'done';
    still = now === last ? still + 1 : 0;
    if (still >= 5) return 'stalled';
    last = now;
    await sleep(200);
  }
  return 'timeout';
}

describe('back-pressure on streams', () => {
  before(async () => { bed = await setup({ fakeOpts: { rawStreams: true } }); });
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
    const out = Array.from({ length: 3000 }, (_, i) => `[${i}]` + 'q'.repeat(500));
    bed.fake.script({ output: out, burst: 32, match: 'slow reader' });
    const { res } = await openStream('slow reader');
    res.setEncoding('utf8');
    let text = '';
    res.on('data', (d) => { text += d; });
    const ended = new Promise((r) => res.on('end', r));
    // Read nothing until the upstream stalls (paused), then read it all.
    assert.equal(await untilStalled(), 'stalled');
    res.resume();
    await ended;
    let content = '';
    for (const block of text.split('\n\n')) {
      const data = block.startsWith('data: ') ? block.slice(6) : null;
      if (!data || data === '[DONE]') continue;
      content += JSON.parse(data).choices?.[0]?.delta?.content ?? '';
    }
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.equal(content.length, out.join('').length);
    assert.equal(content, out.join(''));
  });

  itExitsCleanly(() => bed, it);
});
