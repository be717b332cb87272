// No fixed waits (issue 11): how long after a prediction's output is final
// does a non-streamed call return? Fake Replicate + the proxy with the default
// poll_interval (500ms). Prints figures; never fails on a missed target.
//   node bench/poll-latency.mjs [--bin PATH] [--runs N]
import { setup } from '../tests/integration/helpers.mjs';

const args = process.argv.slice(2);
const arg = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
if (arg('--bin')) process.env.PROXY_BIN = arg('--bin');
const runs = Number(arg('--runs', 10));
const M = 'deepseek-v3.1';
const pct = (a, q) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const bed = await setup({ config: { poll_interval: '500ms', log_level: 'info', request_timeout: '60s' } });
const cases = [
  // Baseline: the sync reply is terminal, no poll at all (the round trip's own cost).
  { name: 'baseline: terminal sync reply, no poll (chat)', api: 'chat', scenario: { syncStatus: 'terminal' }, durationMs: 0 },
  // Sync reply 'processing' with the full output; the first GET says succeeded.
  { name: 'sync reply "processing", complete at once (chat)', api: 'chat', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  { name: 'same, legacy /v1/completions', api: 'text', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  ...[300, 1000, 3000].map((d) => ({ name: `prediction runs ${d} ms (polling)`, api: 'chat', scenario: { syncStatus: 'starting', terminalAfterMs: d }, durationMs: d })),
];
const rows = [];
for (const c of cases) {
  const lat = [];
  let gets = 0;
  for (let i = 0; i < runs; i++) {
    bed.fake.reset();
    bed.fake.script({ output: ['ok'], ...c.scenario });
    const t0 = performance.now();
    if (c.api === 'chat') await bed.client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'hi' }] });
    else await bed.client.completions.create({ model: M, prompt: 'hi' });
    lat.push(performance.now() - t0);
    gets += bed.fake.gets().length;
  }
  const late = lat.map((x) => x - c.durationMs);
  rows.push({ case: c.name, runs, 'p50 ms': +pct(lat, 0.5).toFixed(1), 'max ms': +Math.max(...lat).toFixed(1),
    'late p50 ms': +pct(late, 0.5).toFixed(1), 'late max %': c.durationMs ? +((100 * Math.max(...late)) / c.durationMs).toFixed(1) : '-',
    'polls/call': +(gets / runs).toFixed(1) });
}
console.table(rows);
await bed.close();
