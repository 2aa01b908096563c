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
    inline: Stmt<{ ts: number; value: number }>;
    apart: Stmt<{ ts: number; value: number }>;
  };

  constructor(path: string, opts: { busyTimeoutMs?: number } = {}) {
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
      // json_each rather than json_extract: a metric name may hold any character, and a JSON path
      // cannot quote every one of them. The messages(device, ts) index narrows the rows first.
      inline: db.prepare(
        `SELECT m.ts AS ts, CAST(j.value AS REAL) AS value FROM messages m, json_each(m.readings) j
          WHERE m.device IS ? AND m.ts > ? AND m.ts <= ? AND m.readings IS NOT NULL AND j.key = ?
          ORDER BY m.ts`,
      ),
      apart: db.prepare(
        `SELECT ts, value FROM readings_at WHERE device IS ? AND metric = ? AND ts > ? AND ts <= ? ORDER BY ts`,
      ),
    };
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
    const inline = this.stmts.inline.all(device, after, until, s.metric);
    const apart = this.stmts.apart.all(device, s.metric, after, until);
    const rows = apart.length === 0 ? inline : mergeByTs(inline, apart);
    const ts = new Array<number>(rows.length);
    const values = new Array<number>(rows.length);
    rows.forEach((r, i) => {
      ts[i] = r.ts;
      values[i] = r.value;
    });
    return { ts, values };
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

function mergeByTs<R extends { ts: number }>(a: R[], b: R[]): R[] {
  const out: R[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && (a[i] as R).ts <= (b[j] as R).ts)) out.push(a[i++] as R);
    else out.push(b[j++] as R);
  }
  return out;
}
