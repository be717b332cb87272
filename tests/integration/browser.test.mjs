// A real headless Chromium, a page served from another loopback port, and two
// proxies: one with the default config (no origin allowed), one whose cors_origins
// lists the page. The page (a) fetch()es a text/plain POST (a "simple" request: no
// preflight, the body reaches the server), (b) submits a text/plain form POST into an
// iframe, both to the first proxy, and (c) fetch()es JSON with Authorization from the
// second and reads the answer. Results are posted back to the page's own server.
// (a) and (b) must create no prediction; (c) must get its answer.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { itExitsCleanly, setup, tempDir } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const haveChromium = spawnSync(CHROMIUM, ['--version'], { stdio: 'ignore' }).status === 0;
const RESULT_TIMEOUT_MS = Number(process.env.BROWSER_TIMEOUT_MS ?? 90000);

// The page: every step catches its own failure, then all results go back home.
function page(attackUrl, allowedUrl) {
  const chat = (content) => JSON.stringify({ model: 'deepseek-v3.1', messages: [{ role: 'user', content }] });
  // text/plain form encoding is name=value\r\n: split the JSON at an '=' we put in.
  const formJson = chat('attack-form').slice(0, -1) + ',"pad":"=';
  const formName = formJson.slice(0, formJson.lastIndexOf('='));
  return `<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="${attackUrl}/v1/chat/completions">
<input type="hidden" name='${formName}' value='"}'></form>
<pre id="out">running</pre>
<script>
const results = {};
async function step(name, fn) {
  try { results[name] = await fn(); } catch (e) { results[name] = { error: String(e) }; }
}
(async () => {
  await step('a', async () => {
    const r = await fetch(${JSON.stringify(attackUrl)} + '/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(chat('attack-fetch'))} });
    return { status: r.status, text: await r.text() };
  });
  await step('a2', async () => {
    const r = await fetch(${JSON.stringify(attackUrl)} + '/v1/completions', {
      method: 'POST', mode: 'no-cors', body: ${JSON.stringify(JSON.stringify({ model: 'deepseek-v3.1', prompt: 'attack-no-cors' }))} });
    return { type: r.type };
  });
  await step('b', () => new Promise((resolve) => {
    const sink = document.getElementById('sink');
    sink.onload = () => resolve({ submitted: true });
    document.getElementById('f').submit();
    setTimeout(() => resolve({ submitted: 'timeout' }), 20000);
  }));
  await step('c', async () => {
    const r = await fetch(${JSON.stringify(allowedUrl)} + '/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-page-key' },
      body: ${JSON.stringify(chat('allowed'))} });
    const j = await r.json();
    return { status: r.status, content: j.choices ? j.choices[0].message.content : null, error: j.error || null };
  });
  document.getElementById('out').textContent = JSON.stringify(results);
  await fetch('/result', { method: 'POST', body: JSON.stringify(results) });
})();
</script></body></html>`;
}

// The page's server; resolves results once the page posts them.
async function pageServer(html) {
  let deliver;
  const results = new Promise((r) => (deliver = r));
  const srv = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => { res.end('ok'); deliver(JSON.parse(body)); });
      return;
    }
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html());
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { srv, origin: `http://127.0.0.1:${srv.address().port}`, results };
}

describe('browser: a real headless Chromium', { skip: haveChromium ? false : `${CHROMIUM} not found: install the Debian package chromium (make test-deps does)` }, () => {
  let bed;
  let allowed;
  let pg;
  let browser;
  let profile;
  let html = () => '';
  before(async () => {
    pg = await pageServer(() => html());
    bed = await setup();
    allowed = await bed.addProxy({ config: { cors_origins: pg.origin } });
    html = () => page(bed.url, allowed.url);
  });
  after(async () => {
    if (browser && browser.exitCode === null) {
      try { process.kill(-browser.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => { const t = setTimeout(() => { try { process.kill(-browser.pid, 'SIGKILL'); } catch { /* gone */ } r(); }, 5000); browser.on('exit', () => { clearTimeout(t); r(); }); });
    }
    if (profile) rmSync(profile, { recursive: true, force: true });
    pg?.srv.close();
    await bed?.finish();
  });

  it('a page cannot spend the token (fetch, no-cors fetch, form); a listed origin can call and read', async () => {
    bed.fake.script({ output: ['answer for the page'], match: 'allowed' });
    profile = tempDir();
    let log = '';
    browser = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', `${pg.origin}/`],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    browser.stderr.on('data', (d) => (log += d));
    let timer;
    const results = await Promise.race([
      pg.results,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no results from the page within ${RESULT_TIMEOUT_MS} ms; chromium:\n${log.slice(-3000)}`)), RESULT_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));
    // (a), (a2), (b) reached the first proxy and were refused: the page cannot read
    // (a) (no CORS headers) and nothing was created.
    assert.ok(results.a.error, `the page cannot read the refused reply: ${JSON.stringify(results.a)}`);
    assert.equal(results.b.submitted, true, JSON.stringify(results.b));
    const prompts = bed.fake.creates().map((c) => JSON.stringify(c.body.input));
    assert.deepEqual(prompts.filter((t) => t.includes('attack')), [], 'no prediction created for a page');
    await bed.fake.waitFor(() => bed.proxy.stderr.match(/ 403 /g)?.length >= 3, 5000, 'three 403s in the access log');
    assert.equal((bed.proxy.stderr.match(/POST \/v1\/chat\/completions 403/g) ?? []).length, 2, bed.proxy.stderr.slice(-3000));
    assert.equal((bed.proxy.stderr.match(/POST \/v1\/completions 403/g) ?? []).length, 1, bed.proxy.stderr.slice(-3000));
    assert.equal(prompts.length, 1, `creates: ${prompts.join('\n')}`);
    assert.match(prompts[0], /allowed/);
    // (c) the listed origin reads the answer.
    assert.deepEqual({ status: results.c.status, content: results.c.content }, { status: 200, content: 'answer for the page' }, JSON.stringify(results));
  });

  itExitsCleanly(() => bed, it);
});
