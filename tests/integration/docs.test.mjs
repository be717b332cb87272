// The shipped proxy.conf and README's option table against the option table
// itself (--help prints it): every option documented once with its real
// default, and the shipped file (also with every commented default turned on)
// loads and serves.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CLIENT_KEY, clientFor, runProxy, startFake, startProxy, tempDir, user } from './helpers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROXY_CONF = join(ROOT, 'proxy.conf');
// Accepted so old files load, but does nothing: not an active line in proxy.conf.
const DEPRECATED = new Set(['connection_memory']);

async function helpOptions() {
  const r = await runProxy(['--help']);
  assert.equal(r.code, 0);
  const opts = new Map();
  for (const m of r.stdout.matchAll(/^ {2}--([a-z0-9_]+)\s.*\[([^\]]*)\]$/gm)) opts.set(m[1], m[2] === 'none' ? '' : m[2]);
  assert.ok(opts.size >= 30, `parsed ${opts.size} options from --help:\n${r.stdout}`);
  return opts;
}

describe('documentation matches the option table', () => {
  let fake;
  let opts;
  before(async () => { fake = await startFake(); opts = await helpOptions(); });
  after(async () => { await fake.close(); });

  it('proxy.conf names every option once, with the default --help prints', () => {
    const text = readFileSync(PROXY_CONF, 'utf8');
    for (const [key, def] of opts) {
      const lines = [...text.matchAll(new RegExp(`^(# )?${key} =(.*)$`, 'gm'))];
      if (DEPRECATED.has(key)) {
        assert.equal(lines.length, 0, `${key} is deprecated: no line of its own`);
        assert.match(text, new RegExp(`${key} is ignored`));
        continue;
      }
      assert.equal(lines.length, 1, `proxy.conf has one line for ${key}`);
      const [, commented, value] = lines[0];
      // Example values are allowed on commented lines of options empty by default.
      if (!(commented && def === '')) assert.equal(value.trim(), def, `proxy.conf default of ${key}`);
    }
    for (const m of text.matchAll(/^(?:# )?([a-z0-9_]+) =/gm)) assert.ok(opts.has(m[1]), `proxy.conf names an unknown option ${m[1]}`);
  });

  it('README has one table row per option, with the default --help prints', () => {
    const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = new Map();
    for (const m of text.matchAll(/^\| `([a-z0-9_]+)` \| ([^|]*) \|/gm)) {
      if (!opts.has(m[1])) continue; // other tables name other things
      assert.ok(!rows.has(m[1]), `README has two rows for ${m[1]}`);
      rows.set(m[1], m[2].trim());
    }
    for (const [key, def] of opts) {
      assert.ok(rows.has(key), `README documents ${key}`);
      const doc = rows.get(key) === 'empty' ? '' : rows.get(key).replace(/^`|`$/g, '');
      assert.equal(doc, def, `README default of ${key}`);
    }
  });

  it('the shipped proxy.conf loads and serves (pass-through)', async () => {
    // database: the default would put the ledger beside proxy.conf, in the checkout.
    const db = join(tempDir(), 'ledger.db');
    const p = await startProxy({ fake, noConfig: true, args: ['--config', PROXY_CONF, '--listen', '127.0.0.1:0', '--upstream', fake.url, '--database', db] });
    try {
      fake.reset();
      fake.script({ output: ['shipped'] });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assert.equal(c.choices[0].message.content, 'shipped');
      assert.equal(fake.creates().length, 1);
    } finally {
      await p.stop();
    }
  });

  it('proxy.conf with every commented default turned on loads too (and an old connection_memory line)', async () => {
    const text = readFileSync(PROXY_CONF, 'utf8')
      .replace(/^# ([a-z0-9_]+ =.*)$/gm, '$1')
      .replace(/^master_key =.*$/m, '') // gateway mode needs a server token
      + 'connection_memory = 16KiB\n';
    const file = join(tempDir(), 'proxy.conf');
    writeFileSync(file, text);
    const p = await startProxy({ fake, noConfig: true, args: ['--config', file, '--listen', '127.0.0.1:0', '--upstream', fake.url] });
    try {
      fake.reset();
      fake.script({ output: ['all'] });
      const c = await clientFor(p.url, CLIENT_KEY).chat.completions.create(user('hello'));
      assert.equal(c.choices[0].message.content, 'all');
    } finally {
      await p.stop();
    }
  });
});
