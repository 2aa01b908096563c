/**
 * QueryData over schema 2 (src/sink/migrations/v2-schema.ts) on a read-only connection of its
 * own: never the writer's. WAL lets it read a consistent snapshot while the writer commits.
 *
 *   series list  latest (one row per device + metric)
 *   raw points   messages(device, ts) index, the metric picked out of the message's readings JSON,
 *                plus the rare readings_at rows (readings timestamped apart from their message)
 *   buckets      rollup_5m / rollup_1h by (series_id, bucket)
 */
import Database from 'better-sqlite3';
import { MqliteError } from '../lib/errors.js';
import { ROLLUP_MS } from './data.js';
import { label, simpleKey } from './json-label.js';
import { RecentCache, type RecentCacheSettings, type RecentCacheStats } from './recent-cache.js';
import type {
  BucketColumns,
  BucketField,
  LatestReading,
  Points,
  QueryData,
  Rollup,
  SeriesId,
  TimeRange,
} from './data.js';

/** The schema this reader understands (PRAGMA user_version written by the sink's migrations). */
const SCHEMA_VERSION = 2;

interface Stmt<R> {
  all(...params: unknown[]): R[];
}

export class SqliteReader implements QueryData {
  private readonly db: Database.Database;
  private readonly ids = new Map<string, number>();
  /** One statement per rollup and set of fields, prepared on first use. */
  private readonly bucketStmts = new Map<string, Database.Statement<unknown[], number[]>>();
  private readonly stmts: {
    series: Stmt<{ id: number; device: string | null; metric: string }>;
    seriesIn: Stmt<{ id: number; device: string | null; metric: string }>;
    latest: Stmt<{ device: string | null; metric: string; ts: number; value: number }>;
    inline: Stmt<[number, number | null]>;
    inlineById: Stmt<[number, number | null]>;
    inlineEach: Stmt<[number, number]>;
    inlineEachById: Stmt<[number, number]>;
    apart: Stmt<{ ts: number; value: number }>;
  };
  /** fn inside one read transaction (or inside the one already open): see snapshot(). */
  private readonly inSnapshot: <T>(fn: () => T) => T;
  /** Recent raw readings (recent-cache.ts); undefined when off (query.cache.maxBytes 0, old schema). */
  private readonly cache: RecentCache | undefined;
  /** The cache was brought to this read transaction's snapshot. */
  private cacheSynced = false;

