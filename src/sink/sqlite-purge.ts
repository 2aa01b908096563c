/**
 * Deletes old rows in small transactions: the SQLite side of retention and the disk budget.
 * Runs on whichever connection it is given: the daemon's writer connection inside the SQLite
 * worker (between batches: the batch writer's mutex decides when, see retention/scheduler.ts),
 * or the operator's own connection in `mqlite purge` / `mqlite vacuum`.
 *
 * Every step is one IMMEDIATE transaction of at most `maxRows` rows, and each is a range on an
 * key, never a scan: raw messages by rowid window (messages.id grows with arrival), dead letters
 * the same way, rollups by their clustered (bucket, series_id) key. No foreign keys, no cascades: a
 * message's readings live in its row (storage v2); the rare ones with their own timestamp are in
 * readings_at, deleted by the same id range through readings_at_message (message_id, …). Rollups
 * and `latest` are never touched by a raw purge (v2-schema.ts invariants).
 */
import type Database from 'better-sqlite3';
import { errorCode } from '../lib/errors.js';
import type { MaintenanceOp, MaintenanceResult, PurgeStats, StepResult, TierTable } from './purge-types.js';

export type { MaintenanceOp, MaintenanceResult, PurgeStats, StepResult } from './purge-types.js';

/** Rollup tiers: tables clustered on (bucket, series_id), bucket in ms since epoch. */
const TIER_TABLES: Record<TierTable, string> = { rollup5m: 'rollup_5m', rollup1h: 'rollup_1h' };

/** Tables holding rows per message, keyed by a leading message_id: readings_at (v2), samples (v1). */
const CHILD_TABLES = ['readings_at', 'samples'];

export class SqlitePurge {
  private readonly children: string[];
  private readonly hasProtect: boolean;
  private readonly hasMeta: boolean;
  private readonly tiers: Partial<Record<TierTable, string>> = {};

