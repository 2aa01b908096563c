/**
 * How far V8 lets the old generation grow past what survived the last full collection before it
 * collects again. V8's own factor is dynamic, up to 4× when collections are fast next to the
 * program: under a flood, the messages that lived through two scavenges in the queue or the
 * held acks are promoted and die there, and the heap grows to several times the live set before a
 * mark-compact (a heap snapshot at 287 MB of RSS found 26 MB live on the main thread). 1.5×
 * caps that garbage. Set for the whole process: V8 reads the flag at each full collection, in
 * every isolate, so the SQLite worker's heap follows it too.
 *
 * Measured with `npm run bench` alternating V8's factor and this one (BENCHMARKS.md, "Memory, stop
 * 19"): peak RSS at QoS 0 293 / 298 → 226 / 238 MB, at QoS 1 264 / 239 → 184 / 179 MB, CPU per
 * message no higher within the noise of a loaded machine.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

const FLAG = /--heap[-_]growing[-_]percent\b/;

/**
 * The flag to set, or undefined when the user chose their own on the command line or in
 * NODE_OPTIONS (`--heap-growing-percent=0` restores V8's dynamic factor).
 */
export function heapGrowthFlag(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string | undefined {
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions ?? '')) return undefined;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Applies heapGrowthFlag to this process; before the worker threads start, by habit. */
export function applyHeapGrowth(): void {
  const flag = heapGrowthFlag(process.execArgv, process.env.NODE_OPTIONS);
  if (flag !== undefined) setFlagsFromString(flag);
}
