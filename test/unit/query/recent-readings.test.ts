/**
 * The pure part of the query cache: per-series columns kept in ts order whatever the arrival order,
 * trimmed, with their memory counted; readings of one ts in the order they were added (the order of
 * their message ids, as SQL reads them).
 */
import { describe, expect, it } from 'vitest';
import { RecentReadings } from '../../../src/query/recent-readings.js';
import { SeriesColumn, SLOT_BYTES } from '../../../src/query/series-column.js';
import { seededRandom } from '../../helpers/chaos.js';

/** The same "random" sequence every run, so a failure reproduces. */
const rng = (seed: number): (() => number) => seededRandom(seed).next;

describe('SeriesColumn', () => {
  it('holds what a sorted list would, through late readings and trims', () => {
    const rand = rng(1);
    const col = new SeriesColumn();
    let model: { ts: number; v: number }[] = [];
    let now = 1000;
    for (let i = 0; i < 5000; i++) {
      const u = rand();
      const ts = u < 0.7 ? now : u < 0.9 ? now - Math.floor(rand() * 300) : Math.floor(now / 50) * 50;
      const v = Math.floor(rand() * 1000);
      col.add(ts, v);
      // Stable: after the readings of equal ts already there.
      const p = model.findIndex((r) => r.ts > ts);
      model.splice(p < 0 ? model.length : p, 0, { ts, v });
      now += Math.floor(rand() * 3);
      if (i % 500 === 499) {
        const from = now - 400;
        col.trim(from);
        model = model.filter((r) => r.ts > from);
      }
      if (i % 97 === 0) {
        const after = now - Math.floor(rand() * 500);
        const until = after + Math.floor(rand() * 500);
        const want = model.filter((r) => r.ts > after && r.ts <= until);
        expect(col.points(after, until)).toEqual({ ts: want.map((r) => r.ts), values: want.map((r) => r.v) });
      }
    }
    expect(col.length).toBe(model.length);
  });

  it('keeps readings of one ts in the order they came, late ones after those already held', () => {
    const col = new SeriesColumn();
    col.add(10, 1);
    col.add(20, 2);
    col.add(30, 3);
    col.add(20, 5); // late: after the reading already at 20
    col.add(30, 0);
    col.add(30, -0); // 0 and -0 differ in what arithmetic makes of them
    expect(col.points(0, 100)).toEqual({ ts: [10, 20, 20, 30, 30, 30], values: [1, 2, 5, 3, 0, -0] });
    col.trim(20);
    expect(col.points(0, 100)).toEqual({ ts: [30, 30, 30], values: [3, 0, -0] });
  });

  it('gives memory back once mostly trimmed', () => {
    const col = new SeriesColumn();
    for (let i = 0; i < 10_000; i++) col.add(i, i);
    expect(col.capacity).toBeGreaterThanOrEqual(10_000);
    col.trim(9_900);
    expect(col.length).toBe(99);
    expect(col.capacity).toBeLessThan(1000);
    expect(col.points(9_990, 10_000).values).toEqual([
      9_991, 9_992, 9_993, 9_994, 9_995, 9_996, 9_997, 9_998, 9_999,
    ]);
  });
});

describe('RecentReadings', () => {
  const none = { ts: [], values: [] };

  it('holds only the series it was asked to, after coverFrom', () => {
    const r = new RecentReadings(100);
    r.addSeries('a', 'temp', { ts: [90, 100, 101], values: [0, 1, 2] });
    r.addSeries(null, 'temp', none);
    r.add('a', 'temp', 100, 1); // not after coverFrom
    r.add('a', 'temp', 102, 3);
    r.add(null, 'temp', 150, 3);
    r.add('b', 'temp', 150, 4); // not held
    r.add('a', 'hum', 150, 4); // not held
    expect(r.points('a', 'temp', 100, 200)).toEqual({ ts: [101, 102], values: [2, 3] });
    expect(r.points(null, 'temp', 100, 200)).toEqual({ ts: [150], values: [3] });
    expect(r.points('b', 'temp', 100, 200)).toBeUndefined();
    expect(r.points('a', 'hum', 100, 200)).toBeUndefined();
    expect(r.has('a', 'temp')).toBe(true);
    expect(r.has('a', 'hum')).toBe(false);
    expect(() => r.points('a', 'temp', 99, 200)).toThrow(RangeError);
  });

  it('extends back with what is read for the gap, in one order', () => {
    const r = new RecentReadings(100);
    r.addSeries('a', 'temp', { ts: [101, 150], values: [1, 2] });
    const asked: string[] = [];
    r.extend(50, (device, metric, after, until) => {
      asked.push(`${device}/${metric} (${after}, ${until}]`);
      return { ts: [60, 60, 100], values: [7, 8, 9] };
    });
    expect(asked).toEqual(['a/temp (50, 100]']);
    expect(r.coverFrom).toBe(50);
    // 7 and 8 at one ts, in the order SQL read them.
    expect(r.points('a', 'temp', 50, 200)).toEqual({ ts: [60, 60, 100, 101, 150], values: [7, 8, 9, 1, 2] });
  });

  it('puts readings of one ts in the order their messages were stored', () => {
    const r = new RecentReadings(0);
    r.addSeries('a', 'temp', { ts: [10, 20], values: [1, 2] });
    r.add('a', 'temp', 20, 3);
    r.add('a', 'temp', 30, 4);
    r.add('a', 'temp', 15, 9); // late
    expect(r.points('a', 'temp', 0, 100)).toEqual({ ts: [10, 15, 20, 20, 30], values: [1, 9, 2, 3, 4] });
  });

  it('counts its memory, and trims and clears it away', () => {
    const r = new RecentReadings(0);
    expect(r.bytes).toBe(0);
    r.addSeries('a', 'temp', none);
    r.addSeries('a', 'hum', none);
    const empty = r.bytes;
    for (let i = 1; i <= 1000; i++) {
      r.add('a', 'temp', i, i);
      r.add('a', 'hum', i, i);
    }
    // Two columns of ≥ 1000 slots, at most doubled (their 8 first slots counted in empty).
    expect(r.bytes - empty).toBeGreaterThanOrEqual(2 * 992 * SLOT_BYTES);
    expect(r.bytes - empty).toBeLessThan(2 * 2048 * SLOT_BYTES);
    r.trim(1000);
    expect(r.bytes).toBe(empty);
    expect(r.coverFrom).toBe(1000);
    r.trim(500); // never back (extend is the way back)
    expect(r.coverFrom).toBe(1000);
    r.clear(5000);
    expect(r.bytes).toBe(0);
    expect(r.seriesCount).toBe(0);
    expect(r.coverFrom).toBe(5000);
  });
});
