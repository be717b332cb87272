// SIGHUP in gateway mode: the gateway hashes the master key and reads the
// prices once, at startup. A reload must not claim to apply what it does not:
// master_key needs a restart (the old key keeps working and the log says so),
// and the prices of requests after the reload are the new ones.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { configText, request, startProxy, user } from './helpers.mjs';
import { MASTER, gatewayBed } from './gateway_helpers.mjs';

const NEW_MASTER = 'sk-master-Rotated-After-Sighup-0123456789ab';

async function hup(p, expect) {
  const from = p.stderr.length;
  p.proc.kill('SIGHUP');
  const t0 = Date.now();
  for (;;) {
    const part = p.stderr.slice(from);
    if (part.includes(expect)) return part;
    if (Date.now() - t0 > 5000) throw new Error(`no "${expect}" in the log:\n${part}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('gateway: SIGHUP', () => {
  let bed;
  before(async () => { bed = await gatewayBed(); bed.proxy.addSecret(NEW_MASTER); });
  after(async () => { await bed?.finish(); });

  it('master_key needs a restart: the reload says so and the running key stays', async () => {
    const p = bed.proxy;
    writeFileSync(p.file, configText({ ...p.config, master_key: NEW_MASTER }));
    const log = await hup(p, 'reload:');
    assert.match(log, /master_key \(needs a restart\)/);
    assert.equal((await bed.admin('GET', '/key/list')).status, 200);
    assert.equal((await bed.request('GET', '/key/list', { key: NEW_MASTER })).status, 401);
    writeFileSync(p.file, configText(p.config));
  });

  it('a reload that would open the server token to anyone is refused, as at startup', async () => {
    // Public address, no server token (clients bring theirs): allowed. Adding
    // replicate_api_token by SIGHUP must not hand it to whoever reaches the port.
    const q = await startProxy({ fake: bed.fake, config: { listen: '0.0.0.0:0', replicate_api_token: undefined } });
    try {
      writeFileSync(q.file, configText({ ...q.config, replicate_api_token: 'r8_AddedByReloadOnAPublicPort000000000' }));
      q.addSecret('r8_AddedByReloadOnAPublicPort000000000');
      const log = await hup(q, 'reload: refused');
      assert.match(log, /open_gateway/);
      const r = await request(`http://127.0.0.1:${q.port}`, 'POST', '/v1/chat/completions', { body: user('hi') });
      assert.equal(r.status, 401, r.text); // still no server token
    } finally {
      await q.stop();
    }
  });

  it('prices changed by a reload are what the ledger charges next', async () => {
    const p = bed.proxy;
    const k = await bed.newKey({ key_alias: 'priced' });
    writeFileSync(p.file, configText({ ...p.config, input_price_per_mtok: '1000000', output_price_per_mtok: '1000000' }));
    await hup(p, 'reload:');
    bed.fake.script({ output: ['ok'] });
    const r = await bed.chat(user('hi'), { key: k.key });
    assert.equal(r.status, 200, r.text);
    const logs = await bed.admin('GET', `/spend/logs?api_key=${k.token}`);
    assert.equal(logs.status, 200, logs.text);
    const rows = Array.isArray(logs.json) ? logs.json : logs.json.data ?? logs.json;
    assert.equal(rows.length, 1, logs.text);
    const tokens = rows[0].prompt_tokens + rows[0].completion_tokens;
    assert.ok(tokens > 0, logs.text);
    assert.ok(Math.abs(rows[0].spend - tokens) < 1e-6, `spend ${rows[0].spend} for ${tokens} tokens at $1/token: ${logs.text}`);
  });
});
