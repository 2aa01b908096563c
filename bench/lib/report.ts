/** The results: one row per (target, QoS), printed as a table and written as JSON for comparison. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import type { BrokerInfo } from './broker.js';
import type { BenchOptions } from './options.js';
import type { PhaseResult } from './phase.js';
import { round } from './stats.js';
import type { TargetKind } from './targets.js';

export interface TargetResult {
  readonly target: TargetKind;
  readonly qos: 0 | 1;
  readonly max?: PhaseResult;
  readonly half?: PhaseResult;
  /** msgs/s of every throughput round; `max` is the median one. */
  readonly maxRounds: readonly number[];
  readonly verified: boolean;
  /** Relative to the transport baseline of the same QoS, in this run. */
  readonly ratios: { readonly throughput?: number; readonly cpuPer100k?: number };
  readonly errors: readonly string[];
}

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly kernel: string;
}

export const METHOD = {
  throughput:
    'median of --repeat interleaved rounds; messages stored / (first publish → last message visible); writers: polled read-only every 5 ms',
  cpu: 'utime+stime of the target process from /proc/<pid>/stat, first publish → last message',
  rss: 'peak = VmHWM of the target process (over its lifetime); idle = VmRSS when ready, devices connected, before the first publish',
  loop: 'monitorEventLoopDelay(resolution 10 ms) preloaded into each target, p99 minus the resolution',
  latency:
    'at half the transport max rate: payload publish ts → first read-only poll (2 ms) that sees the row; ' +
    'transport: → receipt',
} as const;

export function machine(): Machine {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
  return {
    nproc: availableParallelism(),
    cpuModel: model ?? cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: release(),
  };
}

const fmt = (n: number | undefined, d = 1): string =>
  n === undefined || !Number.isFinite(n) ? '-' : `${round(n, d)}`;

export function formatTable(results: readonly TargetResult[]): string {
  const head = [
    'target',
    'qos',
    'msgs/s',
    'x transport',
    'CPU s/100k',
    'x transport',
    'peak RSS MB',
    'idle RSS MB',
    'loop p99 ms',
    'lat p50 ms',
    'lat p99 ms',
    'verified',
    'gen msgs/s',
  ];
  const rows = results.map((r) => [
    r.target,
    String(r.qos),
    fmt(r.max?.msgsPerSec, 0),
    fmt(r.ratios.throughput, 2),
    fmt(r.max?.cpuPer100k, 2),
    fmt(r.ratios.cpuPer100k, 2),
    fmt(r.max?.peakRssMB, 1),
    fmt(r.max?.idleRssMB, 1),
    fmt(r.max?.loop.p99Ms, 1),
    fmt(r.half?.latency?.p50Ms, 1),
    fmt(r.half?.latency?.p99Ms, 1),
    r.verified
      ? 'yes'
      : r.max
        ? `NO (${r.max.verification.missing} missing, ${r.max.verification.duplicates} dup)`
        : 'NO',
    fmt(r.max?.generator.msgsPerSec, 0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export interface BenchReport {
  readonly schema: 1;
  readonly date: string;
  readonly command: string;
  readonly machine: Machine;
  readonly broker: BrokerInfo;
  readonly options: BenchOptions;
  readonly halfRate: Record<string, number>;
  readonly method: typeof METHOD;
  readonly results: readonly TargetResult[];
}

/** Issue #3's figure: mqlite acking after commit over the same mqlite acking on receipt. */
export function ackCostLines(results: readonly TargetResult[]): string[] {
  const lines: string[] = [];
  for (const qos of [...new Set(results.map((r) => r.qos))]) {
    const after = results.find((r) => r.target === 'mqlite' && r.qos === qos)?.max;
    const receipt = results.find((r) => r.target === 'mqlite-ack-on-receipt' && r.qos === qos)?.max;
    if (!after || !receipt) continue;
    lines.push(
      `QoS ${qos}: ack after commit ${Math.round(after.msgsPerSec)} msg/s vs ack on receipt ` +
        `${Math.round(receipt.msgsPerSec)} msg/s: ratio ${(after.msgsPerSec / receipt.msgsPerSec).toFixed(2)}`,
    );
  }
  return lines;
}

/** Fills in ratios against the transport row of the same QoS. */
export function withRatios(results: TargetResult[]): TargetResult[] {
  return results.map((r) => {
    const base = results.find((b) => b.target === 'transport' && b.qos === r.qos)?.max;
    if (!base || !r.max) return r;
    return {
      ...r,
      ratios: {
        throughput: r.max.msgsPerSec / base.msgsPerSec,
        cpuPer100k: r.max.cpuPer100k / base.cpuPer100k,
      },
    };
  });
}
