// Upstream keep-alive connections (issue 11): the socket of a connection curl keeps in
// its pool stays registered with the worker's epoll between requests
// (server/up_sockets.c); when the server closes it, the proxy stops watching it (no
// busy loop on its EOF) and the next request opens a new connection, with one create.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { itExitsCleanly, setup, sleep, user } from './helpers.mjs';

// user + system CPU of a process, in ms (/proc/PID/stat counts 1/100 s).
function cpuMs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

describe('upstream keep-alive connections', () => {
  let bed;
  before(async () => { bed = await setup(); });
  after(async () => { await bed?.finish(); });

  async function chatOk(content) {
    const r = await bed.chat(user(content));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion', r.text);
    assert.equal(typeof r.json.choices[0].message.content, 'string');
    return r;
  }

  it('sequential non-streamed requests share one upstream connection', async () => {
    await chatOk('warm up');
    const c0 = bed.fake.connectionsOpened, creates0 = bed.fake.creates().length;
    for (let i = 0; i < 5; i++) await chatOk(`reuse ${i}`);
    assert.equal(bed.fake.creates().length - creates0, 5);
    assert.equal(bed.fake.connectionsOpened - c0, 0, 'every request went over the pooled connection');
  });

  it('a pooled connection the server closed: the idle proxy does not spin on it, the next requests open one new connection', async () => {
    assert.ok(bed.fake.dropConnections() >= 1, 'the proxy held a pooled connection');
    await sleep(200); // the FIN reaches the parked socket
    const pid = bed.proxy.proc.pid;
    const cpu0 = cpuMs(pid);
    await sleep(1000);
    const spent = cpuMs(pid) - cpu0;
    // A socket left watched at EOF wakes a level-triggered epoll_wait at once, forever.
    assert.ok(spent < 200, `the idle proxy used ${spent} ms of CPU in 1 s`);
    const c0 = bed.fake.connectionsOpened, creates0 = bed.fake.creates().length;
    for (let i = 0; i < 3; i++) await chatOk(`after the drop ${i}`);
    assert.equal(bed.fake.creates().length - creates0, 3, 'one create per request, none re-sent');
    assert.equal(bed.fake.connectionsOpened - c0, 1);
  });

  itExitsCleanly(() => bed, it);
});
