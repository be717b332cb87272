// Offline checks of the deployment files in deploy/ and the Dockerfile:
// Kubernetes manifests against the Kubernetes OpenAPI schemas (kubernetes-models'
// validators, generated from the upstream OpenAPI spec; unknown fields too, see
// strictErrors), the compose file through
// `docker-compose config`, nginx.conf through `nginx -t`, the systemd unit through
// `systemd-analyze verify` and `security --offline`, and the facts that must agree
// between them (uid, port, probes, stop timeouts).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { closedPort, request, sleep, sseRequest, startFake, startProxy } from '../integration/helpers.mjs';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const deploy = (...p) => join(root, 'deploy', ...p);
const PROXY_BIN = process.env.PROXY_BIN ?? join(root, 'build/replicate-proxy');
const MODELS = { 'v1/ConfigMap': ConfigMap, 'v1/Secret': Secret, 'v1/Service': Service, 'apps/v1/Deployment': Deployment, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget };

// Unknown or misspelled fields: the schema validators ignore them (as kubectl
// does without --validate=strict), and a misspelled field is a setting silently
// not applied. kubernetes-models' type declarations list every field of every
// type: walk the object along them and name each field that is not there.
const typesOf = (spec) => join(dirname(fileURLToPath(import.meta.url)), 'node_modules', `${spec}.d.ts`);
const MODEL_TYPES = { 'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap', 'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Service': 'kubernetes-models/v1/Service', 'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget' };
const declared = new Map(); // .d.ts file -> {fields: Map(name -> type), imports: Map(type name -> file)}
function declarations(file) {
  if (declared.has(file)) return declared.get(file);
  const text = readFileSync(file, 'utf8');
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const spec = m[2].replace(/\.js$/, '');
    imports.set(m[1], spec.startsWith('.') ? resolve(dirname(file), `${spec}.d.ts`) : typesOf(spec));
  }
  // The first interface is the type itself; an alias (Quantity, IntOrString) has none.
  const body = /^export interface \w+(?: extends \w+)? \{\n([\s\S]*?)^\}/m.exec(text)?.[1];
  const fields = body ? new Map([...body.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)].map((m) => [m[1], m[2]])) : null;
  const d = { fields, imports };
  declared.set(file, d);
  return d;
}
function unknownFields(value, file, path, out = []) {
  const { fields, imports } = declarations(file);
  if (!fields || !value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const type = fields.get(k);
    if (type === undefined) { out.push(`${path}.${k}`); continue; }
    const inner = /^Array<(\w+)>$/.exec(type)?.[1] ?? type;
    const next = imports.get(inner);
    if (!next) continue; // a scalar, an enum or a map
    if (Array.isArray(v)) v.forEach((x, i) => unknownFields(x, next, `${path}.${k}[${i}]`, out));
    else unknownFields(v, next, `${path}.${k}`, out);
  }
  return out;
}
const strictErrors = (obj) => unknownFields(obj, typesOf(MODEL_TYPES[`${obj.apiVersion}/${obj.kind}`]), obj.kind);

const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const seconds = (d) => { const m = /^(\d+)(ms|s|m)?$/.exec(String(d).trim()); assert.ok(m, `duration ${d}`); return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 }[m[2] ?? 's']); };
// `key = value` lines of a proxy config.
const confValues = (text) => Object.fromEntries(text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => l.split(/\s*=\s*/, 2)));
// Cancels of cut predictions may take this long after the grace (server/main.c).
const CANCEL_S = 3;

