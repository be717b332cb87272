// /proc readers shared by the benchmark scripts (Linux only).
import fs from 'node:fs';

const HZ = 100; // USER_HZ: /proc/*/stat counts in 1/100 s

// CPU seconds (user + system) of a process, all its threads; null if gone.
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / HZ; // fields 14, 15
  } catch { return null; }
}

// CPU seconds of a process's reaped children (cutime + cstime), e.g. wrk after it exited.
export function childrenCpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / HZ; // fields 16, 17
  } catch { return null; }
}

// Machine-wide busy and total CPU seconds (all cores) since boot.
export function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: (user + nice + system + irq + softirq + steal) / HZ, total: (user + nice + system + idle + iowait + irq + softirq + steal) / HZ };
}

// Seconds the process's threads spent runnable but waiting for a CPU (summed
// over threads; /proc/PID/task/TID/schedstat field 2). High = CPU starvation.
export function runqueueWaitSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]); } catch { /* exited */ }
    }
    return ns / 1e9;
  } catch { return null; }
}

export function status(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s); return m ? Number(m[1]) : null; };
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(s)?.[1]) };
  } catch { return null; }
}

export function fdCount(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return null; }
}

export function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

// Busy cores used by processes other than `pids` (and their threads) over a window:
// call once to start, then .end() → {machineBusyCores, oursCores, otherCores}.
export function loadWindow(pidsFn) {
  const m0 = machineCpu();
  const ours0 = pidsFn().reduce((s, p) => s + (cpuSeconds(p) ?? 0), 0);
  const t0 = process.hrtime.bigint();
  return {
    end(extraOursSeconds = 0) {
      const m1 = machineCpu();
      const ours1 = pidsFn().reduce((s, p) => s + (cpuSeconds(p) ?? 0), 0);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const busy = (m1.busy - m0.busy) / wall;
      const ours = (ours1 - ours0 + extraOursSeconds) / wall;
      return { wallS: wall, machineBusyCores: busy, oursCores: ours, otherCores: Math.max(0, busy - ours) };
    },
  };
}
