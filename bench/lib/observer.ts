/**
 * Reads a writer's SQLite file from outside, read-only (WAL lets us read while it writes), the same way for
 * the hand-written baseline and mqlite: completion (last row visible), verification, and publish→commit
 * latency. "Committed" = visible to a reader: we poll for new rows and take the poll time as their commit
 * time, so latency is publish time (payload ts) → first poll that sees the row; it overstates the true
 * commit latency by at most one poll interval plus the query time.
 */
import Database from 'better-sqlite3';
import { percentile } from './stats.js';

const TS = "json_extract(CAST(payload AS TEXT), '$.ts')";
const SEQ = "json_extract(CAST(payload AS TEXT), '$.seq')";

export interface Verification {
  readonly rows: number;
  /** Distinct (device, seq) pairs. */
  readonly distinct: number;
  readonly duplicates: number;
  /** Expected (device, seq) pairs not found. */
  readonly missing: number;
  readonly ok: boolean;
}

export function openReadOnly(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true });
}

/** Highest rowid: O(log n) on an INTEGER PRIMARY KEY table; equals count(*) for an append-only table. */
export function maxRowId(db: Database.Database): number {
  const row = db.prepare('SELECT max(rowid) AS n FROM messages').get() as { n: number | null };
  return row.n ?? 0;
}

export function rowCount(db: Database.Database): number {
  return (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
}

/** Every device must have seq 0..perDevice-1 exactly once. */
export function verifyRows(db: Database.Database, devices: number, perDevice: number): Verification {
  const groups = db
    .prepare(`SELECT topic, count(*) AS n, count(DISTINCT ${SEQ}) AS d, min(${SEQ}) AS lo, max(${SEQ}) AS hi
              FROM messages GROUP BY topic`)
    .all() as { topic: string; n: number; d: number; lo: number; hi: number }[];
  let rows = 0;
  let distinct = 0;
  let inRange = 0;
  for (const g of groups) {
    rows += g.n;
    distinct += g.d;
    // All distinct seqs within [0, perDevice) means they are exactly the expected ones.
    if (g.lo >= 0 && g.hi < perDevice) inRange += g.d;
  }
  const expected = devices * perDevice;
  const missing = expected - inRange;
  return { rows, distinct, duplicates: rows - distinct, missing, ok: missing === 0 && rows === expected };
}

export interface LatencySample {
  readonly n: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Polls for new rows every `intervalMs` and records (poll time - payload ts) for each. */
export class CommitLatencyObserver {
  private readonly latencies: number[] = [];
  private lastId = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly select: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly intervalMs = 2,
  ) {
    this.select = db.prepare(`SELECT rowid, ${TS} FROM messages WHERE rowid > ? ORDER BY rowid`).raw(true);
  }

  start(): void {
    this.lastId = maxRowId(this.db);
    this.timer ??= setInterval(() => this.poll(), this.intervalMs);
  }

  private poll(): void {
    const rows = this.select.all(this.lastId) as [number, number][];
    const now = Date.now();
    for (const [id, ts] of rows) {
      this.latencies.push(now - ts);
      this.lastId = id;
    }
  }

  stop(): LatencySample {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.poll();
    return {
      n: this.latencies.length,
      p50Ms: percentile(this.latencies, 50),
      p90Ms: percentile(this.latencies, 90),
      p99Ms: percentile(this.latencies, 99),
      maxMs: percentile(this.latencies, 100),
    };
  }
}
