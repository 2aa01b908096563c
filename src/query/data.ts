/**
 * What the evaluator needs from storage, and nothing else: the SQLite adapter implements it in
 * the query worker, a fake in the unit tests. Times are milliseconds since the epoch.
 */

export interface SeriesId {
  readonly device: string;
  readonly metric: string;
}

/** Raw readings of one series, ascending by ts. */
export interface Points {
  readonly ts: readonly number[];
  readonly values: readonly number[];
}

/** One rollup bucket: [start, start + size). */
export interface Bucket {
  readonly start: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly last: number;
  readonly lastTs: number;
}

export type Rollup = '5m' | '1h';
export const ROLLUP_MS: Record<Rollup, number> = { '5m': 300_000, '1h': 3_600_000 };

export interface LatestReading extends SeriesId {
  readonly ts: number;
  readonly value: number;
}

/** Inclusive, ms since the epoch. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

export interface QueryData {
  /**
   * Every series (device + metric) stored; with a range, those with a reading in it. Like
   * Prometheus's (which answers by whole chunks), an answer may include a series whose readings
   * only surround the range within one rollup bucket; it never leaves out one with a reading in it.
   */
  listSeries(range?: TimeRange): readonly SeriesId[];
  /** Readings with after < ts ≤ until (Prometheus 3 windows are left-open). */
  points(s: SeriesId, after: number, until: number): Points;
  /** Buckets with from ≤ start < to, ascending; only those holding readings. */
  buckets(s: SeriesId, rollup: Rollup, from: number, to: number): readonly Bucket[];
  /** The latest reading of every series. */
  latest(): readonly LatestReading[];
}
