/**
 * Feeds a query worker's RecentReadings (recent-readings.ts) from SQLite, inside the job's read
 * transaction, and decides what it covers. A dashboard re-asks the same recent range every refresh;
 * without this every query read every reading of its range again (one table row per reading through
 * the messages(device, ts) index: 70–160 ms of CPU a query of the bench's mix, BENCHMARKS.md).
 *
 * Exact, not approximate: for a held series the cache holds every inline reading of its device's
 * messages with ts > coverFrom and id ≤ lastId, which is every message of the snapshot, because:
 *   - sync(), the first thing a job does with it, reads `messages WHERE id > lastId` in the job's own
 *     read transaction: ids only grow (INTEGER PRIMARY KEY takes max(id) + 1, and purges never delete
 *     the newest row, sqlite-purge.ts), so those are every message stored since; a late reading
 *     (older ts, newer id) is put in its place by ts;
 *   - a series is read on first need by the uncached statement itself, in the same snapshot;
 *   - values are SQLite's: the refresh picks the held metrics with the uncached statement's own
 *     `CAST(readings ->> '$."m"' AS REAL)` (json_each past PICK_MAX names or for names a label
 *     cannot hold, as the uncached read does). JSON.parse would differ: "-0" is -0 in JavaScript, 0
 *     in SQLite. Keys are unique within a message's readings (v2-schema.ts), so json_each and `->>`
 *     see the same readings;
 *   - readings of one series at one ts keep the uncached statement's order, (ts, id): a series is
 *     read ORDER BY ts, id, a refresh reads by id (every new id above the held ones), and a reading
 *     goes after those of equal ts already held (series-column.ts);
 *   - deletes are noticed: every raw purge (retention, disk budget, `mqlite purge`) bumps
 *     mqlite_meta.raw_purge_seq and raises raw_purged_ts to the newest ts it deleted, in its own
 *     transaction (src/sink/sqlite-purge.ts). Nothing after raw_purged_ts was ever deleted, so
 *     trimming to it keeps the cache exact; a raw_purged_ts in the future (a device clock ahead)
 *     clears it instead.
 * A range reaching before coverFrom reads that part from SQL.
 *
 * Bounded: a memory budget (query.cache.maxBytes); over it the covered span halves, and at its
 * minimum the cache is off for a while. Rows read per refresh are bounded too: past
 * REFRESH_MAX_ROWS new messages the cache starts over (each series read again when asked).
 */
import type Database from 'better-sqlite3';
import type { Points } from './data.js';
import { SLOT_BYTES } from './series-column.js';
import { label, simpleKey } from './json-label.js';
import { type ReadSeries, RecentReadings } from './recent-readings.js';

export interface RecentCacheSettings {
  /** Memory budget of this worker's cache; 0 turns it off (the reader then makes none). */
  readonly maxBytes: number;
  /** Wall clock, ms (tests inject one). */
  readonly now?: () => number;
}

export interface RecentCacheStats {
  /** Series answered all from the cache, partly (the older part from SQL), or all from SQL. */
  readonly hits: number;
  readonly partial: number;
  readonly misses: number;
  /** Times the cache started over (a purge in the future, a burst, the budget, an error). */
  readonly clears: number;
  readonly bytes: number;
  readonly coverFrom: number;
}

/** A span never shrinks below this; a budget too small even for it turns the cache off a while. */
const MIN_SPAN_MS = 5 * 60_000;
/**
 * Nor grows past this: "last 6 h" with a window is the longest range the evaluator answers from raw
 * readings whatever the window (evaluator.ts RAW_SPAN_MS); longer ones mostly use the rollups.
 */
const MAX_SPAN_MS = 7 * 3_600_000;
/** A new span covers this much more than the range asked, so that the next refresh fits in it. */
const SPAN_HEADROOM = 1.25;
/** New messages read by one refresh at most; beyond, starting over reads only the covered ranges. */
const REFRESH_MAX_ROWS = 200_000;
/** Metrics one refresh statement picks at most; more are read with json_each. */
const PICK_MAX = 32;
/** Refresh statements kept prepared (the set of metrics held changes seldom). */
const PICK_STATEMENTS = 8;
/** Off this long after an error, or when MIN_SPAN_MS does not fit the budget. */
const COOLDOWN_MS = 10 * 60_000;

interface Stmt<R> {
  get(...params: unknown[]): R | undefined;
  iterate(...params: unknown[]): IterableIterator<R>;
}

