/**
 * Pure, per-batch aggregation of readings into what schema 2 keeps incrementally (migrations/v2-schema.ts):
 * the latest reading per series and 5-minute / 1-hour buckets. The store feeds it the readings of the
 * messages a transaction actually inserted, then upserts one row per series and bucket (rollup-writer.ts),
 * merging with what is stored by the same rules as `mergeBucket` here.
 */

export const BUCKET_5M_MS = 300_000;
export const BUCKET_1H_MS = 3_600_000;

export interface Bucket {
  /** Start of the bucket, ms since epoch: floor(ts / size) * size. */
  readonly bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  first: number;
  firstTs: number;
  last: number;
  lastTs: number;
}

/** One series' share of a batch. */
export interface SeriesBatch {
  readonly device: string | null;
  readonly metric: string;
  latestTs: number;
  latestValue: number;
  latestMessageId: number;
  /**
   * Keyed by bucket number, floor(ts / size): a small integer, where the start in ms (~1.7e12) is a
   * heap number V8 would allocate for every lookup (two per reading in the writer thread).
   */
  readonly b5m: Map<number, Bucket>;
  readonly b1h: Map<number, Bucket>;
}

export function bucketOf(ts: number, size: number): number {
  return Math.floor(ts / size) * size;
}

function newBucket(bucket: number, ts: number, value: number): Bucket {
  return {
    bucket,
    count: 1,
    sum: value,
    min: value,
    max: value,
    first: value,
    firstTs: ts,
    last: value,
    lastTs: ts,
  };
}

/** Adds one reading to a bucket: readings arrive in storage order, so a tie on ts keeps the first one first. */
function addTo(b: Bucket, ts: number, value: number): void {
  b.count++;
  b.sum += value;
  if (value < b.min) b.min = value;
  if (value > b.max) b.max = value;
  if (ts < b.firstTs) {
    b.first = value;
    b.firstTs = ts;
  }
  if (ts >= b.lastTs) {
    b.last = value;
    b.lastTs = ts;
  }
}

/**
 * Merges `later` (stored after) into `earlier`: the rule the SQL upsert applies to a stored row and a
 * batch's bucket. Exposed so that tests can hold the SQL to it.
 */
export function mergeBucket(earlier: Bucket, later: Bucket): Bucket {
  return {
    bucket: earlier.bucket,
    count: earlier.count + later.count,
    sum: earlier.sum + later.sum,
    min: Math.min(earlier.min, later.min),
    max: Math.max(earlier.max, later.max),
    first: later.firstTs < earlier.firstTs ? later.first : earlier.first,
    firstTs: Math.min(earlier.firstTs, later.firstTs),
    last: later.lastTs >= earlier.lastTs ? later.last : earlier.last,
    lastTs: Math.max(earlier.lastTs, later.lastTs),
  };
}

function addToLevel(level: Map<number, Bucket>, size: number, ts: number, value: number): void {
  const n = Math.floor(ts / size);
  const b = level.get(n);
  if (b === undefined) level.set(n, newBucket(n * size, ts, value));
  else addTo(b, ts, value);
}

/**
 * The readings of one transaction, by series. Keyed by device then metric (no string concatenation
 * per reading); a series' id is resolved once per batch when it is written.
 */
export class BatchAggregator {
  private readonly byDevice = new Map<string | null, Map<string, SeriesBatch>>();
  private readings = 0;

  /** One stored reading. `messageId` increases with storage order (it is the rowid). */
  add(device: string | null, metric: string, ts: number, value: number, messageId: number): void {
    let metrics = this.byDevice.get(device);
    if (metrics === undefined) {
      metrics = new Map();
      this.byDevice.set(device, metrics);
    }
    let s = metrics.get(metric);
    if (s === undefined) {
      s = {
        device,
        metric,
        latestTs: ts,
        latestValue: value,
        latestMessageId: messageId,
        b5m: new Map(),
        b1h: new Map(),
      };
      metrics.set(metric, s);
    } else if (ts >= s.latestTs) {
      s.latestTs = ts;
      s.latestValue = value;
      s.latestMessageId = messageId;
    }
    addToLevel(s.b5m, BUCKET_5M_MS, ts, value);
    addToLevel(s.b1h, BUCKET_1H_MS, ts, value);
    this.readings++;
  }

  /** Readings added since the last clear. */
  get size(): number {
    return this.readings;
  }

  *series(): IterableIterator<SeriesBatch> {
    for (const metrics of this.byDevice.values()) yield* metrics.values();
  }

  clear(): void {
    this.byDevice.clear();
    this.readings = 0;
  }
}
