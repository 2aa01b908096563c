/**
 * CPU priority of the calling thread. On Linux nice is per thread and /proc/thread-self names the
 * thread, so a query worker can step back without touching the ingesting threads (main, SQLite
 * writer): on a gateway with one or two cores they get the CPU first and queries take what is
 * left, so a dashboard slows down under load instead of ingestion (issue #13's ≥ 0.9×).
 */
import { readlinkSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Raises this thread's nice value to `nice` (never lowers it: that needs privileges). Best
 * effort, false where threads cannot be told apart (no /proc): the thread then runs at the
 * process's priority, as before, which is correct and only less kind to ingestion.
 */
export function lowerThreadPriority(nice: number): boolean {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return false;
  }
  if (!Number.isInteger(tid) || tid <= 0) return false;
  if (getPriority(tid) >= nice) return true;
  setPriority(tid, nice);
  return true;
}

/**
 * Names the calling thread (Linux: /proc/thread-self/comm, at most 15 bytes), so that `top -H`,
 * `ps -L` and the benches' per-thread CPU (bench/lib/proc-stats.ts) tell query workers from the
 * other threads; Node 20 leaves worker threads named `node` like the main thread. Best effort:
 * false where it cannot.
 */
export function nameThread(name: string): boolean {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
    return true;
  } catch {
    return false;
  }
}