export class RecentCache {
  private readonly data: RecentReadings;
  private readonly now: () => number;
  private readonly stmts: {
    maxId: Stmt<[number | null]>;
    purged: Stmt<[string | null, string | null]>;
    refresh: Stmt<[string | null, number, unknown, number | null]>;
  };
  /** undefined until a query asks for recent readings. */
  private span: number | undefined;
  private lastId = 0;
  private purgeSeq: string | null | undefined;
  private disabledUntil = 0;
  /** The last sync() succeeded: lastId is this transaction's. A failed one leaves the cache unused. */
  private synced = false;
  /** Refresh statements by the set of metrics they pick (pickStmt). */
  private readonly picks = new Map<string, Stmt<unknown[]>>();
  private counts = { hits: 0, partial: 0, misses: 0, clears: 0 };

  /**
   * `read` is the uncached read of a series' inline readings (SqliteReader's own statements): a
   * series starts from exactly what it answers.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly settings: RecentCacheSettings,
    private readonly read: ReadSeries,
  ) {
    this.now = settings.now ?? Date.now;
    this.data = new RecentReadings(this.now());
    const raw = <R>(sql: string): Stmt<R> => db.prepare(sql).raw(true) as unknown as Stmt<R>;
    this.stmts = {
      maxId: raw('SELECT max(id) FROM messages'),
      purged: raw(
        `SELECT (SELECT value FROM mqlite_meta WHERE key = 'raw_purge_seq'),
                (SELECT value FROM mqlite_meta WHERE key = 'raw_purged_ts')`,
      ),
      // By rowid: the messages stored since the last job, every device, every metric (the fallback
      // of pickStmt).
      refresh: raw(
        `SELECT m.device, m.ts, j.key, CAST(j.value AS REAL) FROM messages m, json_each(m.readings) j
          WHERE m.id > ? AND m.id <= ? AND m.ts > ? ORDER BY m.id`,
      ),
    };
  }

  /** Whether a database has what the cache relies on: mqlite_meta (schema 6), no migration under way. */
  static supported(db: Database.Database): boolean {
    const names = new Set(
      (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]).filter(
        (n) => n === 'mqlite_meta' || n === 'mqlite_migration',
      ),
    );
    return names.has('mqlite_meta') && !names.has('mqlite_migration');
  }

  stats(): RecentCacheStats {
    return { ...this.counts, bytes: this.data.bytes, coverFrom: this.data.coverFrom };
  }

  /**
   * Brings the cache to the snapshot of the read transaction it is called in; call it once per
   * transaction, before points().
   */
  sync(): void {
    this.synced = false;
    try {
      this.syncNow();
      this.synced = true;
    } catch {
      // A read failing here (a malformed row?) fails no query: they read SQL while the cache is off.
      this.off();
    }
  }

  /** The inline readings of a series, after < ts ≤ until: from the cache where it covers them. */
  points(device: string | null, metric: string, after: number, until: number): Points {
    let cached: Points | undefined;
    let from = 0;
    try {
      const now = this.now();
      if (this.synced && now >= this.disabledUntil) {
        this.want(after, until, now);
        from = this.data.coverFrom;
        if (until > from && (this.data.has(device, metric) || this.build(device, metric)))
          cached = this.data.points(device, metric, Math.max(after, from), until);
      }
    } catch {
      this.off();
      cached = undefined;
    }
    if (!cached) {
      this.counts.misses++;
      return this.read(device, metric, after, until);
    }
    if (after >= from) {
      this.counts.hits++;
      return cached;
    }
    this.counts.partial++;
    const older = this.read(device, metric, after, from);
    return { ts: [...older.ts, ...cached.ts], values: [...older.values, ...cached.values] };
  }

  private syncNow(): void {
    const now = this.now();
    const [seq, purgedTs] = this.stmts.purged.get() ?? [null, null];
    if (this.purgeSeq !== undefined && seq !== this.purgeSeq && purgedTs !== null) {
      const h = Number(purgedTs);
      // Held readings after coverFrom may be gone; an empty cache reads this snapshot anyway.
      if (h > this.data.coverFrom && this.data.seriesCount > 0) {
        if (h <= now) this.data.trim(h);
        else this.clear(now);
      }
    }
    this.purgeSeq = seq;
    const maxId = this.stmts.maxId.get()?.[0] ?? 0;
    if (this.data.seriesCount > 0 && maxId > this.lastId) {
      if (maxId - this.lastId > REFRESH_MAX_ROWS) this.clear(now);
      else if (!this.refresh(maxId)) {
        this.clear(now);
        this.shrink(now);
      }
    }
    this.lastId = maxId;
    if (this.span !== undefined) this.data.trim(now - this.span);
  }

  /** Applies the messages with lastId < id ≤ maxId; false when that went over the budget. */
  private refresh(maxId: number): boolean {
    const metrics = this.data.metrics();
    const pick = this.pickStmt(metrics);
    if (pick) {
      for (const row of pick.iterate(...metrics.map(label), this.lastId, maxId, this.data.coverFrom)) {
        const device = row[0] as string | null;
        const ts = row[1] as number;
        for (let k = 0; k < metrics.length; k++) {
          const value = row[2 + k];
          // A message without this metric (or JSON null).
          if (value === null) continue;
          this.data.add(device, metrics[k] as string, ts, value as number);
        }
        if (this.data.bytes > this.settings.maxBytes) return false;
      }
      return true;
    }
    for (const [device, ts, key, value] of this.stmts.refresh.iterate(
      this.lastId,
      maxId,
      this.data.coverFrom,
    )) {
      // Not an object's member (readings an array or a scalar), or JSON null: no reading, as in SQL.
      if (typeof key !== 'string' || value === null) continue;
      this.data.add(device, key, ts, value);
      if (this.data.bytes > this.settings.maxBytes) return false;
    }
    return true;
  }

  /**
   * The held metrics picked out of each new message with `->>`, one row per message: the uncached
   * statement's own expression, and half the CPU of expanding every reading with json_each
   * (BENCHMARKS.md, "Query cache, stop 20"). undefined: too many names, or one a label cannot hold.
   */
  private pickStmt(metrics: readonly string[]): Stmt<unknown[]> | undefined {
    if (metrics.length === 0 || metrics.length > PICK_MAX || !metrics.every(simpleKey)) return undefined;
    const k = metrics.join('\u0000');
    let st = this.picks.get(k);
    if (!st) {
      if (this.picks.size >= PICK_STATEMENTS) this.picks.clear();
      st = this.db
        .prepare(
          `SELECT m.device, m.ts${metrics.map(() => ', CAST(m.readings ->> ? AS REAL)').join('')}
             FROM messages m WHERE m.id > ? AND m.id <= ? AND m.ts > ? ORDER BY m.id`,
        )
        .raw(true) as unknown as Stmt<unknown[]>;
      this.picks.set(k, st);
    }
    return st;
  }

  /**
   * The span follows the ranges asked: the first sets it, a longer one widens it (reading the
   * older part of every held series) if it fits.
   */
  private want(after: number, until: number, now: number): void {
    // A range wholly older than anything the cache could hold is SQL's alone and changes nothing.
    if (until <= now - MAX_SPAN_MS) return;
    const reach = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, Math.ceil((now - after) * SPAN_HEADROOM)));
    if (this.span === undefined) {
      this.span = reach;
      this.clear(now);
    } else if (after < this.data.coverFrom && reach > this.span && this.fits(reach)) {
      this.span = reach;
      this.data.extend(now - reach, this.read);
      if (this.data.bytes > this.settings.maxBytes) this.shrink(now);
    }
  }

  /** Whether the cache, at its present density, would stay well inside the budget over `span`. */
  private fits(span: number): boolean {
    return this.data.bytes * (span / (this.span ?? span)) <= this.settings.maxBytes * 0.75;
  }

  /**
   * Starts holding a series, from SQL, halving the span while it does not fit; false if it never
   * does. (One read: a shorter span takes the newer part of what was read.)
   */
  private build(device: string | null, metric: string): boolean {
    const p = this.read(device, metric, this.data.coverFrom, Number.POSITIVE_INFINITY);
    for (;;) {
      const from = this.data.coverFrom;
      let n = 0;
      for (let i = p.ts.length - 1; i >= 0 && (p.ts[i] as number) > from; i--) n++;
      // Its slots at most doubled, as the columns grow.
      if (this.data.bytes + 2 * n * SLOT_BYTES <= this.settings.maxBytes) {
        this.data.addSeries(device, metric, p);
        return true;
      }
      if (!this.shrink(this.now())) return false;
    }
  }

  /** Over the budget: half the span (trimming what is held); at the minimum already, off a while. */
  private shrink(now: number): boolean {
    if (this.span === undefined || this.span <= MIN_SPAN_MS) {
      this.off();
      return false;
    }
    this.span = Math.max(MIN_SPAN_MS, Math.floor(this.span / 2));
    this.data.trim(now - this.span);
    return true;
  }

  private clear(now: number): void {
    if (this.data.seriesCount > 0) this.counts.clears++;
    this.data.clear(this.span === undefined ? now : now - this.span);
  }

  private off(): void {
    const now = this.now();
    this.synced = false;
    this.clear(now);
    this.span = undefined;
    this.disabledUntil = now + COOLDOWN_MS;
  }
}
