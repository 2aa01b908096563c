/**
 * Writes a BatchAggregator's content (rollups.ts) into latest, rollup_5m and rollup_1h, inside the
 * caller's transaction: one latest upsert per series and one upsert per series and bucket, merging
 * with the stored row by the rules of rollups.ts mergeBucket. Used by the write path and by the
 * schema-1 → 2 migration, so both count the same way.
 */
import type Database from 'better-sqlite3';
import type { BatchAggregator, Bucket } from './rollups.js';

/** Series ids cached between batches; cleared when full (a re-lookup is one indexed SELECT). */
const SERIES_CACHE_MAX = 100_000;

/**
 * In DO UPDATE SET, bare column names are the stored row's values before the update and `excluded.`
 * the batch's, whatever the order of the assignments (https://sqlite.org/lang_upsert.html).
 */
const upsertBucket = (table: string): string => `
  INSERT INTO ${table} (bucket, series_id, count, sum, min, max, first, first_ts, last, last_ts)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (bucket, series_id) DO UPDATE SET
    count = count + excluded.count,
    sum = sum + excluded.sum,
    min = min(min, excluded.min),
    max = max(max, excluded.max),
    first = CASE WHEN excluded.first_ts < first_ts THEN excluded.first ELSE first END,
    first_ts = min(first_ts, excluded.first_ts),
    last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
    last_ts = max(last_ts, excluded.last_ts)`;

export class RollupWriter {
  private readonly seriesCache = new Map<string | null, Map<string, number>>();
  private cached = 0;
  private readonly selectSeries: Database.Statement<unknown[], { id: number }>;
  private readonly insertSeries: Database.Statement;
  private readonly upsertLatest: Database.Statement;
  private readonly upsert5m: Database.Statement;
  private readonly upsert1h: Database.Statement;

  constructor(db: Database.Database) {
    // `IS`, not `=`: device may be NULL, and UNIQUE(device, metric) treats NULLs as distinct.
    this.selectSeries = db.prepare('SELECT id FROM series WHERE device IS ? AND metric = ?');
    this.insertSeries = db.prepare('INSERT INTO series (device, metric) VALUES (?, ?)');
    // Greater ts wins; on a tie the later-stored message (greater id). An older reading never overwrites.
    this.upsertLatest = db.prepare(
      `INSERT INTO latest (series_id, device, metric, ts, value, message_id) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value = excluded.value, message_id = excluded.message_id
       WHERE excluded.ts > ts OR (excluded.ts = ts AND excluded.message_id > message_id)`,
    );
    this.upsert5m = db.prepare(upsertBucket('rollup_5m'));
    this.upsert1h = db.prepare(upsertBucket('rollup_1h'));
  }

  /** Writes and keeps the aggregator's content (the caller clears it). Must run inside a transaction. */
  write(agg: BatchAggregator): void {
    const rows5m: Row[] = [];
    const rows1h: Row[] = [];
    for (const s of agg.series()) {
      const id = this.seriesId(s.device, s.metric);
      this.upsertLatest.run(id, s.device, s.metric, s.latestTs, s.latestValue, s.latestMessageId);
      for (const b of s.b5m.values()) rows5m.push(row(id, b));
      for (const b of s.b1h.values()) rows1h.push(row(id, b));
    }
    // In primary-key order: a batch spanning many buckets (a backlog, the migration) then walks the
    // table's pages once instead of jumping between them for every series.
    for (const r of rows5m.sort(byKey)) this.upsert5m.run(...r);
    for (const r of rows1h.sort(byKey)) this.upsert1h.run(...r);
  }

  /** After a rollback: series rows inserted by it are gone, and so must their cached ids be. */
  forgetUncommitted(): void {
    this.seriesCache.clear();
    this.cached = 0;
  }

  private seriesId(device: string | null, metric: string): number {
    let metrics = this.seriesCache.get(device);
    const hit = metrics?.get(metric);
    if (hit !== undefined) return hit;
    const found = this.selectSeries.get(device, metric);
    const id = found ? found.id : Number(this.insertSeries.run(device, metric).lastInsertRowid);
    if (this.cached >= SERIES_CACHE_MAX) this.forgetUncommitted();
    metrics = this.seriesCache.get(device);
    if (metrics === undefined) {
      metrics = new Map();
      this.seriesCache.set(device, metrics);
    }
    metrics.set(metric, id);
    this.cached++;
    return id;
  }
}

type Row = [number, number, number, number, number, number, number, number, number, number];

function row(id: number, b: Bucket): Row {
  return [b.bucket, id, b.count, b.sum, b.min, b.max, b.first, b.firstTs, b.last, b.lastTs];
}

/** (bucket, series_id): the tables' primary key. */
function byKey(a: Row, b: Row): number {
  return a[0] - b[0] || a[1] - b[1];
}
