/**
 * Per-batch aggregation (rollups.ts), without SQLite: what a user reading readings_5m / readings_1h
 * and latest would check: counts, sums, extremes, first/last by the reading's own time, buckets by
 * the reading's own time whatever the arrival order, and merging with what is already stored.
 */
import { describe, expect, it } from 'vitest';
import {
  BatchAggregator,
  BUCKET_1H_MS,
  BUCKET_5M_MS,
  type Bucket,
  bucketOf,
  mergeBucket,
  type SeriesBatch,
} from '../../../src/sink/rollups.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // on a 1 h boundary

function series(agg: BatchAggregator): SeriesBatch[] {
  return [...agg.series()];
}

/** Plain objects, for toEqual, sorted by bucket. */
function buckets(level: Map<number, Bucket>): Bucket[] {
  return [...level.values()].map((b) => ({ ...b })).sort((a, b) => a.bucket - b.bucket);
}

describe('bucketOf', () => {
  it('floors to the bucket start, also before 1970', () => {
    expect(bucketOf(T0 + 299_999, BUCKET_5M_MS)).toBe(T0);
    expect(bucketOf(T0 + 300_000, BUCKET_5M_MS)).toBe(T0 + 300_000);
    expect(bucketOf(T0 + 3_599_999, BUCKET_1H_MS)).toBe(T0);
    expect(bucketOf(-1, BUCKET_5M_MS)).toBe(-300_000);
  });
});

describe('BatchAggregator', () => {
  it('aggregates one series into 5 m and 1 h buckets by the reading ts, in any arrival order', () => {
    const agg = new BatchAggregator();
    // Arrival order is not time order: a late reading (T0 + 10 s) arrives last.
    agg.add('kitchen', 'temp', T0 + 60_000, 21, 1);
    agg.add('kitchen', 'temp', T0 + 400_000, 23, 2); // second 5-minute bucket, same hour
    agg.add('kitchen', 'temp', T0 + 120_000, 19, 3);
    agg.add('kitchen', 'temp', T0 + 10_000, 20, 4);
    const [s, ...rest] = series(agg);
    expect(rest).toEqual([]);
    expect(agg.size).toBe(4);
    expect(buckets(s!.b5m)).toEqual([
      {
        bucket: T0,
        count: 3,
        sum: 60,
        min: 19,
        max: 21,
        first: 20,
        firstTs: T0 + 10_000,
        last: 19,
        lastTs: T0 + 120_000,
      },
      {
        bucket: T0 + 300_000,
        count: 1,
        sum: 23,
        min: 23,
        max: 23,
        first: 23,
        firstTs: T0 + 400_000,
        last: 23,
        lastTs: T0 + 400_000,
      },
    ]);
    expect(buckets(s!.b1h)).toEqual([
      {
        bucket: T0,
        count: 4,
        sum: 83,
        min: 19,
        max: 23,
        first: 20,
        firstTs: T0 + 10_000,
        last: 23,
        lastTs: T0 + 400_000,
      },
    ]);
    // Latest is the newest by ts, not the last to arrive.
    expect(s).toMatchObject({ latestTs: T0 + 400_000, latestValue: 23, latestMessageId: 2 });
  });

  it('keeps series apart by device and metric, a null device included', () => {
    const agg = new BatchAggregator();
    agg.add('a', 'temp', T0, 1, 1);
    agg.add('a', 'hum', T0, 2, 1);
    agg.add(null, 'temp', T0, 3, 2);
    agg.add('b', 'temp', T0, 4, 3);
    agg.add('a', 'temp', T0 + 1, 5, 4);
    const got = series(agg).map((s) => [
      s.device,
      s.metric,
      s.b5m.get(T0 / BUCKET_5M_MS)?.count,
      s.latestValue,
    ]);
    expect(got).toEqual([
      ['a', 'temp', 2, 5],
      ['a', 'hum', 1, 2],
      [null, 'temp', 1, 3],
      ['b', 'temp', 1, 4],
    ]);
  });

  it('on equal timestamps the later-stored reading is latest and last, the earlier one first', () => {
    const agg = new BatchAggregator();
    agg.add('d', 'm', T0, 1, 10);
    agg.add('d', 'm', T0, 2, 11);
    const [s] = series(agg);
    expect(s).toMatchObject({ latestValue: 2, latestMessageId: 11 });
    expect(s!.b5m.get(T0 / BUCKET_5M_MS)).toMatchObject({ first: 1, last: 2, count: 2 });
  });

  it('clear() forgets everything', () => {
    const agg = new BatchAggregator();
    agg.add('d', 'm', T0, 1, 1);
    agg.clear();
    expect(series(agg)).toEqual([]);
    expect(agg.size).toBe(0);
  });
});

describe('mergeBucket', () => {
  const stored: Bucket = {
    bucket: T0,
    count: 2,
    sum: 10,
    min: 4,
    max: 6,
    first: 4,
    firstTs: T0 + 5,
    last: 6,
    lastTs: T0 + 50,
  };

  it('adds counts and sums, combines extremes, takes first/last by time', () => {
    const late: Bucket = {
      bucket: T0,
      count: 1,
      sum: 1,
      min: 1,
      max: 1,
      first: 1,
      firstTs: T0 + 1,
      last: 1,
      lastTs: T0 + 1,
    };
    expect(mergeBucket(stored, late)).toEqual({
      bucket: T0,
      count: 3,
      sum: 11,
      min: 1,
      max: 6,
      first: 1,
      firstTs: T0 + 1,
      last: 6,
      lastTs: T0 + 50,
    });
  });

  it('gives the same result as aggregating everything in one batch', () => {
    const readings: [number, number][] = [
      [T0 + 100, 3],
      [T0 + 7, 9],
      [T0 + 250_000, -2],
      [T0 + 7, 4],
      [T0 + 299_999, 8],
    ];
    const whole = new BatchAggregator();
    readings.forEach(([ts, v], i) => {
      whole.add('d', 'm', ts, v, i);
    });
    for (let split = 1; split < readings.length; split++) {
      const a = new BatchAggregator();
      const b = new BatchAggregator();
      readings.forEach(([ts, v], i) => {
        (i < split ? a : b).add('d', 'm', ts, v, i);
      });
      const merged = mergeBucket(
        series(a)[0]!.b5m.get(T0 / BUCKET_5M_MS)!,
        series(b)[0]!.b5m.get(T0 / BUCKET_5M_MS)!,
      );
      expect(merged, `split at ${split}`).toEqual({ ...series(whole)[0]!.b5m.get(T0 / BUCKET_5M_MS)! });
    }
  });
});