  constructor(private readonly db: Database.Database) {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]).map(
        (r) => r.name,
      ),
    );
    this.children = CHILD_TABLES.filter((t) => tables.has(t));
    this.hasProtect = tables.has('purge_protect');
    this.hasMeta = tables.has('mqlite_meta');
    for (const [tier, t] of Object.entries(TIER_TABLES) as [TierTable, string][]) {
      if (tables.has(t)) this.tiers[tier] = t;
    }
  }

  run(op: MaintenanceOp): MaintenanceResult {
    if (op.kind === 'stats' || op.kind === 'wal-limit' || op.kind === 'cache-size') return this.dispatch(op);
    // A purge step's commit need not be durable on its own: if power fails before the next fsync,
    // the rows come back and the next pass deletes them again. In WAL mode the next FULL commit (the
    // next batch) fsyncs the log up to and including this step's frames; skipping this one's fsync
    // halves what a step costs the writer. Restored before any batch runs (same thread, synchronous).
    // (The WAL checkpoint a commit runs past wal_autocheckpoint stays where it falls: deferring it
    // lets the WAL grow, and on a full disk a purge needs WAL space to free any.)
    const sync = Number(this.db.pragma('synchronous', { simple: true }));
    if (sync > 1) this.db.pragma('synchronous = NORMAL');
    try {
      return this.dispatch(op);
    } catch (err) {
      // The disk is full and this step could not even log its deletes. A checkpoint that truncates
      // the WAL gives its space back to the volume (when no reader holds it), so the next try can.
      if (errorCode(err)?.startsWith('SQLITE_FULL')) this.truncateWal();
      throw err;
    } finally {
      if (sync > 1) this.db.pragma(`synchronous = ${sync}`);
    }
  }

  private dispatch(op: MaintenanceOp): MaintenanceResult {
    switch (op.kind) {
      case 'stats':
        return { kind: 'stats', stats: this.stats() };
      case 'raw-older':
        return { kind: 'step', step: this.purgeRaw(op.maxRows, op.fromId, op.beforeTs) };
      case 'raw-oldest':
        return { kind: 'step', step: this.purgeRaw(op.maxRows, undefined, undefined) };
      case 'dead-letters-older':
        return { kind: 'step', step: this.purgeDeadLetters(op.maxRows, op.fromId, op.beforeTs) };
      case 'tier-older':
        return { kind: 'step', step: this.purgeTier(op.tier, op.maxRows, op.beforeTs) };
      case 'vacuum':
        return { kind: 'step', step: this.vacuum(op.pages) };
      case 'wal-limit':
        return { kind: 'step', step: this.walLimit(op.pages) };
      case 'cache-size':
        return { kind: 'step', step: this.cacheSize(op.kib) };
    }
  }

  stats(): PurgeStats {
    const n = (sql: string): number => Number(this.db.pragma(sql, { simple: true }));
    const first = this.db.prepare('SELECT id, ts FROM messages ORDER BY id LIMIT 1').get() as
      | { id: number; ts: number }
      | undefined;
    const last = this.db.prepare('SELECT max(id) AS id FROM messages').get() as { id: number | null };
    return {
      pageSize: n('page_size'),
      pageCount: n('page_count'),
      freelistCount: n('freelist_count'),
      incremental: n('auto_vacuum') === 2,
      oldestRawTs: first?.ts ?? null,
      oldestRawId: first?.id ?? null,
      newestRawId: last.id,
      protectedAfterId: this.protectedAfterId(),
    };
  }

  /**
   * Messages with id > this are kept: the lowest cursor of every consumer registered in
   * purge_protect (a forwarder advances its row after the remote end committed). null: none.
   */
  private protectedAfterId(): number | null {
    if (!this.hasProtect) return null;
    const r = this.db.prepare('SELECT min(after_id) AS id FROM purge_protect').get() as { id: number | null };
    return r.id;
  }

  /**
   * One window of raw messages [from, from + maxRows), deleting those older than beforeTs (or all
   * of them for the budget). Never the newest row: INTEGER PRIMARY KEY reuses max(id)+1, and ids
   * must keep growing for forwarder cursors. Never past the protection cursor.
   */
  private purgeRaw(maxRows: number, fromId: number | undefined, beforeTs: number | undefined): StepResult {
    const started = performance.now();
    const freeBefore = this.freelist();
    let rows = 0;
    let nextId: number | null = null;
    let blocked = false;
    this.db
      .transaction(() => {
        const s = this.stats();
        if (s.oldestRawId === null || s.newestRawId === null) return;
        const lo = Math.max(fromId ?? s.oldestRawId, s.oldestRawId);
        let limit = s.newestRawId - 1;
        if (s.protectedAfterId !== null && s.protectedAfterId < limit) {
          limit = s.protectedAfterId;
          blocked = lo > limit;
        }
        if (lo > limit) return;
        const hi = Math.min(lo + maxRows - 1, limit);
        // Every row this step deletes has ts < beforeTs, or ≤ the window's newest ts for the budget.
        const horizon =
          beforeTs ??
          (this.db.prepare('SELECT max(ts) FROM messages WHERE id BETWEEN ? AND ?').pluck().get(lo, hi) as
            | number
            | null) ??
          0;
        const info =
          beforeTs === undefined
            ? this.db.prepare('DELETE FROM messages WHERE id BETWEEN ? AND ?').run(lo, hi)
            : this.db
                .prepare('DELETE FROM messages WHERE id BETWEEN ? AND ? AND ts < ?')
                .run(lo, hi, beforeTs);
        rows = info.changes;
        if (rows > 0) {
          // The window's readings with their own timestamps: those whose message is gone.
          for (const t of this.children) {
            this.db
              .prepare(
                `DELETE FROM ${t} WHERE message_id BETWEEN ? AND ?
                   AND message_id NOT IN (SELECT id FROM messages WHERE id BETWEEN ? AND ?)`,
              )
              .run(lo, hi, lo, hi);
          }
          this.notePurged(horizon);
        }
        nextId = hi < limit ? hi + 1 : null;
      })
      .immediate();
    // A window with nothing old in it ends an age pass: ids follow arrival, so what lies beyond is newer.
    const more = nextId !== null && (beforeTs === undefined || rows > 0);
    return this.result(rows, freeBefore, started, nextId, more, blocked);
  }

  /**
   * Tells readers that raw rows went (the query workers' caches of recent readings,
   * src/query/recent-cache.ts): raw_purge_seq counts the steps that deleted messages, raw_purged_ts
   * is a ts no deleted message was ever newer than. Written in the deleting transaction, so a reader
   * sees both or neither. Rounded up: a fractional ts must not end up above the horizon.
   */
  private notePurged(horizon: number): void {
    if (!this.hasMeta) return;
    const get = this.db.prepare('SELECT value FROM mqlite_meta WHERE key = ?').pluck();
    const set = this.db.prepare(
      'INSERT INTO mqlite_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    const seq = Number(get.get('raw_purge_seq') ?? 0);
    const ts = get.get('raw_purged_ts') as string | undefined;
    set.run('raw_purge_seq', String(seq + 1));
    set.run('raw_purged_ts', String(Math.max(ts === undefined ? -Infinity : Number(ts), Math.ceil(horizon))));
  }

  private purgeDeadLetters(maxRows: number, fromId: number | undefined, beforeTs: number): StepResult {
    const started = performance.now();
    const freeBefore = this.freelist();
    let rows = 0;
    let nextId: number | null = null;
    this.db
      .transaction(() => {
        const r = this.db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM dead_letters').get() as {
          lo: number | null;
          hi: number | null;
        };
        if (r.lo === null || r.hi === null) return;
        const lo = Math.max(fromId ?? r.lo, r.lo);
        const hi = Math.min(lo + maxRows - 1, r.hi);
        rows = this.db
          .prepare('DELETE FROM dead_letters WHERE id BETWEEN ? AND ? AND received_at < ?')
          .run(lo, hi, beforeTs).changes;
        nextId = hi < r.hi ? hi + 1 : null;
      })
      .immediate();
    return this.result(rows, freeBefore, started, nextId, nextId !== null && rows > 0, false);
  }

  private purgeTier(tier: TierTable, maxRows: number, beforeTs: number): StepResult {
    const started = performance.now();
    const freeBefore = this.freelist();
    const t = this.tiers[tier];
    let rows = 0;
    if (t !== undefined) {
      this.db
        .transaction(() => {
          // Whole buckets from the left edge of the clustered key, up to the bucket where the
          // maxRows-th row is (so at most maxRows + one bucket's series), and never past the cut-off.
          rows = this.db
            .prepare(
              `DELETE FROM ${t} WHERE bucket < ? AND bucket <=
                 coalesce((SELECT bucket FROM ${t} ORDER BY bucket LIMIT 1 OFFSET ?), ?)`,
            )
            .run(beforeTs, maxRows - 1, beforeTs).changes;
        })
        .immediate();
    }
    return this.result(rows, freeBefore, started, null, rows >= maxRows, false);
  }

  /** Hands up to `pages` free pages back to the file system (auto_vacuum=INCREMENTAL only). */
  private vacuum(pages: number): StepResult {
    const started = performance.now();
    const before = Number(this.db.pragma('page_count', { simple: true }));
    // exec, not prepare().run(): the pragma yields one (column-less) row per page, and run() would
    // step once, freeing a single page; sqlite3_exec steps it to the end. Autocommit: one transaction.
    this.db.exec(`PRAGMA incremental_vacuum(${Math.max(0, Math.trunc(pages))})`);
    const after = Number(this.db.pragma('page_count', { simple: true }));
    const pageSize = Number(this.db.pragma('page_size', { simple: true }));
    return {
      rows: 0,
      bytes: (before - after) * pageSize,
      seconds: (performance.now() - started) / 1000,
      nextId: null,
      more: after < before && Number(this.db.pragma('freelist_count', { simple: true })) > 0,
      blocked: false,
    };
  }

  /**
   * The WAL grows to wal_autocheckpoint pages (4000, ~16 MB: store.ts) before a checkpoint, and a
   * checkpoint does not shrink the file. On a volume of a few tens of MB that alone fills it, and a
   * purge, which writes to the WAL too, could not help. Lowering both bounds the WAL; only called when
   * the volume is small (retention/scheduler.ts), so larger disks keep the faster setting.
   */
  private walLimit(pages: number): StepResult {
    const current = Number(this.db.pragma('wal_autocheckpoint', { simple: true }));
    const p = Math.max(16, Math.trunc(pages));
    if (p < current) {
      this.db.pragma(`wal_autocheckpoint = ${p}`);
      this.db.pragma(`journal_size_limit = ${p * Number(this.db.pragma('page_size', { simple: true }))}`);
    }
    return { rows: 0, bytes: 0, seconds: 0, nextId: null, more: false, blocked: false };
  }

  /** The writer's page cache, sized by the SQLite worker to the topics it writes (page-cache.ts). */
  private cacheSize(kib: number): StepResult {
    this.db.pragma(`cache_size = -${Math.max(1, Math.trunc(kib))}`);
    return { rows: 0, bytes: 0, seconds: 0, nextId: null, more: false, blocked: false };
  }

  private truncateWal(): void {
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Best effort on a full disk: the step's own SQLITE_FULL is what the caller reports and retries.
    }
  }

  private freelist(): number {
    return Number(this.db.pragma('freelist_count', { simple: true }));
  }

  private result(
    rows: number,
    freeBefore: number,
    started: number,
    nextId: number | null,
    more: boolean,
    blocked: boolean,
  ): StepResult {
    const pageSize = Number(this.db.pragma('page_size', { simple: true }));
    return {
      rows,
      bytes: Math.max(0, this.freelist() - freeBefore) * pageSize,
      seconds: (performance.now() - started) / 1000,
      nextId,
      more,
      blocked,
    };
  }
}
