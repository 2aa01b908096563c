/**
 * latest and the rollups of the write path, kept in memory between batches and written about once a
 * second under load (store.ts calls it inside and around each batch's transaction).
 *
 * Why in memory: a batch touches every series its devices report: 100 devices x 4 metrics is
 * 1200 upserts (latest, 5 min, 1 h) whatever the batch size, and under load batches settle near
 * 500 messages (the commit takes as long as the next batch takes to arrive), so that was ~2.4 upserts
 * and ~7-9 µs of the worker's ~28 µs per message (store-write bench, batches of 500, rollups on/off).
 * So committed batches' aggregates stay in memory (`pending`) and go to the tables with the batch
 * that comes ROLLUP_FLUSH_MS after the last write of them, or with any batch smaller than
 * ROLLUP_EVERY_BATCH_BELOW (light load: every batch, as before, nothing lags), or once idle.
 *
 * Exactness does not depend on that memory: the `rollups` row of purge_protect holds the id up to
 * which the tables count every stored message, written in the same transaction as the rollups. At
 * open, the messages after it are aggregated again from their stored readings (recover), so
 * a kill -9 loses no count and counts nothing twice; and purge never deletes a message after it.
 * What a reader sees: latest and the rollups lag the messages by at most ~1 s under load.
 */
import type Database from 'better-sqlite3';
import { RollupWriter } from './rollup-writer.js';
import { BatchAggregator } from './rollups.js';

const ROLLUP_FLUSH_MS = 1000;
const ROLLUP_EVERY_BATCH_BELOW = 64;
/** Pending readings that force a write (bounds the memory of a backlog spanning many buckets). */
const ROLLUP_PENDING_MAX_READINGS = 100_000;
/** purge_protect consumer name of the rollups' cursor (v4-one-message-index.ts creates the row). */
const ROLLUP_CURSOR = 'rollups';

export class PendingRollups {
  /**
   * Readings of the messages stored after the rollup cursor, not yet in latest/rollups: committed
   * ones, plus those of the transaction in progress. A transaction that rolls back leaves it wrong,
   * so it is then rebuilt from the database (rebuild): failures are rare, and this way a healthy
   * batch adds each reading once, into buckets that live across batches.
   */
  private readonly pending = new BatchAggregator();
  private readonly writer: RollupWriter;
  /** Greatest messages.id committed (the cursor once pending is written). */
  private committedMaxId = 0;
  /** Greatest messages.id the transaction in progress inserted. */
  private txMaxId = 0;
  /** Whether the transaction in progress writes pending (decided at its end). */
  private txFlushes = false;
  private lastFlush = performance.now();
  private readonly flushMs: number;
  private readonly saveCursor: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    flushMs: number | undefined,
  ) {
    this.writer = new RollupWriter(db);
    this.flushMs = flushMs ?? ROLLUP_FLUSH_MS;
    this.saveCursor = db.prepare(
      'INSERT OR REPLACE INTO purge_protect (consumer, after_id, updated_at) VALUES (?, ?, ?)',
    );
  }

  /** Whether committed readings wait in memory. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** A stored reading of the transaction in progress (after everything that can fail for it). */
  add(device: string | null, metric: string, ts: number, value: number, messageId: number): void {
    this.pending.add(device, metric, ts, value, messageId);
  }

  /** A message the transaction in progress inserted (with or without readings). */
  stored(messageId: number): void {
    if (messageId > this.txMaxId) this.txMaxId = messageId;
  }

  beginTx(): void {
    this.txMaxId = 0;
    this.txFlushes = false;
  }

  /** Inside the batch's transaction: writes latest/rollups now when due. */
  endTx(batchSize: number): void {
    this.txFlushes =
      this.flushMs === 0 ||
      batchSize < ROLLUP_EVERY_BATCH_BELOW ||
      performance.now() - this.lastFlush >= this.flushMs ||
      this.pending.size >= ROLLUP_PENDING_MAX_READINGS;
    if (!this.txFlushes) return;
    if (this.pending.size > 0) this.writer.write(this.pending);
    this.saveCursor.run(ROLLUP_CURSOR, Math.max(this.committedMaxId, this.txMaxId), Date.now());
  }

  /** After the batch's transaction committed. */
  committed(): void {
    this.committedMaxId = Math.max(this.committedMaxId, this.txMaxId);
    if (this.txFlushes) {
      this.pending.clear();
      this.lastFlush = performance.now();
    }
  }

  /** After a transaction rolled back: what it added to memory is not in the database. */
  rolledBack(): void {
    // Series rows inserted by it are gone; so must their cached ids be.
    this.writer.forgetUncommitted();
    this.rebuild(this.cursor());
  }

  /** Writes what is pending in a transaction of its own (idle, maintenance, close). */
  flush(): void {
    if (this.pending.size === 0) return;
    try {
      this.db
        .transaction(() => {
          this.writer.write(this.pending);
          this.saveCursor.run(ROLLUP_CURSOR, this.committedMaxId, Date.now());
        })
        .immediate();
    } catch (err) {
      this.writer.forgetUncommitted();
      throw err;
    }
    this.pending.clear();
    this.lastFlush = performance.now();
  }

  /**
   * At open: the aggregates of messages stored after the rollup cursor (committed by a process that
   * died before writing them) are rebuilt from those messages' readings and written. A missing cursor
   * row (a user deleted it to release purge) counts as "all counted": nothing is replayed.
   */
  recover(): void {
    const max = this.db.prepare('SELECT ifnull(max(id), 0) AS id FROM messages').get() as { id: number };
    this.committedMaxId = max.id;
    const after = this.cursor();
    this.rebuild(after);
    if (this.pending.size > 0) this.flush();
    else if (after !== max.id) this.saveCursor.run(ROLLUP_CURSOR, max.id, Date.now());
  }

  /** The rollups' cursor as stored; undefined when its row is missing. */
  private cursor(): number | undefined {
    const row = this.db.prepare('SELECT after_id FROM purge_protect WHERE consumer = ?').get(ROLLUP_CURSOR) as
      | { after_id: number }
      | undefined;
    return row?.after_id;
  }

  /** pending := the readings of the messages stored after `after` (none when undefined). */
  private rebuild(after: number | undefined): void {
    this.pending.clear();
    if (after === undefined) return;
    const rows = this.db
      .prepare(
        `SELECT m.id, m.device, j.key AS metric, m.ts, CAST(j.value AS REAL) AS value
           FROM messages m, json_each(m.readings) j WHERE m.id > ?
         UNION ALL
         SELECT message_id, device, metric, ts, value FROM readings_at WHERE message_id > ?
         ORDER BY 1`,
      )
      .iterate(after, after) as IterableIterator<{
      id: number;
      device: string | null;
      metric: string;
      ts: number;
      value: number;
    }>;
    for (const r of rows) this.pending.add(r.device, r.metric, r.ts, r.value, r.id);
  }
}
