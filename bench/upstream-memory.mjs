// Memory of the proxy under large and unread upstream replies (issue 7). Prints figures,
// never fails. Each case runs on a fresh proxy, so VmHWM (peak RSS) is that case's peak.
//   node bench/upstream-memory.mjs [--bin build/replicate-proxy] [--mb 50]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
process.env.PROXY_BIN = resolve(opt('--bin', 'build/replicate-proxy'));
// helpers.mjs reads PROXY_BIN when it loads: import it after setting it.
const { CLIENT_KEY, sleep, startFake, startProxy } = await import('../tests/integration/helpers.mjs');
const MB = Number(opt('--mb', 50));
const TOKEN = 'z'.repeat(1000);
const TOKENS = MB * 1000;

const mem = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const fmt = (x) => `${x.toFixed(1)} MB`;

function post(url, body, { read = true } = {}) {
  return new Promise((ok, ko) => {
    const data = JSON.stringify(body);
    const req = http.request(`${url}/v1/chat/completions`, {
      method: 'POST', agent: false,
      headers: { Authorization: `Bearer ${CLIENT_KEY}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
    }, (res) => {
      if (!read) { res.pause(); return ok({ req, res }); }
      let n = 0;
      res.on('data', (d) => { n += d.length; });
      res.on('end', () => ok({ status: res.statusCode, bytes: n }));
    });
    req.on('error', ko);
    req.end(data);
  });
}

async function withProxy(fn) {
  const fake = await startFake({ rawStreams: true, log: false });
  const p = await startProxy({ fake, config: { log_level: 'info', request_timeout: '5m' } });
  try { return await fn(fake, p); } finally { await p.stop({ check: false }); await fake.close(); }
}

const ask = (prompt, stream) => ({ model: 'deepseek-v3.1', stream, messages: [{ role: 'user', content: prompt }] });
console.log(`proxy: ${process.env.PROXY_BIN}`);

await withProxy(async (fake, p) => {
  const pid = p.proc.pid;
  const before = mem(pid, 'VmRSS');
  for (let i = 0; i < 5; i++) fake.script({ tokenCount: TOKENS, token: TOKEN, burst: 64 });
  const clients = [];
  for (let i = 0; i < 5; i++) clients.push(await post(p.url, ask(`x${i}`, true), { read: false }));
  let last = -1;
  for (let still = 0; still < 10;) { // until RSS stops moving for 2 s
    await sleep(200);
    const now = mem(pid, 'VmRSS');
    still = Math.abs(now - last) < 0.5 ? still + 1 : 0;
    last = now;
  }
  console.log(`5 clients not reading a ${MB} MB stream: VmRSS ${fmt(before)} -> ${fmt(last)} (peak ${fmt(mem(pid, 'VmHWM'))})`);
  for (const c of clients) c.req.destroy();
});

await withProxy(async (fake, p) => {
  const pid = p.proc.pid;
  const before = mem(pid, 'VmRSS');
  fake.script({ tokenCount: TOKENS, token: TOKEN, burst: 64 });
  const r = await post(p.url, ask('one big stream', true));
  console.log(`one ${MB} MB streamed reply, read by the client: ${r.status}, ${fmt(r.bytes / 2 ** 20)} relayed; VmRSS ${fmt(before)}, peak ${fmt(mem(pid, 'VmHWM'))}`);
});

await withProxy(async (fake, p) => {
  const pid = p.proc.pid;
  const before = mem(pid, 'VmRSS');
  fake.script({ tokenCount: TOKENS, token: TOKEN });
  const r = await post(p.url, ask('one big reply', false));
  console.log(`one ${MB} MB non-streaming reply (sync create carries the output): ${r.status}; VmRSS ${fmt(before)}, peak ${fmt(mem(pid, 'VmHWM'))}`);
});