  constructor(path: string, opts: { busyTimeoutMs?: number; cache?: RecentCacheSettings } = {}) {
    try {
      this.db = new Database(path, {
        readonly: true,
        fileMustExist: true,
        timeout: opts.busyTimeoutMs ?? 2000,
      });
    } catch (err) {
      throw new MqliteError(
        'MQLITE_DB_OPEN_FAILED',
        `cannot open ${path} read-only: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version < SCHEMA_VERSION) {
      this.db.close();
      throw new MqliteError(
        'MQLITE_DB_OPEN_FAILED',
        `${path} has schema ${version}; start the mqlite daemon on it once to migrate it to schema ${SCHEMA_VERSION}`,
      );
    }
    const db = this.db;
    this.stmts = {
      series: db.prepare('SELECT series_id AS id, device, metric FROM latest'),
      // A series has a reading in [start, end] when its latest one is in it; none when its latest is
      // before start; else when one of its 1 h buckets there spans part of it (first_ts..last_ts).
      // One row of latest and an index range of rollup_1h(series_id, bucket) per series, never the
      // raw rows. Every reading is in a 1 h bucket (v2-schema.ts invariants); rollups outlive raw rows.
      seriesIn: db.prepare(
        `SELECT l.series_id AS id, l.device, l.metric FROM latest l
          WHERE l.ts BETWEEN :start AND :end
             OR l.ts > :end AND EXISTS (
                  SELECT 1 FROM rollup_1h r WHERE r.series_id = l.series_id
                     AND r.bucket >= :from AND r.bucket <= :end
                     AND r.last_ts >= :start AND r.first_ts <= :end)`,
      ),
      latest: db.prepare('SELECT device, metric, ts, value FROM latest'),
      // One key of the message's readings: ->> with the name as a quoted JSON path label reads it
      // without expanding the object into rows as json_each does (~15% less CPU for the bench's
      // query mix, rows as arrays included).
      // The messages(device, ts, identity) index narrows the rows first. NULL: no such reading.
      // Readings of one ts in stored order: inline() below.
      inline: db
        .prepare<unknown[], [number, number | null]>(
          `SELECT m.ts, CAST(m.readings ->> ? AS REAL) FROM messages m
            WHERE m.device IS ? AND m.ts > ? AND m.ts <= ? ORDER BY m.ts`,
        )
        .raw(true),
      inlineById: db
        .prepare<unknown[], [number, number | null]>(
          `SELECT m.ts, CAST(m.readings ->> ? AS REAL) FROM messages m
            WHERE m.device IS ? AND m.ts > ? AND m.ts <= ? ORDER BY m.ts, m.id`,
        )
        .raw(true),
      // A label cannot hold every character (not ", and \ and control characters are better not
      // trusted to the path parser): such names are matched by json_each, key by key.
      inlineEach: db
        .prepare<unknown[], [number, number]>(
          `SELECT m.ts, CAST(j.value AS REAL) FROM messages m, json_each(m.readings) j
            WHERE m.device IS ? AND m.ts > ? AND m.ts <= ? AND m.readings IS NOT NULL AND j.key = ?
            ORDER BY m.ts`,
        )
        .raw(true),
      inlineEachById: db
        .prepare<unknown[], [number, number]>(
          `SELECT m.ts, CAST(j.value AS REAL) FROM messages m, json_each(m.readings) j
            WHERE m.device IS ? AND m.ts > ? AND m.ts <= ? AND m.readings IS NOT NULL AND j.key = ?
            ORDER BY m.ts, m.id`,
        )
        .raw(true),
      apart: db.prepare(
        `SELECT ts, value FROM readings_at WHERE device IS ? AND metric = ? AND ts > ? AND ts <= ? ORDER BY ts`,
      ),
    };
    // BEGIN … COMMIT on a read-only connection: a read transaction, nothing to write or roll back.
    // The cache is brought to each new transaction's snapshot at its first points() call.
    const tx = db.transaction((fn: () => unknown) => {
      this.cacheSynced = false;
      return fn();
    });
    this.inSnapshot = <T>(fn: () => T): T => (db.inTransaction ? fn() : (tx(fn) as T));
    this.cache =
      opts.cache && opts.cache.maxBytes > 0 && RecentCache.supported(db)
        ? new RecentCache(db, opts.cache, (d, m, a, u) => this.inline(d, m, a, u))
        : undefined;
  }

  /** The recent-readings cache's counters; undefined when there is none. */
  cacheStats(): RecentCacheStats | undefined {
    return this.cache?.stats();
  }

  /**
   * Runs `fn` (a whole query) inside one read transaction. Its statements then all read the same
   * snapshot (every series of a range query ends at the same commit), and the connection's page
   * cache lasts for the whole query. Outside a transaction each statement is one of its own, and
   * in WAL mode a reader discards its page cache when it begins one after another connection's
   * commit, which the writer makes every batch.maxDelayMs (10 ms) when messages trickle in: a
   * query over 100 series read its pages from the OS again for nearly every series (the
   * bench's query mix with a commit every 5–10 ms: 2.7–3.7× the CPU; BENCHMARKS.md, stop 19). The
   * WAL cannot be checkpointed past a snapshot while it is held: a job is bounded by
   * query.timeoutMs.
   */
  snapshot<T>(fn: () => T): T {
    return this.inSnapshot(fn);
  }

  listSeries(range?: TimeRange): SeriesId[] {
    if (range) {
      const from = Math.floor(range.start / ROLLUP_MS['1h']) * ROLLUP_MS['1h'];
      return this.stmts.seriesIn.all({ start: range.start, end: range.end, from }).map((r) => {
        const s = { device: r.device ?? '', metric: r.metric };
        this.ids.set(key(s), r.id);
        return s;
      });
    }
    this.ids.clear();
    return this.stmts.series.all().map((r) => {
      const s = { device: r.device ?? '', metric: r.metric };
      this.ids.set(key(s), r.id);
      return s;
    });
  }

  points(s: SeriesId, after: number, until: number): Points {
    const device = s.device === '' ? null : s.device;
    const cache = this.cache;
    let inline: Points;
    if (!cache) inline = this.inline(device, s.metric, after, until);
    else {
      // The cache must see the snapshot the rest of the answer reads: in the job's transaction.
      if (!this.db.inTransaction) return this.inSnapshot(() => this.points(s, after, until));
      if (!this.cacheSynced) {
        cache.sync();
        this.cacheSynced = true;
      }
      inline = cache.points(device, s.metric, after, until);
    }
    const apart = this.stmts.apart.all(device, s.metric, after, until);
    return apart.length === 0 ? inline : mergeByTs(inline, apart);
  }

  /**
   * The readings held in the messages' readings JSON, after < ts ≤ until, from SQL. Readings of one
   * ts come in the order their messages were stored (id): the last one stored is the last at that
   * ts (last_over_time, a step's value), and the workers' caches of recent readings
   * (recent-cache.ts) keep that order as messages arrive, with no read back. The index gives ts
   * order, then identity; `ORDER BY ts, id` costs a sorter over every row (+14–53% CPU on the
   * bench's query mix, BENCHMARKS.md "Query cache, stop 20"), so it is asked only for a series
   * whose readings turn out to share a ts: rare but for devices with whole-second clocks sending
   * several a second, or bursts within a millisecond.
   */
  private inline(device: string | null, metric: string, after: number, until: number): Points {
    const simple = simpleKey(metric);
    let r = this.inlineRows(simple, false, device, metric, after, until);
    if (r.tied) r = this.inlineRows(simple, true, device, metric, after, until);
    return { ts: r.ts, values: r.values };
  }

  private inlineRows(
    simple: boolean,
    byId: boolean,
    device: string | null,
    metric: string,
    after: number,
    until: number,
  ): Points & { tied: boolean } {
    const st = this.stmts;
    // Rows as [ts, value] arrays, not an object each: fewer allocations per reading.
    const rows = simple
      ? (byId ? st.inlineById : st.inline).all(label(metric), device, after, until)
      : (byId ? st.inlineEachById : st.inlineEach).all(device, after, until, metric);
    const ts: number[] = [];
    const values: number[] = [];
    let tied = false;
    for (const [t, v] of rows) {
      // A message of this device without this metric.
      if (v === null) continue;
      if (ts.length > 0 && ts[ts.length - 1] === t) tied = true;
      ts.push(t);
      values.push(v);
    }
    return { ts, values, tied };
  }

  buckets(
    series: readonly SeriesId[],
    rollup: Rollup,
    from: number,
    to: number,
    fields: readonly BucketField[],
  ): BucketColumns[] {
    if (this.ids.size === 0) this.listSeries();
    const ids = series.map((s) => this.ids.get(key(s)));
    const cols = series.map(() => new Columns(fields.length));
    const st = this.bucketStmt(rollup, fields);
    ids.forEach((id, i) => {
      if (id === undefined) return;
      const c = cols[i] as Columns;
      for (const r of st.all(id, from, to)) c.push(r);
    });
    return cols.map((c) => c.done(fields));
  }

  /** An index range of (series_id, bucket), then a lookup into the table for each bucket. */
  private bucketStmt(
    rollup: Rollup,
    fields: readonly BucketField[],
  ): Database.Statement<unknown[], number[]> {
    const k = `${rollup} ${fields.join(',')}`;
    let st = this.bucketStmts.get(k);
    if (!st) {
      // fields are BucketField names only (typed), never user text. Raw rows (arrays): no object
      // with named keys per bucket.
      st = this.db
        .prepare<unknown[], number[]>(
          `SELECT bucket${fields.map((f) => `, ${f}`).join('')} FROM rollup_${rollup}
            WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
        )
        .raw(true);
      this.bucketStmts.set(k, st);
    }
    return st;
  }

