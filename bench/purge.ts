/**
 * `npm run bench:purge [-- --messages N --prefill N]`: what purging costs ingestion. The SQLite
 * worker's side (SinkStore: decode + insert + latest/rollups + commit; purge steps on the same
 * connection), no broker: that thread is where a purge competes with batches, since both run on the
 * one writer connection, one after the other (retention/scheduler.ts).
 *
 * Two runs from the same starting point, a database prefilled with --prefill messages:
 *   baseline  writes --messages more, nothing purged (the file grows);
 *   purging   the same with db.maxBytes set to the prefilled size, so that every batch is followed by
 *             purge steps (chunkRows 1000, the daemon's policy and order) deleting as much as it added,
 *             plus incremental vacuum steps: steady state on a full budget.
 * Reports messages/s of each, their ratio (target ≥ 0.9), and the purge steps' write-lock times.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  afterStep,
  type DiskState,
  newPass,
  nextStep,
  type RetentionPolicy,
} from '../src/retention/policy.js';
import { type PackedBatch, packBatch } from '../src/sink/protocol.js';
import { SinkStore } from '../src/sink/store.js';
import { benchDecode as decode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    prefill: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '5000' },
    devices: { type: 'string', default: '100' },
    chunk: { type: 'string', default: '1000' },
  },
});
const N = Number(values.messages);
const PREFILL = Number(values.prefill);
const BATCH = Number(values.batch);
const DEVICES = Number(values.devices);
const CHUNK = Number(values.chunk);

/** Batches of messages [from, to), 100 devices, 40 messages per ms of payload time. */
function batches(from: number, to: number, t0: number): PackedBatch[] {
  const out: PackedBatch[] = [];
  for (let at = from; at < to; at += BATCH) {
    const msgs = [];
    for (let k = at; k < Math.min(to, at + BATCH); k++) {
      const ts = t0 + Math.floor(k / 40);
      msgs.push(benchMessage(k % DEVICES, Math.floor(k / DEVICES), ts));
    }
    out.push(packBatch(msgs).packed);
  }
  return out;
}

function disk(store: SinkStore): DiskState {
  const r = store.maintain({ kind: 'stats' });
  if (r.kind !== 'stats') throw new Error('stats');
  const s = r.stats;
  return {
    pageSize: s.pageSize,
    pageCount: s.pageCount,
    freelistCount: s.freelistCount,
    incremental: s.incremental,
    volumeFreeBytes: 1e15,
    volumeSizeBytes: 2e15,
  };
}

interface RunResult {
  msgsPerSec: number;
  purgeSteps: number;
  purgedRows: number;
  stepMsP50: number;
  stepMsP99: number;
  stepMsMax: number;
  finalUsedMB: number;
}

function run(purge: boolean, prefill: PackedBatch[], timed: PackedBatch[]): RunResult {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-purge-'));
  try {
    const store = SinkStore.open(
      { path: join(dir, 'p.db'), synchronous: 'FULL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
      decode,
    );
    for (const b of prefill) store.writeBatch(b);
    const d0 = disk(store);
    const policy: RetentionPolicy = {
      rawMs: null,
      rollup5mMs: null,
      rollup1hMs: null,
      deadLettersMs: null,
      maxBytes: purge ? (d0.pageCount - d0.freelistCount) * d0.pageSize : 0,
      minFree: { bytes: 0 },
      chunkRows: CHUNK,
      vacuumPages: 256,
    };
    const steps: number[] = [];
    let rows = 0;
    const w0 = performance.now();
    for (const b of timed) {
      store.writeBatch(b);
      if (!purge) continue;
      // One pass between batches, as the scheduler runs it (kicked after 1% of the budget written).
      const pass = newPass();
      for (;;) {
        const step = nextStep(policy, disk(store), Date.now(), pass);
        if (step === null) break;
        const r = store.maintain(step);
        if (r.kind !== 'step') break;
        steps.push(r.step.seconds * 1000);
        rows += r.step.rows;
        afterStep(pass, step, r.step);
      }
    }
    const wall = (performance.now() - w0) / 1000;
    const used = disk(store);
    store.close();
    steps.sort((a, b) => a - b);
    const q = (p: number) =>
      Math.round((steps[Math.min(steps.length - 1, Math.floor(p * steps.length))] ?? 0) * 10) / 10;
    return {
      msgsPerSec: Math.round((timed.length * BATCH) / wall),
      purgeSteps: steps.length,
      purgedRows: rows,
      stepMsP50: q(0.5),
      stepMsP99: q(0.99),
      stepMsMax: Math.round((steps.at(-1) ?? 0) * 10) / 10,
      finalUsedMB: Math.round(((used.pageCount - used.freelistCount) * used.pageSize) / 1e5) / 10,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const t0 = Date.now() - 86_400_000;
const prefill = batches(0, PREFILL, t0);
const timed = batches(PREFILL, PREFILL + N, t0);
// Alternate, twice each, so that a noisy neighbour on a shared machine hits both alike.
const baseline: RunResult[] = [];
const purging: RunResult[] = [];
for (let i = 0; i < 2; i++) {
  baseline.push(run(false, prefill, timed));
  purging.push(run(true, prefill, timed));
}
const best = (rs: RunResult[]) => rs.reduce((a, b) => (b.msgsPerSec > a.msgsPerSec ? b : a));
const b = best(baseline);
const p = best(purging);
console.log(
  JSON.stringify(
    {
      messages: N,
      prefill: PREFILL,
      batch: BATCH,
      chunkRows: CHUNK,
      baseline: b,
      purging: p,
      ratio: Math.round((p.msgsPerSec / b.msgsPerSec) * 100) / 100,
      runs: { baseline: baseline.map((r) => r.msgsPerSec), purging: purging.map((r) => r.msgsPerSec) },
    },
    null,
    2,
  ),
);
