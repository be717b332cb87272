// The test suite's fake Replicate (tests/fake-replicate.mjs), run standalone for
// the streaming benchmark, with one change made from outside: every output
// token's text is the time it is written to the socket, as " <ns>" where <ns>
// is process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in every process
// of the machine), so a client can compute each token's delivery latency.
//
//   node bench/stream-fake.mjs --port N --stream-port M
//        --scenario '{"firstTokenDelay":1000,"tokenDelay":500,"tokenCount":40}'
//
// How: newPrediction() stores the prediction with predictions.set(id, p) and
// the stream handler reads p.chunks[i] right before res.write(); wrapping
// p.chunks in a Proxy makes that read return the current time.
// Prints "ready" on stdout once both servers listen.

import { makeTestCA, startFake } from '../tests/fake-replicate.mjs';

function args(argv) {
  const o = { port: 0, streamPort: 0, scenario: {}, hold: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--port') o.port = Number(v());
    else if (a === '--stream-port') o.streamPort = Number(v());
    else if (a === '--scenario') o.scenario = JSON.parse(v());
    else if (a === '--stream-hold') o.hold = Number(v());
    else if (a === '--tls-dir') o.tlsDir = v(); // make a CA there (ca.pem), serve TLS
    else if (a === '--http2') o.http2 = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const now = () => ` ${process.hrtime.bigint()}`;

function stamped(chunks) {
  return new Proxy(chunks, {
    get(target, prop, recv) {
      if (typeof prop === 'string' && prop.length && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) {
        const i = Number(prop);
        if (Number.isInteger(i) && i >= 0 && i < target.length) return now();
      }
      return Reflect.get(target, prop, recv);
    },
  });
}

const o = args(process.argv.slice(2));
const ca = o.tlsDir ? makeTestCA(o.tlsDir) : null;
const fake = await startFake({
  tls: ca ? { key: ca.key, cert: ca.cert } : undefined,
  http2: !!o.http2,
  maxConcurrentStreams: 1000,
  host: '127.0.0.1',
  port: o.port,
  streamPort: o.streamPort,
  log: false,
  streamHoldMs: o.hold,
  defaultScenario: o.scenario,
});
const preds = fake.predictions;
const origSet = preds.set.bind(preds);
preds.set = (id, p) => {
  p.chunks = stamped(p.chunks);
  return origSet(id, p);
};
process.stdout.write(`ready ${fake.url} ${fake.streamUrl}\n`);
const stop = async () => { await fake.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
