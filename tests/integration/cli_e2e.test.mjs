// End to end with the real command-line tools against the fake: `codex exec`
// (Responses API, a custom provider) and `claude -p` (Anthropic Messages), each
// with a text answer and a tool call it runs and answers. The tools are not test
// dependencies (large downloads): set CODEX_BIN / CLAUDE_BIN (or have `codex` /
// `claude` on PATH) to run these, e.g.
//   npm install --prefix /tmp/cli @openai/codex @anthropic-ai/claude-code
//   CODEX_BIN=/tmp/cli/node_modules/.bin/codex CLAUDE_BIN=/tmp/cli/node_modules/.bin/claude \
//     PROXY_BIN=... node --test integration/cli_e2e.test.mjs
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setup, itExitsCleanly } from './helpers.mjs';
import { block, call } from './deepseek.mjs';

function findBin(envName, name) {
  if (process.env[envName]) return process.env[envName];
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
const CODEX = findBin('CODEX_BIN', 'codex');
const CLAUDE = findBin('CLAUDE_BIN', 'claude');
const KEY = 'sk-cli-e2e-Key-0123456789';

function run(cmd, args, { env, cwd }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, out, err }); });
  });
}

describe('codex exec against the proxy (Responses API)', { skip: !CODEX && 'set CODEX_BIN to run' }, () => {
  let bed, home;
  before(async () => {
    bed = await setup();
    home = mkdtempSync(join(tmpdir(), 'rp-codex-'));
    writeFileSync(join(home, 'config.toml'), `model = "deepseek-v3.1"\nmodel_provider = "rp"\n\n[model_providers.rp]\n` +
      `name = "replicate-proxy"\nbase_url = "${bed.url}/v1"\nenv_key = "RP_KEY"\nwire_api = "responses"\n`);
  });
  after(async () => { rmSync(home, { recursive: true, force: true }); await bed?.finish(); });
  beforeEach(() => bed.fake.reset());
  const codex = (prompt, extra = []) => run(CODEX, ['exec', '--skip-git-repo-check', ...extra, prompt],
    { env: { CODEX_HOME: home, RP_KEY: KEY }, cwd: home });

  it('a text answer', async () => {
    bed.fake.script({ output: ['Hello from ', 'the fake model.'] });
    const r = await codex('say hi');
    assert.equal(r.code, 0, r.err.slice(-2000));
    assert.match(r.out, /Hello from the fake model\./);
    assert.ok(bed.fake.creates()[0].body.input.prompt.includes('say hi'));
  });

  it('a tool call it runs (exec_command) and answers with its output', async () => {
    bed.fake.script({ output: [block(call('exec_command', '{"cmd": "echo tool-ran-$((40+2))"}'))] }, { output: ['The command printed tool-ran-42.'] });
    const r = await codex('run the command', ['--dangerously-bypass-approvals-and-sandbox']);
    assert.equal(r.code, 0, r.err.slice(-2000));
    assert.match(r.out, /The command printed tool-ran-42\./);
    const creates = bed.fake.creates();
    assert.equal(creates.length, 2);
    assert.ok(creates[1].body.input.prompt.includes('tool-ran-42'), 'the command\'s output went back to the model');
  });
  itExitsCleanly(() => bed, it);
});

describe('claude -p against the proxy (Anthropic Messages)', { skip: !CLAUDE && 'set CLAUDE_BIN to run' }, () => {
  let bed, home;
  before(async () => { bed = await setup(); home = mkdtempSync(join(tmpdir(), 'rp-claude-')); });
  after(async () => { rmSync(home, { recursive: true, force: true }); await bed?.finish(); });
  beforeEach(() => bed.fake.reset());
  const claude = (prompt, extra = []) => run(CLAUDE, ['-p', prompt, ...extra], { cwd: home, env: {
    HOME: home, ANTHROPIC_BASE_URL: bed.url, ANTHROPIC_AUTH_TOKEN: KEY, ANTHROPIC_API_KEY: '',
    ANTHROPIC_MODEL: 'deepseek-v3.1', ANTHROPIC_SMALL_FAST_MODEL: 'deepseek-v3.1', ANTHROPIC_DEFAULT_HAIKU_MODEL: 'deepseek-v3.1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1' } });

  it('a text answer', async () => {
    bed.fake.script({ output: ['Hello from ', 'the fake model.'], match: 'say hi' });
    const r = await claude('say hi');
    assert.equal(r.code, 0, r.err.slice(-2000));
    assert.match(r.out, /Hello from the fake model\./);
  });

  it('a tool round trip (Bash)', async () => {
    bed.fake.script(
      { output: [block(call('Bash', '{"command": "echo tool-ran-$((40+3))", "description": "print"}'))], match: 'run the command' },
      { output: ['The command printed tool-ran-43.'], match: 'tool-ran-43' });
    const r = await claude('run the command', ['--allowedTools', 'Bash']);
    assert.equal(r.code, 0, r.err.slice(-2000));
    assert.match(r.out, /The command printed tool-ran-43\./);
  });
  itExitsCleanly(() => bed, it);
});
