// No fixed waits (issue 11): how long after a prediction's output is final
// does a non-streamed call return? Fake Replicate + the proxy with the default
// poll_interval (500ms). Prints figures; never fails on a missed target.
//   node bench/poll-latency.mjs [--bin PATH] [--runs N] [--json FILE]
// --json writes the same figures, one object per case keyed by `key`, to FILE.
import fs from 'node:fs';
import { createRequire } from 'node:module';

// The Anthropic SDK lives in tests/node_modules (as the openai one helpers.mjs uses).
const Anthropic = createRequire(new URL('../tests/package.json', import.meta.url))('@anthropic-ai/sdk').default;

const args = process.argv.slice(2);
const arg = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
if (arg('--bin')) process.env.PROXY_BIN = arg('--bin');
// Imported only now: helpers.mjs reads PROXY_BIN as it loads (a static import
// would run first, and --bin would be ignored).
const { CLIENT_KEY, setup } = await import('../tests/integration/helpers.mjs');
const runs = Number(arg('--runs', 10));
const M = 'deepseek-v3.1';
const pct = (a, q) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const POLL_INTERVAL = '500ms'; // the default, as a user runs it
const bed = await setup({ config: { poll_interval: POLL_INTERVAL, log_level: 'info', request_timeout: '60s' } });
const cases = [
  // Baseline: the sync reply is terminal, no poll at all (the round trip's own cost).
  { key: 'baseline', name: 'baseline: terminal sync reply, no poll (chat)', api: 'chat', scenario: { syncStatus: 'terminal' }, durationMs: 0 },
  // Sync reply 'processing' with the full output; the first GET says succeeded.
  { key: 'complete-chat', name: 'sync reply "processing", complete at once (chat)', api: 'chat', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  { key: 'complete-legacy', name: 'same, legacy /v1/completions', api: 'text', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  // The other dialects answer through the same exchange: the same first re-poll.
  { key: 'complete-responses', name: 'same, Responses /v1/responses', api: 'responses', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  { key: 'complete-messages', name: 'same, Anthropic /v1/messages', api: 'messages', scenario: { syncStatus: 'processing', polls: 1 }, durationMs: 0 },
  ...[300, 1000, 3000].map((d) => ({ key: `poll-${d}`, name: `prediction runs ${d} ms (polling)`, api: 'chat', scenario: { syncStatus: 'starting', terminalAfterMs: d }, durationMs: d })),
  // Replicate's GETs take tens of ms, not the fake's few: the schedule must not add them to each gap.
  { key: 'poll-1000-rtt60', name: 'prediction runs 1000 ms, each poll answered after 60 ms', api: 'chat', scenario: { syncStatus: 'starting', terminalAfterMs: 1000, pollDelay: 60 }, durationMs: 1000 },
];
const anthropic = new Anthropic({ baseURL: bed.url, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20000 });
const call = {
  chat: () => bed.client.chat.completions.create({ model: M, messages: [{ role: 'user', content: 'hi' }] }),
  text: () => bed.client.completions.create({ model: M, prompt: 'hi' }),
  responses: () => bed.client.responses.create({ model: M, input: 'hi' }),
  messages: () => anthropic.messages.create({ model: M, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
};
const rows = [], figures = [];
for (const c of cases) {
  const lat = [];
  let gets = 0;
  for (let i = 0; i < runs; i++) {
    bed.fake.reset();
    bed.fake.script({ output: ['ok'], ...c.scenario });
    const t0 = performance.now();
    await call[c.api]();
    lat.push(performance.now() - t0);
    gets += bed.fake.gets().length;
  }
  const late = lat.map((x) => x - c.durationMs);
  const f = { key: c.key, case: c.name, api: c.api, durationMs: c.durationMs, runs, p50Ms: +pct(lat, 0.5).toFixed(1),
    maxMs: +Math.max(...lat).toFixed(1), lateP50Ms: +pct(late, 0.5).toFixed(1),
    lateMaxPct: c.durationMs ? +((100 * Math.max(...late)) / c.durationMs).toFixed(1) : null, pollsPerCall: +(gets / runs).toFixed(1) };
  figures.push(f);
  rows.push({ case: c.name, runs, 'p50 ms': f.p50Ms, 'max ms': f.maxMs, 'late p50 ms': f.lateP50Ms,
    'late max %': f.lateMaxPct ?? '-', 'polls/call': f.pollsPerCall });
}
console.table(rows);
await bed.close();
if (arg('--json')) {
  fs.writeFileSync(arg('--json'), JSON.stringify({ when: new Date().toISOString(),
    params: { runs, poll_interval: POLL_INTERVAL }, cases: figures }, null, 2));
}
