import { describe, expect, it } from 'vitest';
import {
  afterStep,
  budgetBytes,
  budgetDeficit,
  type DiskState,
  newPass,
  nextStep,
  type RetentionPolicy,
} from '../../../src/retention/policy.js';

const DAY = 86_400_000;
const MiB = 1024 ** 2;
const NOW = Date.UTC(2026, 11, 2);

const policy = (over: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
  rawMs: 30 * DAY,
  rollup5mMs: 400 * DAY,
  rollup1hMs: null,
  deadLettersMs: 30 * DAY,
  maxBytes: 0,
  minFree: { bytes: 0 },
  chunkRows: 1000,
  vacuumPages: 256,
  ...over,
});

/** A database of `usedMiB` in use plus `freeMiB` of free pages, on a volume. */
const disk = (usedMiB: number, freeMiB = 0, volFreeMiB = 1000, volSizeMiB = 2000): DiskState => ({
  pageSize: 4096,
  pageCount: ((usedMiB + freeMiB) * MiB) / 4096,
  freelistCount: (freeMiB * MiB) / 4096,
  incremental: true,
  volumeFreeBytes: volFreeMiB * MiB,
  volumeSizeBytes: volSizeMiB * MiB,
});

describe('budget arithmetic', () => {
  it('has no budget when both limits are off', () => {
    expect(budgetBytes(policy(), disk(500))).toBeNull();
    expect(budgetDeficit(policy(), disk(500), false)).toBe(0);
  });

  it('db.maxBytes caps pages in use; free pages in the file do not count', () => {
    const p = policy({ maxBytes: 100 * MiB });
    expect(budgetDeficit(p, disk(90, 50), false)).toBe(0);
    expect(budgetDeficit(p, disk(110), false)).toBe(10 * MiB);
  });

  it('once purging, goes on to 95% of the budget (hysteresis)', () => {
    const p = policy({ maxBytes: 100 * MiB });
    expect(budgetDeficit(p, disk(99), false)).toBe(0);
    expect(budgetDeficit(p, disk(99), true)).toBe(Math.ceil(99 * MiB - Math.floor(100 * MiB * 0.95)));
  });

  it('a free-space floor allows what is used, free in the file and free on the volume, minus the floor', () => {
    // 5% of a 2000 MiB volume = 100 MiB floor; 300 used + 20 free pages + 50 on the volume - 100.
    const p = policy({ minFree: { percentOfVolume: 5 } });
    expect(budgetBytes(p, disk(300, 20, 50))).toBe(270 * MiB);
    expect(budgetDeficit(p, disk(300, 20, 50), false)).toBe(30 * MiB);
    expect(budgetDeficit(p, disk(300, 20, 500), false)).toBe(0);
  });

  it('the tighter of the two limits wins', () => {
    const p = policy({ maxBytes: 200 * MiB, minFree: { bytes: 100 * MiB } });
    expect(budgetBytes(p, disk(150, 0, 1000))).toBe(200 * MiB);
    expect(budgetBytes(p, disk(150, 0, 120))).toBe(170 * MiB);
  });
});

describe('a pass', () => {
  it('purges the budget first, then raw by age from a cursor, dead letters, rollups, and vacuums last', () => {
    const p = policy({ maxBytes: 100 * MiB });
    const s = newPass();
    const over = disk(120);
    expect(nextStep(p, over, NOW, s)).toEqual({ kind: 'raw-oldest', maxRows: 1000 });
    afterStep(s, { kind: 'raw-oldest', maxRows: 1000 }, { rows: 1000, nextId: 1001, more: true });
    // Budget met (the purge freed 30 MiB into the free list): on to the ages.
    const met = disk(90, 30);
    const raw = nextStep(p, met, NOW, s);
    expect(raw).toEqual({ kind: 'raw-older', beforeTs: NOW - 30 * DAY, maxRows: 1000 });
    afterStep(s, raw as never, { rows: 1000, nextId: 5001, more: true });
    expect(nextStep(p, met, NOW, s)).toMatchObject({ kind: 'raw-older', fromId: 5001 });
    afterStep(s, { kind: 'raw-older', beforeTs: 0, maxRows: 1000 }, { rows: 0, nextId: 6001, more: false });
    const dl = nextStep(p, met, NOW, s);
    expect(dl).toEqual({ kind: 'dead-letters-older', beforeTs: NOW - 30 * DAY, maxRows: 1000 });
    afterStep(s, dl as never, { rows: 3, nextId: null, more: false });
    const r5 = nextStep(p, met, NOW, s);
    expect(r5).toEqual({ kind: 'tier-older', tier: 'rollup5m', beforeTs: NOW - 400 * DAY, maxRows: 1000 });
    afterStep(s, r5 as never, { rows: 0, nextId: null, more: false });
    // rollup1h is kept forever: no step for it.
    expect(nextStep(p, met, NOW, s)).toEqual({ kind: 'vacuum', pages: 256 });
    afterStep(s, { kind: 'vacuum', pages: 256 }, { rows: 0, nextId: null, more: false });
    expect(nextStep(p, met, NOW, s)).toBeNull();
  });

  it('stops the budget purge when nothing more may be deleted (protected or last row)', () => {
    const p = policy({ maxBytes: 100 * MiB, rawMs: null, deadLettersMs: null, rollup5mMs: null });
    const s = newPass();
    afterStep(s, { kind: 'raw-oldest', maxRows: 1000 }, { rows: 0, nextId: null, more: false });
    expect(nextStep(p, disk(120), NOW, s)).toBeNull();
  });

  it('after SQLITE_FULL frees a chunk even when the arithmetic says the budget is met', () => {
    const p = policy({ maxBytes: 100 * MiB });
    const s = newPass(1);
    expect(nextStep(p, disk(10), NOW, s)).toEqual({ kind: 'raw-oldest', maxRows: 1000 });
    afterStep(s, { kind: 'raw-oldest', maxRows: 1000 }, { rows: 1000, nextId: 1001, more: true });
    expect(nextStep(p, disk(10), NOW, s)).toMatchObject({ kind: 'raw-older' });
  });

  it('does not purge for SQLITE_FULL without a budget: a full disk means backpressure, as before', () => {
    const p = policy({ rawMs: null, deadLettersMs: null, rollup5mMs: null, vacuumPages: 0 });
    expect(nextStep(p, disk(10), NOW, newPass(3))).toBeNull();
  });

  it('never vacuums a database without incremental auto-vacuum', () => {
    const p = policy({ rawMs: null, deadLettersMs: null, rollup5mMs: null });
    expect(nextStep(p, { ...disk(10, 5), incremental: false }, NOW, newPass())).toBeNull();
  });
});
