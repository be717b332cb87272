// The default database (beside the config file) is best effort without keys:
// a config mounted read-only into a container must still serve.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFake, startProxy, runProxy, tempDir, configText, clientFor, user, CLIENT_KEY, REPLICATE_TOKEN, MODEL } from './helpers.mjs';

describe('database default', () => {
  let fake;
  after(async () => { await fake?.close(); });

  it('a default database file that cannot be made: served, the ledger kept in memory, a warning says so', async () => {
    fake = await startFake();
    const dir = tempDir();
    mkdirSync(join(dir, 'replicate-proxy.db')); // the default path, unusable
    const file = join(dir, 'proxy.conf');
    writeFileSync(file, configText({ listen: '127.0.0.1:0', upstream: fake.url, replicate_api_token: REPLICATE_TOKEN,
                                     model: MODEL, workers: 1, poll_interval: '20ms', shutdown_grace: '2s' }));
    const p = await startProxy({ fake, noConfig: true, args: ['--config', file] });
    try {
      assert.match(p.stderr, /keeping the spend ledger in memory only/);
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hi'));
      assert.equal(typeof c.usage.cost, 'number');
    } finally {
      await p.stop();
    }
  });

  it('with master_key (keys must persist) the same failure stops the start (exit 1)', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'replicate-proxy.db'));
    const file = join(dir, 'proxy.conf');
    writeFileSync(file, configText({ listen: '127.0.0.1:0', replicate_api_token: 'r8_x', master_key: 'sk-master-key-for-tests-0123456789' }));
    const r = await runProxy(['--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open the database/);
    assert.doesNotMatch(r.stderr, /sk-master-key-for-tests/);
  });
});
