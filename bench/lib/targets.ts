/**
 * The three targets, each in its own process so /proc shows its own CPU and memory. All run as plain
 * `node --import loop-probe.js <entry>` (see compile.ts for why not tsx) with an IPC channel.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { BaselineArgs } from '../baselines/args.js';
import type { CompiledBench } from './compile.js';
import { type IpcMessage, request, waitForMessage } from './ipc.js';
import {
  CommitLatencyObserver,
  type LatencySample,
  maxRowId,
  openReadOnly,
  type Verification,
  verifyRows,
} from './observer.js';
import { mqliteReady, type MqliteProcess, scrapeMetrics, startMqlite } from './mqlite-target.js';
import { captureTail, stopChild, track } from './process.js';

/**
 * `mqlite-ack-on-receipt` is mqlite with `MQLITE_TEST_ACK_ON_RECEIPT=1`: the same client acking on
 * receipt, so the run shows what ack-after-commit itself costs (issue #3).
 */
export const TARGET_KINDS = ['transport', 'handwritten', 'mqlite', 'mqlite-ack-on-receipt'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface TargetContext {
  readonly kind: TargetKind;
  readonly brokerUrl: string;
  readonly protocolVersion: 4 | 5;
  readonly qos: 0 | 1;
  readonly topic: string;
  readonly dir: string;
  readonly repoDir: string;
  readonly compiled: CompiledBench;
  readonly mqliteFormat: 'json' | 'raw';
}

export interface LoopStats extends IpcMessage {
  readonly resolutionMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface Progress {
  readonly count: number;
  /** When the target saw its last message, if it knows; else the caller uses the poll time. */
  readonly lastAt?: number;
}

export interface Target {
  readonly kind: TargetKind;
  readonly pid: number;
  /** mqlite only: its HTTP listener (metrics, query API). */
  readonly httpPort?: number;
  readonly output: () => string;
  readonly beforeGo: () => Promise<void>;
  readonly progress: () => Promise<Progress>;
  readonly verify: (devices: number, perDevice: number) => Promise<Verification>;
  readonly loop: () => Promise<LoopStats>;
  readonly startLatency: () => void;
  readonly stopLatency: () => Promise<LatencySample>;
  /** mqlite only: selected Prometheus samples at the end of the run. */
  readonly metrics: () => Promise<Record<string, number>>;
  readonly stop: () => Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const IPC_TIMEOUT_MS = 10_000;

function spawnNode(
  ctx: TargetContext,
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): ChildProcess {
  const probe = ctx.compiled.path('lib/loop-probe.ts');
  // Extra node flags for the targets only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): NODE_OPTIONS
  // refuses --cpu-prof, and would profile the harness and the load generator too.
  const extra = (process.env.BENCH_TARGET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  return track(
    spawn(process.execPath, [...extra, '--import', probe, entry, ...args], {
      cwd: ctx.repoDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
}

export async function startTarget(ctx: TargetContext): Promise<Target> {
  const clientId = `bench-${ctx.kind}`;
  const dbPath = join(ctx.dir, `${ctx.kind}.db`);
  let child: ChildProcess;
  let mqlite: MqliteProcess | undefined;
  if (ctx.kind === 'mqlite' || ctx.kind === 'mqlite-ack-on-receipt') {
    const ackOnReceipt = ctx.kind === 'mqlite-ack-on-receipt';
    mqlite = await startMqlite(ctx, clientId, dbPath, ackOnReceipt, (entry, args, env) =>
      spawnNode(ctx, entry, args, env),
    );
    child = mqlite.child;
  } else {
    const args: BaselineArgs = {
      url: ctx.brokerUrl,
      clientId,
      topic: ctx.topic,
      qos: ctx.qos,
      protocolVersion: ctx.protocolVersion,
      ...(ctx.kind === 'handwritten' ? { db: dbPath } : {}),
    };
    child = spawnNode(ctx, ctx.compiled.path(`baselines/${ctx.kind}.ts`), [JSON.stringify(args)]);
  }
  const output = captureTail(child);
  const stop = (): Promise<void> => stopChild(child, 10_000);
  try {
    if (mqlite) await mqliteReady(mqlite, child, READY_TIMEOUT_MS);
    else await waitForMessage(child, 'ready', READY_TIMEOUT_MS, `${ctx.kind} ready`);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- ${ctx.kind} output ---\n${output()}`);
  }
  if (child.pid === undefined) throw new Error(`${ctx.kind}: no pid`);

  const loop = (): Promise<LoopStats> => request<LoopStats>(child, { type: 'loop?' }, 'loop', IPC_TIMEOUT_MS);
  const common = { kind: ctx.kind, pid: child.pid, output, loop, stop };

  if (ctx.kind === 'transport') {
    type Count = IpcMessage & { count: number; distinct: number; duplicates: number; lastAt: number };
    const count = (): Promise<Count> => request<Count>(child, { type: 'count?' }, 'count', IPC_TIMEOUT_MS);
    return {
      ...common,
      beforeGo: async () => {
        child.send({ type: 'loop-reset' });
      },
      progress: async () => {
        const c = await count();
        return { count: c.count, lastAt: c.lastAt };
      },
      verify: async (devices, perDevice) => {
        const c = await count();
        const expected = devices * perDevice;
        const missing = expected - c.distinct;
        return {
          rows: c.count,
          distinct: c.distinct,
          duplicates: c.duplicates,
          missing,
          ok: missing === 0 && c.count === expected,
        };
      },
      startLatency: () => {},
      stopLatency: () =>
        request<IpcMessage & LatencySample>(child, { type: 'latency?' }, 'latency', IPC_TIMEOUT_MS),
      metrics: async () => ({}),
    };
  }

  const db: Database.Database = openReadOnly(dbPath);
  const observer = new CommitLatencyObserver(db);
  return {
    ...common,
    ...(mqlite ? { httpPort: mqlite.httpPort } : {}),
    beforeGo: async () => {
      child.send({ type: 'loop-reset' });
      // prom-client resets its loop histogram on every scrape: scrape now so the end value covers the run.
      if (mqlite) await scrapeMetrics(mqlite.httpPort);
    },
    // max(rowid) equals count(*) in these append-only tables and is O(log n); verify() counts for real.
    progress: async () => ({ count: maxRowId(db) }),
    verify: async (devices, perDevice) => verifyRows(db, devices, perDevice),
    startLatency: () => observer.start(),
    stopLatency: async () => observer.stop(),
    metrics: async () => (mqlite ? scrapeMetrics(mqlite.httpPort) : {}),
    stop: async () => {
      observer.stop();
      db.close();
      await stop();
    },
  };
}
