// The team gateway's test bed: gateway mode with a database outside the proxy's
// directory (so restarts keep it), admin calls with the master key, new keys.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setup, tempDir } from './helpers.mjs';

export const MASTER = 'sk-master-Key-For-Tests-0123456789abcdefXYZ';

// A bed in gateway mode whose database outlives the proxy's own directory.
export async function gatewayBed({ config = {}, fakeOpts = {} } = {}) {
  const dbDir = tempDir();
  const database = join(dbDir, 'gateway.db');
  const bed = await setup({ fakeOpts, config: { master_key: MASTER, database, ...config }, apiKey: MASTER });
  bed.proxy.addSecret(MASTER);
  bed.database = database;
  bed.dbDir = dbDir;
  bed.admin = (method, path, body, opts = {}) => bed.request(method, path, { key: MASTER, body, ...opts });
  // A new key through the API; registered as a secret (never in stderr).
  bed.newKey = async (fields = {}) => {
    const r = await bed.admin('POST', '/key/generate', fields);
    assert.equal(r.status, 200, r.text);
    for (const p of bed.proxies) p.addSecret(r.json.key);
    return r.json;
  };
  const finish = bed.finish;
  bed.finish = async () => { try { await finish(); } finally { rmSync(dbDir, { recursive: true, force: true }); } };
  return bed;
}

