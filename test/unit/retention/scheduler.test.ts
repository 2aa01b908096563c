/**
 * The scheduler against a fake worker and the real async-mutex the batch writer uses: each step
 * takes the mutex on its own, so a batch that queued for it goes between two steps; SQLITE_FULL
 * triggers a pass at once; the observation reports an unmet budget.
 */
import { Mutex } from 'async-mutex';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RetentionPolicy, Step } from '../../../src/retention/policy.js';
import {
  type MaintenanceAnswer,
  type RetentionObservation,
  RetentionScheduler,
  walLimitPages,
} from '../../../src/retention/scheduler.js';

const MiB = 1024 ** 2;
const NOW = Date.UTC(2026, 11, 2);

const policy = (over: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  rawMs: null,
  rollup5mMs: null,
  rollup1hMs: null,
  deadLettersMs: null,
  maxBytes: 10 * MiB,
  minFree: { bytes: 0 },
  chunkRows: 100,
  vacuumPages: 0,
  ...over,
});

/** A database of `used` pages of 4 KiB; each raw-oldest step frees `perStep` of them, `deletable` at most. */
function fakeDb(usedPages: number, perStep: number, deletable = Number.POSITIVE_INFINITY) {
  let used = usedPages;
  let deleted = 0;
  const log: string[] = [];
  return {
    log,
    target: {
      async maintain(op: { kind: string } | Step): Promise<MaintenanceAnswer> {
        await new Promise((r) => setTimeout(r, 1)); // the worker's round trip
        if (op.kind === 'stats') {
          return {
            kind: 'stats',
            stats: {
              pageSize: 4096,
              pageCount: used,
              freelistCount: 0,
              incremental: false,
              oldestRawTs: NOW - 5000,
            },
          };
        }
        log.push(op.kind);
        const n = Math.min(perStep, deletable - deleted);
        deleted += n;
        used -= n;
        return {
          kind: 'step',
          step: { rows: n, bytes: n * 4096, seconds: 0.001, nextId: null, more: n > 0, blocked: n === 0 },
        };
      },
    },
  };
}

function scheduler(db: ReturnType<typeof fakeDb>, p: RetentionPolicy, mutex = new Mutex()) {
  const observed: RetentionObservation[] = [];
  const s = new RetentionScheduler({
    target: db.target,
    exclusive: (fn) => mutex.runExclusive(fn),
    volume: async () => ({ freeBytes: 10_000 * MiB, sizeBytes: 20_000 * MiB }),
    policy: p,
    intervalMs: 60_000,
    now: () => NOW,
    hooks: {
      onStep: () => {},
      onObserved: (o) => observed.push(o),
      onError: (e) => {
        throw e;
      },
    },
  });
  return { s, observed, mutex };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RetentionScheduler', () => {
  it('purges the oldest rows down to the low watermark, and reports the budget met', async () => {
    const db = fakeDb((12 * MiB) / 4096, 256);
    const { s, observed } = scheduler(db, policy());
    await s.runOnce();
    const last = observed.at(-1) as RetentionObservation;
    expect(last.usedBytes).toBeLessThanOrEqual(10 * MiB * 0.95);
    expect(last.budgetBytes).toBe(10 * MiB);
    expect(last.budgetUnmet).toBe(false);
    expect(last.oldestRawAgeSeconds).toBe(5);
  });

  it('lets a batch waiting for the mutex in between two steps', async () => {
    const db = fakeDb((12 * MiB) / 4096, 64);
    const { s, mutex } = scheduler(db, policy());
    const pass = s.runOnce();
    // A batch commit queues for the mutex once the pass has made its first step.
    while (db.log.length === 0) await new Promise((r) => setTimeout(r, 1));
    await mutex.runExclusive(async () => {
      db.log.push('batch');
    });
    await pass;
    const at = db.log.indexOf('batch');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(db.log.length - 1); // the pass went on after the batch
  });

  it('says the budget cannot be met when nothing more may be deleted', async () => {
    const db = fakeDb((12 * MiB) / 4096, 256, 100);
    const { s, observed } = scheduler(db, policy());
    await s.runOnce();
    expect(observed.at(-1)?.budgetUnmet).toBe(true);
  });

  it('runs a pass at once after SQLITE_FULL, only with a budget', async () => {
    vi.useFakeTimers();
    const withBudget = fakeDb(10, 5);
    const a = scheduler(withBudget, policy());
    await a.s.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(withBudget.log).toEqual([]); // within budget: nothing to do
    a.s.diskFull();
    await vi.advanceTimersByTimeAsync(50);
    expect(withBudget.log).toEqual(['raw-oldest']);
    await a.s.stop();

    const noBudget = fakeDb(10, 5);
    const b = scheduler(noBudget, policy({ maxBytes: 0 }));
    await b.s.start();
    b.s.diskFull();
    await vi.advanceTimersByTimeAsync(100);
    expect(noBudget.log).toEqual([]);
    await b.s.stop();
  });

  it('bounds the WAL only on small volumes', () => {
    expect(walLimitPages(16 * MiB)).toBe(256);
    expect(walLimitPages(16 * 1024 * MiB)).toBeNull();
  });
});
