/**
 * Resource use of another process from /proc (Linux only), so the numbers are the target's own:
 * CPU = utime + stime of all its threads (the SQLite worker thread counts), peak RSS = VmHWM.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(
        execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim(),
      );
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** utime + stime in seconds from a /proc stat line. proc(5): fields 14 and 15. */
function statCpuSeconds(stat: string): number {
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) is fields[12].
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * CPU seconds per thread: `main`, each unnamed thread by tid (Node 20's worker threads: the SQLite
 * writer is the busy one), and named ones summed by name (V8's GC and compiler helpers
 * `V8 DefaultWorke`, libuv's pool `libuv-worker`). Tells where a process's CPU goes without a
 * profiler, whose wall-clock samples a loaded machine inflates.
 */
export function cpuSecondsByThread(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      // Node 20 leaves worker threads unnamed (`node`, like the main thread): tell them by tid.
      const name = tid === String(pid) ? 'main' : comm === 'node' ? `thread-${tid}` : comm;
      const cpu = statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      out[name] = (out[name] ?? 0) + cpu;
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return out;
}

/** b - a per key (threads that ended in between count what b still shows). */
export function diffThreads(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) out[k] = Math.round((v - (a[k] ?? 0)) * 100) / 100;
  return out;
}

/** Peak resident set size in bytes (VmHWM) over the process lifetime. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Resident set size in bytes now (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Seconds the process's threads have spent runnable but waiting for a CPU (field 2 of
 * /proc/<pid>/task/<tid>/schedstat, ns; needs schedstats, on in mainstream kernels). Threads that
 * already exited are not counted. More waiting than running means the process is short of CPU.
 */
export function runQueueWaitSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return ns / 1e9;
}
