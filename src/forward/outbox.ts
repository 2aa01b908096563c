/**
 * The local side of forwarding, run in the forwarder's worker thread: the SQLite file is the
 * outbox. Reads go through a read-only connection of their own (WAL: a snapshot of committed
 * rows, never blocking the sink's writer). The one write, the purge_protect mirror of the cursor,
 * goes through a second connection: a single-row upsert in its own short transaction, waiting
 * at most busy_timeout for the sink's writer, never routed through the writer's queue (a stuck
 * PostgreSQL must not put anything in the ingestion path).
 *
 * Ids: messages.id is an INTEGER PRIMARY KEY assigned at insert by the single writer, so ids
 * become visible in increasing order and an id below a committed one never appears later. The
 * newest row is never purged (sqlite-purge.ts), so ids never repeat. Reading `id > cursor` in id
 * order therefore sees every message exactly once.
 */
import Database from 'better-sqlite3';
import { type BacklogStats, M, type OutboxBatch, type OutboxMessage, type OutboxReading } from './types.js';

/** purge_protect.consumer of the PostgreSQL forwarder. */
export const PROTECT_CONSUMER = 'forward.postgres';
/** Rows sampled for the backlog's mean size. */
const SIZE_SAMPLE = 200;
/**
 * Rows per .all() while reading a batch: one call per chunk instead of one per row (iterate()
 * costs ~0.45 µs more a row, ~15% of the read). The first chunk is small; later ones are sized so
 * that, for rows no larger than the largest seen so far, the batch's byte bound is not passed.
 */
const CHUNK_ROWS = 1000;
const FIRST_CHUNK_ROWS = 16;

export interface OutboxOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export class Outbox {
  private readonly read: Database.Database;
  private readonly write: Database.Database;
  private readonly stmts;

  constructor(opts: OutboxOptions) {
    this.read = new Database(opts.path, { readonly: true, fileMustExist: true, timeout: opts.busyTimeoutMs });
    this.write = new Database(opts.path, { fileMustExist: true, timeout: opts.busyTimeoutMs });
    // A lost mirror update only protects more: it need not cost the writer an fsync.
    this.write.pragma('synchronous = NORMAL');
    this.stmts = {
      // Columns in the order of types.ts M and R; rows as arrays (.raw()).
      messages: this.read
        .prepare(
          `SELECT id, topic, device, payload, qos, retain, dup, received_at, ts, readings
             FROM messages WHERE id > ? ORDER BY id LIMIT ?`,
        )
        .raw(true),
      readingsAt: this.read
        .prepare(
          `SELECT message_id, device, metric, ts, value
             FROM readings_at WHERE message_id > ? AND message_id <= ? ORDER BY message_id`,
        )
        .raw(true),
      newest: this.read.prepare('SELECT max(id) AS id FROM messages'),
      oldest: this.read.prepare('SELECT received_at AS at FROM messages WHERE id > ? ORDER BY id LIMIT 1'),
      sample: this.read.prepare(
        `SELECT avg(coalesce(length(CAST(payload AS BLOB)), 0) + coalesce(length(readings), 0) + length(topic))
             AS mean FROM (SELECT payload, readings, topic FROM messages WHERE id > ? ORDER BY id LIMIT ${SIZE_SAMPLE})`,
      ),
      protect: this.write.prepare(
        `INSERT INTO purge_protect (consumer, after_id, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (consumer) DO UPDATE SET after_id = excluded.after_id, updated_at = excluded.updated_at`,
      ),
      protectIfNew: this.write.prepare(
        'INSERT INTO purge_protect (consumer, after_id, updated_at) VALUES (?, ?, ?) ON CONFLICT (consumer) DO NOTHING',
      ),
      unprotect: this.write.prepare('DELETE FROM purge_protect WHERE consumer = ?'),
    };
  }

  /** The id generated into the file by schema 6 (sink/migrations/v6-instance.ts). */
  instanceId(): string {
    const r = this.read.prepare("SELECT value FROM mqlite_meta WHERE key = 'instance_id'").get() as
      | { value: string }
      | undefined;
    if (!r) throw new Error('the database has no instance_id (schema 6): start the daemon on it once');
    return r.value;
  }

  /**
   * Messages after `afterId` in id order: at most maxMessages, and stopping once maxBytes is
   * reached (always at least one, so one large message cannot stall the outbox).
   */
  readBatch(afterId: number, maxMessages: number, maxBytes: number): OutboxBatch | undefined {
    const messages: OutboxMessage[] = [];
    let bytes = 0;
    let largest = 0;
    let after = afterId;
    // One read transaction for all statements: readings_at matches the messages read.
    this.read.exec('BEGIN');
    try {
      fill: for (let want = Math.min(FIRST_CHUNK_ROWS, maxMessages); want > 0; ) {
        const rows = this.stmts.messages.all(after, want) as OutboxMessage[];
        for (const r of rows) {
          messages.push(r);
          const size = sizeOf(r);
          bytes += size;
          if (size > largest) largest = size;
          if (bytes >= maxBytes) break fill;
        }
        const last = rows[rows.length - 1];
        if (!last || rows.length < want) break;
        after = last[M.id];
        const byBytes = Math.floor((maxBytes - bytes) / Math.max(1, largest));
        want = Math.min(CHUNK_ROWS, maxMessages - messages.length, Math.max(1, byBytes));
      }
      const last = messages[messages.length - 1];
      if (!last) return undefined;
      const readingsAt = this.stmts.readingsAt.all(afterId, last[M.id]) as OutboxReading[];
      return { afterId, lastId: last[M.id], messages, readingsAt, bytes };
    } finally {
      this.read.exec('COMMIT');
    }
  }

  newestId(): number {
    return (this.stmts.newest.get() as { id: number | null }).id ?? 0;
  }

  backlog(afterId: number, now: number): BacklogStats {
    const newest = this.newestId();
    const rows = Math.max(0, newest - afterId);
    if (rows === 0) return { rows: 0, bytes: 0, oldestAgeSeconds: 0 };
    const oldest = this.stmts.oldest.get(afterId) as { at: number } | undefined;
    const mean = (this.stmts.sample.get(afterId) as { mean: number | null }).mean ?? 0;
    return {
      rows,
      bytes: Math.round(rows * mean),
      oldestAgeSeconds: oldest ? Math.max(0, (now - oldest.at) / 1000) : 0,
    };
  }

  /** Registers the consumer before the first delivery: from then on nothing undelivered is purged. */
  protectFromStart(now: number): void {
    this.stmts.protectIfNew.run(PROTECT_CONSUMER, 0, now);
  }

  protect(afterId: number, now: number): void {
    this.stmts.protect.run(PROTECT_CONSUMER, afterId, now);
  }

  /** protectUndelivered: false: retention may purge what is not yet delivered. */
  unprotect(): void {
    this.stmts.unprotect.run(PROTECT_CONSUMER);
  }

  close(): void {
    this.read.close();
    this.write.close();
  }
}

function sizeOf(r: OutboxMessage): number {
  const p = r[M.payload];
  const payload = p === null ? 0 : typeof p === 'string' ? p.length : p.byteLength;
  return payload + (r[M.readings]?.length ?? 0) + r[M.topic].length;
}
