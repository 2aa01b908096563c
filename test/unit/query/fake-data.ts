/** QueryData over arrays, with rollups computed the way the storage defines them. */
import type {
  BucketColumns,
  BucketField,
  LatestReading,
  Points,
  QueryData,
  Rollup,
  SeriesId,
  TimeRange,
} from '../../../src/query/data.js';
import { ROLLUP_MS } from '../../../src/query/data.js';

interface Bucket {
  readonly start: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly last: number;
  readonly lastTs: number;
}

export interface Reading {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

export class FakeData implements QueryData {
  readonly calls: string[] = [];
  constructor(private readonly readings: readonly Reading[]) {}

  private of(s: SeriesId): Reading[] {
    return this.readings
      .filter((r) => r.device === s.device && r.metric === s.metric)
      .sort((a, b) => a.ts - b.ts);
  }

  listSeries(range?: TimeRange): SeriesId[] {
    const seen = new Map<string, SeriesId>();
    for (const r of this.readings)
      if (!range || (r.ts >= range.start && r.ts <= range.end))
        seen.set(`${r.device}\u0000${r.metric}`, { device: r.device, metric: r.metric });
    return [...seen.values()];
  }

  points(s: SeriesId, after: number, until: number): Points {
    this.calls.push(`points ${s.device}/${s.metric}`);
    const rs = this.of(s).filter((r) => r.ts > after && r.ts <= until);
    return { ts: rs.map((r) => r.ts), values: rs.map((r) => r.value) };
  }

  buckets(
    series: readonly SeriesId[],
    rollup: Rollup,
    from: number,
    to: number,
    fields: readonly BucketField[],
  ): BucketColumns[] {
    return series.map((s) => {
      const rows = this.bucketRows(s, rollup, from, to);
      return {
        start: rows.map((b) => b.start),
        fields: Object.fromEntries(fields.map((f) => [f, rows.map((b) => b[f])])),
      };
    });
  }

  private bucketRows(s: SeriesId, rollup: Rollup, from: number, to: number): Bucket[] {
    this.calls.push(`buckets ${rollup} ${s.device}/${s.metric}`);
    const size = ROLLUP_MS[rollup];
    const out = new Map<number, Bucket>();
    for (const r of this.of(s)) {
      const start = Math.floor(r.ts / size) * size;
      if (start < from || start >= to) continue;
      const b = out.get(start);
      out.set(
        start,
        b
          ? {
              start,
              count: b.count + 1,
              sum: b.sum + r.value,
              min: Math.min(b.min, r.value),
              max: Math.max(b.max, r.value),
              last: r.value,
              lastTs: r.ts,
            }
          : { start, count: 1, sum: r.value, min: r.value, max: r.value, last: r.value, lastTs: r.ts },
      );
    }
    return [...out.values()].sort((a, b) => a.start - b.start);
  }

  latest(): LatestReading[] {
    return this.listSeries().map((s) => {
      const rs = this.of(s);
      const last = rs[rs.length - 1] as Reading;
      return { ...s, ts: last.ts, value: last.value };
    });
  }
}