  latest(): LatestReading[] {
    return this.stmts.latest.all().map((r) => ({ ...r, device: r.device ?? '' }));
  }

  /** The read-only connection, for the status page's own reads (status-data.ts). */
  handle(): Database.Database {
    return this.db;
  }

  close(): void {
    this.db.close();
  }
}

/** Bucket rows gathered as columns. */
class Columns {
  readonly start: number[] = [];
  readonly cols: number[][];
  constructor(n: number) {
    this.cols = Array.from({ length: n }, () => []);
  }
  /** A raw row: bucket, then the fields. */
  push(r: number[]): void {
    this.start.push(r[0] as number);
    for (let f = 0; f < this.cols.length; f++) (this.cols[f] as number[]).push(r[1 + f] as number);
  }
  done(fields: readonly BucketField[]): BucketColumns {
    return { start: this.start, fields: Object.fromEntries(fields.map((f, i) => [f, this.cols[i]])) };
  }
}

function key(s: SeriesId): string {
  return `${s.device}\u0000${s.metric}`;
}

/** Readings of a series in order of ts; at equal ts, the message's first. */
function mergeByTs(a: Points, b: readonly { ts: number; value: number }[]): Points {
  const ts: number[] = [];
  const values: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ts.length || j < b.length) {
    const r = b[j];
    if (r === undefined || (i < a.ts.length && (a.ts[i] as number) <= r.ts)) {
      ts.push(a.ts[i] as number);
      values.push(a.values[i++] as number);
    } else {
      ts.push(r.ts);
      values.push(r.value);
      j++;
    }
  }
  return { ts, values };
}