function k8sObjects() {
  const objs = [];
  for (const f of readdirSync(deploy('k8s')).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(readFileSync(deploy('k8s', f), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${f}: YAML errors`);
      const obj = doc.toJS();
      if (obj) objs.push({ file: f, obj });
    }
  }
  return objs;
}
const byKind = (kind) => k8sObjects().find((o) => o.obj.kind === kind)?.obj;

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('every object validates against its Kubernetes schema', () => {
    const objs = k8sObjects();
    assert.deepEqual(objs.map((o) => o.obj.kind).sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const { file, obj } of objs) {
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(Model, `${file}: no schema for ${obj.apiVersion} ${obj.kind}`);
      assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${obj.kind}`);
      assert.deepEqual(strictErrors(obj), [], `${file}: unknown fields`);
    }
  });

  it('a broken manifest is rejected (the validator is not a no-op)', () => {
    const d = structuredClone(byKind('Deployment'));
    d.spec.template.spec.containers[0].ports[0].containerPort = '8080x';
    assert.throws(() => new Deployment(d).validate(), /containerPort must be integer/);
    delete d.spec.selector;
    assert.throws(() => new Deployment(d).validate(), /selector/);
    // Misspelled or unknown fields, which the schemas let through, are named.
    const e = structuredClone(byKind('Deployment'));
    e.spec.template.spec.terminationGracePeriodSecond = 45;
    e.spec.template.spec.containers[0].readinessProbe.httpGet.paht = '/ready';
    e.spec.template.spec.containers[0].env = [{ name: 'A', value: 'b', secret: true }];
    assert.doesNotThrow(() => new Deployment(e).validate());
    assert.deepEqual(strictErrors(e).sort(), ['Deployment.spec.template.spec.containers[0].env[0].secret',
      'Deployment.spec.template.spec.containers[0].readinessProbe.httpGet.paht',
      'Deployment.spec.template.spec.terminationGracePeriodSecond']);
  });

  it('the Deployment matches the image: uid 10001, read-only root, no capabilities, probes, preStop, resources', () => {
    const d = byKind('Deployment');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    const uid = Number(/^USER (\d+)/m.exec(dockerfile)[1]);
    assert.equal(uid, 10001);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, uid);
    assert.equal(pod.securityContext.fsGroup, uid, 'the data volume is writable by the proxy');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(c.ports[0].containerPort, 8080);
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.ok(c.resources.requests.cpu && c.resources.limits.cpu && c.resources.limits.memory);
    assert.deepEqual(c.lifecycle.preStop.exec.command.slice(0, 1), ['sleep']);
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/var/lib/replicate-proxy'), 'the database volume');
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/etc/replicate-proxy'), 'the ConfigMap as the config file');
    assert.equal(c.envFrom[0].secretRef.name, byKind('Secret').metadata.name);
    assert.equal(pod.volumes.find((v) => v.configMap).configMap.name, byKind('ConfigMap').metadata.name);
  });

  it('terminationGracePeriodSeconds covers preStop + drain_delay + shutdown_grace + cancels', () => {
    const d = byKind('Deployment');
    const pod = d.spec.template.spec;
    const preStop = Number(pod.containers[0].lifecycle.preStop.exec.command[1]);
    const conf = confValues(byKind('ConfigMap').data['proxy.conf']);
    const need = preStop + seconds(conf.drain_delay) + seconds(conf.shutdown_grace) + CANCEL_S;
    assert.ok(pod.terminationGracePeriodSeconds > need, `grace ${pod.terminationGracePeriodSeconds} s > ${need} s`);
    assert.ok(seconds(conf.drain_delay) > 0, 'a drain phase');
  });

  it('the ConfigMap holds a config the proxy accepts (listen on all addresses, workers = 0)', () => {
    const text = byKind('ConfigMap').data['proxy.conf'];
    const conf = confValues(text);
    assert.equal(conf.listen, '[::]:8080');
    assert.equal(conf.workers, '0');
    const dir = mkdtempSync(join(tmpdir(), 'rp-k8s-'));
    try {
      writeFileSync(join(dir, 'proxy.conf'), text);
      // --healthcheck parses the whole config first: a config error is exit 2,
      // a valid one reaches the probe (exit 1: nothing listens on port 0).
      const r = spawnSync(PROXY_BIN, ['--config', join(dir, 'proxy.conf'), '--listen', '127.0.0.1:0', '--healthcheck'], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /port 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Service and PodDisruptionBudget select the Deployment\'s pods', () => {
    const labels = byKind('Deployment').spec.template.metadata.labels;
    for (const sel of [byKind('Service').spec.selector, byKind('PodDisruptionBudget').spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v);
    }
    assert.equal(byKind('Service').spec.ports[0].targetPort, 'http');
  });
});

describe('Kubernetes manifests for several replicas (deploy/k8s-replicas, a kustomize overlay)', () => {
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  const skip = !kubectl && 'kubectl not installed (it renders the overlay offline: kubectl kustomize)';
  // What `kubectl apply -k deploy/k8s-replicas` would send, rendered offline.
  const rendered = () => parseAllDocuments(execFileSync('kubectl', ['kustomize', deploy('k8s-replicas')], { encoding: 'utf8' }))
    .map((d) => d.toJS()).filter(Boolean);
  const one = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));

  it('the base kustomization lists every manifest of deploy/k8s', () => {
    const k = parseYaml(readFileSync(deploy('k8s', 'kustomization.yaml'), 'utf8'));
    assert.deepEqual([...k.resources].sort(), k8sObjects().map((o) => o.file).sort());
  });

  it('every rendered object validates against its Kubernetes schema', { skip }, () => {
    const objs = rendered();
    assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['ConfigMap/replicate-proxy', 'Deployment/replicate-proxy',
      'PodDisruptionBudget/replicate-proxy', 'Secret/replicate-proxy', 'Service/replicate-proxy', 'Service/replicate-proxy-postgres',
      'Service/replicate-proxy-redis']);
    for (const obj of objs) {
      assert.doesNotThrow(() => new MODELS[`${obj.apiVersion}/${obj.kind}`](obj).validate(), `${obj.kind} ${obj.metadata.name}`);
      assert.deepEqual(strictErrors(obj), [], `${obj.kind} ${obj.metadata.name}: unknown fields`);
    }
  });

  it('several replicas, spread, no per-pod database; the base\'s probes, security and shutdown kept', { skip }, () => {
    const objs = rendered();
    const d = one(objs, 'Deployment');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.ok(d.spec.replicas >= 2, `replicas ${d.spec.replicas}`);
    assert.equal(pod.topologySpreadConstraints[0].topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(c.volumeMounts.map((m) => m.mountPath), ['/etc/replicate-proxy'], 'no SQLite volume: the state is shared');
    assert.deepEqual(pod.volumes.map((v) => v.name), ['config']);
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const base = byKind('Deployment').spec.template.spec;
    assert.equal(pod.terminationGracePeriodSeconds, base.terminationGracePeriodSeconds);
    const conf = confValues(one(objs, 'ConfigMap').data['proxy.conf']);
    const preStop = Number(c.lifecycle.preStop.exec.command[1]);
    assert.ok(pod.terminationGracePeriodSeconds > preStop + seconds(conf.drain_delay) + seconds(conf.shutdown_grace) + CANCEL_S);
    // The PDB lets a drain take one pod at a time and selects these pods.
    const pdb = one(objs, 'PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.equal(pdb.spec.minAvailable, undefined, 'one of minAvailable / maxUnavailable');
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(d.spec.template.metadata.labels[k], v);
  });

  it('database_url and redis_url come from the Secret and name the engines\' ExternalName Services; the proxy accepts the config', { skip }, () => {
    const objs = rendered();
    const c = one(objs, 'Deployment').spec.template.spec.containers[0];
    const secret = one(objs, 'Secret');
    assert.equal(c.envFrom[0].secretRef.name, secret.metadata.name);
    const env = secret.stringData;
    const db = new URL(env.REPLICATE_PROXY_DATABASE_URL);
    const redis = new URL(env.REPLICATE_PROXY_REDIS_URL);
    assert.equal(db.protocol, 'postgresql:');
    assert.equal(redis.protocol, 'redis:');
    for (const u of [db, redis]) {
      const svc = one(objs, 'Service', u.hostname);
      assert.ok(svc, `a Service named ${u.hostname}`);
      assert.equal(svc.spec.type, 'ExternalName');
      assert.ok(svc.spec.externalName);
    }
    const text = one(objs, 'ConfigMap').data['proxy.conf'];
    const conf = confValues(text);
    for (const k of ['database', 'database_url', 'redis_url']) assert.equal(conf[k], undefined, `${k} not in the ConfigMap`);
    assert.ok(!/postgresql:|redis:/.test(text), 'no URL (password) in the ConfigMap');
    assert.equal(conf.redis_failure, 'open');
    const dir = mkdtempSync(join(tmpdir(), 'rp-k8s-'));
    try {
      writeFileSync(join(dir, 'proxy.conf'), text);
      // As in the pod: the config file plus the Secret's variables (parse only: nothing listens on port 0).
      const r = spawnSync(PROXY_BIN, ['--config', join(dir, 'proxy.conf'), '--listen', '127.0.0.1:0', '--healthcheck'],
        { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /port 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose (deploy/compose.yaml) and nginx (deploy/nginx.conf)', () => {
  const haveCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

  it('docker-compose config accepts it; proxy read-only, no capabilities, database on a volume, behind nginx', { skip: !haveCompose && 'docker-compose not installed (make image-test-deps)' }, () => {
    const out = execFileSync('docker-compose', ['-f', deploy('compose.yaml'), 'config'], { encoding: 'utf8', env: { ...process.env, REPLICATE_API_TOKEN: '', REPLICATE_PROXY_MASTER_KEY: '' } });
    const c = parseYaml(out);
    const p = c.services.proxy;
    assert.equal(p.read_only, true);
    assert.deepEqual(p.cap_drop, ['ALL']);
    assert.ok(p.volumes.some((v) => (v.target ?? String(v).split(':')[1]) === '/var/lib/replicate-proxy'));
    assert.ok(seconds(p.stop_grace_period) >= 1 + 5 + CANCEL_S, 'stop_grace_period covers drain + grace + cancels');
    assert.ok(p.healthcheck.test.includes('--healthcheck'));
    assert.ok(!JSON.stringify(p.environment ?? {}).includes('REPLICATE_PROXY_LISTEN'), 'listen comes from the config file');
    assert.equal(c.services.nginx.depends_on.proxy.condition, 'service_healthy');
    assert.ok(c.volumes.data !== undefined);
  });

  it('nginx.conf: streaming-safe (no buffering, HTTP/1.1 keep-alive upstream, long reads)', () => {
    const conf = readFileSync(deploy('nginx.conf'), 'utf8');
    assert.match(conf, /^\s*proxy_buffering off;/m);
    assert.match(conf, /^\s*proxy_http_version 1\.1;/m);
    assert.match(conf, /^\s*proxy_set_header Connection "";/m);
    assert.match(conf, /^\s*keepalive \d+;/m);
    assert.match(conf, /^\s*server proxy:8080;/m);
    assert.ok(seconds(/proxy_read_timeout (\S+);/.exec(conf)[1]) >= 600, 'reads outlast request_timeout (10m)');
  });

  const nginx = ['/usr/sbin/nginx', 'nginx'].find((n) => spawnSync(n, ['-v']).status === 0);
  // deploy/nginx.conf in a private prefix, its upstream pointed at proxyPort and
  // its `listen 80` at listenPort (the compose names do not resolve here).
  function nginxPrefix(proxyPort, listenPort) {
    const dir = mkdtempSync(join(tmpdir(), 'rp-nginx-'));
    const server = readFileSync(deploy('nginx.conf'), 'utf8')
      .replace('server proxy:8080;', `server 127.0.0.1:${proxyPort};`)
      .replace('listen 80;', `listen 127.0.0.1:${listenPort};`)
      .replace('listen [::]:80;', '');
    writeFileSync(join(dir, 'default.conf'), server);
    writeFileSync(join(dir, 'nginx.conf'), `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  include ${dir}/default.conf;\n}\n`);
    return dir;
  }

  it('nginx -t accepts it', { skip: !nginx && 'nginx not installed (make image-test-deps)' }, () => {
    const dir = nginxPrefix(8080, 8081);
    try {
      const r = spawnSync(nginx, ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('through nginx a stream arrives token by token, not buffered', { skip: !nginx && 'nginx not installed' }, async () => {
    const fake = await startFake();
    const p = await startProxy({ fake });
    const port = await closedPort();
    const dir = nginxPrefix(p.port, port);
    const proc = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    try {
      for (let t0 = Date.now(); ; await sleep(50)) {
        const ok = await request(`http://127.0.0.1:${port}`, 'GET', '/health').then((r) => r.status === 200, () => false);
        if (ok) break;
        assert.ok(Date.now() - t0 < 10000, 'nginx did not start');
      }
      // 8 tokens 250 ms apart: buffered, they would all come at the end together.
      // (The proxy also sends X-Accel-Buffering: no, so this checks the whole chain;
      // `proxy_buffering off` itself is checked above, for nginx builds and
      // configs that ignore that header.)
      const output = Array.from({ length: 8 }, (_, i) => `t${i} `);
      fake.script({ output, tokenDelay: 250 });
      const r = await sseRequest(`http://127.0.0.1:${port}`, '/v1/chat/completions', { model: 'deepseek-v3.1', messages: [{ role: 'user', content: 'x' }], stream: true });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.bad, []);
      assert.equal(r.done, true);
      const content = r.chunks.filter((c) => c.choices[0]?.delta?.content);
      assert.equal(content.map((c) => c.choices[0].delta.content).join(''), output.join(''));
      assert.ok(content.at(-1)._at - content[0]._at >= 1000, `tokens spread over ${content.at(-1)._at - content[0]._at} ms (7 gaps of 250 ms), not delivered at once`);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('close', r));
      rmSync(dir, { recursive: true, force: true });
      await p.stop();
      await fake.close();
    }
  });
});

describe('systemd unit (deploy/replicate-proxy.service)', () => {
  const unit = readFileSync(deploy('replicate-proxy.service'), 'utf8');
  const have = spawnSync('systemd-analyze', ['--version']).status === 0;

  it('systemd-analyze verify reports nothing', { skip: !have && 'systemd-analyze not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-unit-'));
    try {
      // verify checks that ExecStart exists: point it at the build.
      const file = join(dir, 'replicate-proxy.service');
      writeFileSync(file, unit.replaceAll('/usr/local/bin/replicate-proxy', PROXY_BIN));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys and bad values are only warnings)');
      const s = spawnSync('systemd-analyze', ['security', '--offline=true', file], { encoding: 'utf8' });
      const m = /Overall exposure level for \S+: ([\d.]+)/.exec(s.stdout + s.stderr);
      assert.ok(m, s.stdout + s.stderr);
      assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} (systemd-analyze security)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sandboxed, reloads with SIGHUP, stop timeout above the shutdown defaults', () => {
    for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'StateDirectory=replicate-proxy', 'NoNewPrivileges=yes', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    const stop = seconds(/^TimeoutStopSec=(\S+)$/m.exec(unit)[1]);
    const conf = confValues(readFileSync(join(root, 'proxy.conf'), 'utf8'));
    assert.ok(stop > seconds(conf.drain_delay ?? '0s') + seconds(conf.shutdown_grace) + CANCEL_S);
  });
});

describe('Dockerfile', () => {
  it('config from a file, not ENV; HEALTHCHECK without curl; non-root; version and labels', () => {
    assert.doesNotMatch(dockerfile, /^ENV .*REPLICATE_PROXY_/m, 'ENV would beat a mounted config file');
    assert.doesNotMatch(dockerfile, /curl -/);
    assert.match(dockerfile, /^HEALTHCHECK .*\n?.*--healthcheck/m);
    assert.match(dockerfile, /^COPY deploy\/container\.conf \/etc\/replicate-proxy\/proxy\.conf$/m);
    assert.match(dockerfile, /^USER 10001:10001$/m);
    assert.match(dockerfile, /^ARG VERSION/m);
    assert.match(dockerfile, /org\.opencontainers\.image\.version="\$VERSION"/);
    assert.match(dockerfile, /^RUN make deps/m, 'build deps from the Makefile');
  });

  it('the container config fits the default 10 s stop timeout', () => {
    const conf = confValues(readFileSync(deploy('container.conf'), 'utf8'));
    assert.equal(conf.listen, '[::]:8080');
    assert.equal(conf.workers, '0');
    assert.equal(conf.database, '/var/lib/replicate-proxy/replicate-proxy.db');
    assert.ok(seconds(conf.drain_delay) + seconds(conf.shutdown_grace) + CANCEL_S < 10);
  });
});
