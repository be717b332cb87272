// Waits (bounded) until the machine is quiet: CPU busy below a threshold over
// a 2 s window, so that other work does not disturb the benchmark.
//   node bench/wait-quiet.mjs [--max-busy-cores 0.3] [--max-wait 120]
// Prints what it saw; exits 0 either way (a busy machine is reported, not fatal).
import { machineCpu } from './proc.mjs';

let maxBusy = 0.3, maxWait = 120;
const a = process.argv.slice(2);
for (let i = 0; i < a.length; i++) {
  if (a[i] === '--max-busy-cores') maxBusy = Number(a[++i]);
  else if (a[i] === '--max-wait') maxWait = Number(a[++i]);
  else throw new Error(`unknown option ${a[i]}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
let busy;
for (;;) {
  const m0 = machineCpu();
  await sleep(2000);
  const m1 = machineCpu();
  busy = (m1.busy - m0.busy) / 2;
  if (busy <= maxBusy) {
    process.stderr.write(`[quiet] machine busy ${busy.toFixed(2)} cores: starting\n`);
    break;
  }
  if ((Date.now() - t0) / 1000 >= maxWait) {
    process.stderr.write(`[quiet] WARNING: machine still busy (${busy.toFixed(2)} cores used by other processes) after ${maxWait} s; figures will be disturbed\n`);
    break;
  }
  process.stderr.write(`[quiet] machine busy ${busy.toFixed(2)} cores (other processes); waiting\n`);
}
