/**
 * The SQLite side of the sink: one connection, statements prepared once, one transaction per
 * batch. Runs inside the worker thread (sqlite-worker.ts); synchronous by nature, so nothing
 * here awaits, and transactions hold no early returns (CONVENTIONS "Acks and transactions").
 */
import Database from 'better-sqlite3';
import { errorMessage } from '../lib/errors.js';
import { messageIdentityKey } from './identity-hash.js';
import { type MigrationProgressFn, migrate } from './migrations/index.js';
import { incrementalVacuumIfNew } from './migrations/v3-retention.js';
import type { MaintenanceOp, MaintenanceResult } from './purge-types.js';
import { SqlitePurge } from './sqlite-purge.js';
import { restoreDecoderState } from './restore-decoder.js';
import { FLAG_DUP, FLAG_RETAIN, type PackedBatch, payloadAt } from './protocol.js';
import { DEFAULT_REDELIVERY, RedeliveryCheck } from './redelivery.js';
import { readingsJson } from './readings-json.js';
import { PendingRollups } from './pending-rollups.js';
import { isRowLevelError, sqliteCodeOf } from './sqlite-errors.js';
import type { BatchResult, DecodeFn, Reading, SinkDecodeResult, StoreSettings } from './types.js';

const SYNCHRONOUS = new Set(['FULL', 'NORMAL', 'OFF']);

/**
 * The message INSERT with qos, retain and dup as SQL literals (integers the caller chose, never
 * message text). ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: both skip a repeated identity,
 * but OR IGNORE would also silently skip NOT NULL failures and count them as redeliveries.
 */
function insertMessageSql(qos: number, retain: number, dup: number): string {
  return `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity, readings)
       VALUES (?, ?, ?, ${qos}, ${retain}, ${dup}, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
}

/**
 * WAL pages before a commit checkpoints (SQLite's default is 1000, ~4 MB). Commit after commit a
 * batch rewrites the same hot pages (the right edges of the tables and indexes it appends to, the
 * `series` pages it looks up); a checkpoint copies each
 * distinct page once and fsyncs the database, so spacing them 4x further apart copies far less.
 * Measured on the bench batch shape (raw better-sqlite3, synchronous=FULL, 300k messages):
 * 29.7 -> 22 µs/msg. The price is a WAL file of up to ~16 MB between checkpoints (truncated at close).
 */
const WAL_AUTOCHECKPOINT_PAGES = 4000;

/** What storing one message did; counted only once its transaction or savepoint committed. */
type Outcome =
  | {
      readonly kind: 'stored';
      readonly readings: number;
      readonly ts: number;
      readonly capped: number;
      readonly nonFinite: number;
    }
  | { readonly kind: 'duplicate'; readonly topic: string }
  | { readonly kind: 'dead'; readonly reason: string };

/**
 * Schema 2 (migrations/v2-schema.ts): a message's readings go into its own row as JSON, by the same
 * INSERT; the readings of the messages a transaction inserted are aggregated in memory (rollups.ts)
 * and written to latest and the rollups once per series and bucket at the end of that transaction.
 */
export class SinkStore {
  /** latest and the rollups: aggregated in memory, written about once a second (pending-rollups.ts). */
  private readonly rollups: PendingRollups;
  /** The message INSERT by qos * 4 + retain * 2 + dup (insertFor), prepared when first needed. */
  private readonly insertByFlags: (Database.Statement | undefined)[] = new Array(12);
  private readonly insertDeadLetter: Database.Statement;
  private readonly insertReadingAt: Database.Statement;
  private readonly writeAll: (b: PackedBatch, decoded: readonly SinkDecodeResult[]) => Outcome[];
  private readonly writeSplit: (b: PackedBatch, decoded: readonly SinkDecodeResult[]) => Outcome[];
  private readonly writeOne: (b: PackedBatch, i: number, d: SinkDecodeResult) => Outcome;
  private readonly redelivery: RedeliveryCheck;
  private closed = false;
  private purge: SqlitePurge | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly decode: DecodeFn,
    private readonly settings: StoreSettings,
  ) {
    // One prepared now: a bad schema fails at open, not at the first message.
    this.insertFor(0, 0);
    this.insertDeadLetter = db.prepare(
      `INSERT INTO dead_letters (topic, payload, payload_bytes, reason, detail, qos, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.redelivery = new RedeliveryCheck(db, settings.redelivery ?? DEFAULT_REDELIVERY);
    this.insertReadingAt = db.prepare(
      'INSERT INTO readings_at (message_id, device, metric, ts, value) VALUES (?, ?, ?, ?, ?)',
    );
    this.rollups = new PendingRollups(db, settings.rollupFlushMs);

    // IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies; a deferred transaction
    // upgrading its lock mid-way can fail with SQLITE_BUSY without waiting.
    this.writeAll = db.transaction((b: PackedBatch, decoded: readonly SinkDecodeResult[]) => {
      this.rollups.beginTx();
      const outcomes = decoded.map((d, i) => this.storeOne(b, i, d));
      this.rollups.endTx(decoded.length);
      return outcomes;
    }).immediate;
    this.writeSplit = db.transaction((b: PackedBatch, decoded: readonly SinkDecodeResult[]) => {
      this.rollups.beginTx();
      const outcomes = decoded.map((d, i) => this.storeOneOrDeadLetter(b, i, d));
      this.rollups.endTx(decoded.length);
      return outcomes;
    }).immediate;
    // Called inside writeSplit's transaction, better-sqlite3 runs this under a SAVEPOINT, so a
    // failing sample rolls back only its own message.
    this.writeOne = db.transaction((b: PackedBatch, i: number, d: SinkDecodeResult) =>
      this.storeOne(b, i, d),
    );
  }

  /** Opens (creating if needed), configures and migrates. Throws the SQLite error on failure. */
  static open(settings: StoreSettings, decode: DecodeFn, onMigration?: MigrationProgressFn): SinkStore {
    if (!SYNCHRONOUS.has(settings.synchronous))
      throw new Error(`invalid synchronous "${settings.synchronous}"`);
    // `timeout` is better-sqlite3's busy_timeout.
    const db = new Database(settings.path, { timeout: settings.busyTimeoutMs });
    try {
      incrementalVacuumIfNew(db); // before the first table exists, or it cannot change
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`cannot switch to WAL (journal_mode is ${String(mode)})`);
      // Explicit: better-sqlite3's build sets SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL), yet a new
      // database switched to WAL reported 2 (FULL); either way not necessarily what the user configured.
      db.pragma(`synchronous = ${settings.synchronous}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      if (settings.maxPageCount !== undefined)
        db.pragma(`max_page_count = ${Math.trunc(settings.maxPageCount)}`);
      migrate(db, onMigration);
      if (decode.restore !== undefined) restoreDecoderState(db, decode.restore);
      const store = new SinkStore(db, decode, settings);
      store.rollups.recover();
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Stores a batch in one transaction. A row-level error redoes it with a savepoint per message,
   * so the good rows commit and the failing one becomes an 'insert_failed' dead letter. Transient
   * errors (busy, full, I/O) are thrown: the caller retries the whole batch.
   */
  writeBatch(b: PackedBatch): BatchResult {
    const started = performance.now();
    const n = b.topics.length;
    // Decode before BEGIN: it is pure CPU and need not hold the write lock.
    const decoded: SinkDecodeResult[] = new Array(n);
    for (let i = 0; i < n; i++) decoded[i] = this.safeDecode(b, i);
    let outcomes: Outcome[];
    try {
      outcomes = this.writeAll(b, decoded);
    } catch (err) {
      this.rollups.rolledBack();
      if (!isRowLevelError(err)) throw err;
      try {
        outcomes = this.writeSplit(b, decoded);
      } catch (splitErr) {
        this.rollups.rolledBack();
        throw splitErr;
      }
    }
    this.rollups.committed();
    const result = tally(outcomes, (performance.now() - started) / 1000);
    // After the commit: a batch that failed keeps its report for the next one that commits.
    const report = this.decode.report?.();
    return report === undefined ? result : { ...result, decoder: report };
  }

  /** Whether committed readings wait in memory for latest/rollups (the worker then schedules flushPending). */
  get hasPending(): boolean {
    return this.rollups.hasPending;
  }

  /** Writes the pending aggregates in a transaction of their own (idle, maintenance, close). */
  flushPending(): void {
    this.rollups.flush();
  }

  /** One retention step (purge chunk, vacuum step, stats) on this connection, between batches. */
  maintain(op: MaintenanceOp): MaintenanceResult {
    this.purge ??= new SqlitePurge(this.db);
    const result = this.purge.run(op);
    // Not flushed before every step: under a small budget steps follow nearly every batch, and
    // writing latest/rollups each time undid their coalescing (pending-rollups.ts). The rollups'
    // cursor keeps the messages still pending from purge; only a step that found nothing else to
    // delete (a budget smaller than the pending second, or an operator purging everything) writes
    // them, moving the cursor to the newest message, and tries again.
    if (result.kind === 'step' && result.step.blocked && this.rollups.hasPending) {
      this.flushPending();
      return this.purge.run(op);
    }
    return result;
  }

  /** Checkpoints the WAL into the main file and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      // A failure here loses nothing: the next open replays from the cursor (PendingRollups.recover).
      this.flushPending();
    } catch {
      // Counted nowhere on purpose: the replay at the next open is the recovery, and close must
      // still checkpoint and release the file.
    }
    try {
      // TRUNCATE leaves a zero-length WAL: the file is self-contained for backups and copies.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }

  private safeDecode(b: PackedBatch, i: number): SinkDecodeResult {
    try {
      return this.decode(b.topics[i] as string, payloadAt(b, i), b.receivedAt[i] as number);
    } catch (err) {
      // A decoder bug must not stall the pipeline behind one payload: keep the evidence instead.
      return { ok: false, reason: 'decoder_error', detail: errorMessage(err) };
    }
  }

  private storeOneOrDeadLetter(b: PackedBatch, i: number, d: SinkDecodeResult): Outcome {
    try {
      return this.writeOne(b, i, d);
    } catch (err) {
      if (!isRowLevelError(err)) throw err;
      this.deadLetter(b, i, 'insert_failed', `${sqliteCodeOf(err)}: ${errorMessage(err)}`);
      return { kind: 'dead', reason: 'insert_failed' };
    }
  }

  private storeOne(b: PackedBatch, i: number, d: SinkDecodeResult): Outcome {
    if (!d.ok) {
      this.deadLetter(b, i, d.reason, d.detail);
      return { kind: 'dead', reason: d.reason };
    }
    const flags = b.flags[i] as number;
    const ts = Math.round(d.ts);
    const topic = b.topics[i] as string;
    // A text payload is stored as the decoder's string: no second view of its bytes per message.
    const payload = d.text ?? asBuffer(payloadAt(b, i));
    // No identity: only a DUP or retained copy of a stored message is a redelivery (redelivery.ts).
    if (
      d.identity === null &&
      (flags & (FLAG_DUP | FLAG_RETAIN)) !== 0 &&
      this.redelivery.isCopy(
        d.device,
        topic,
        payload,
        b.receivedAt[i] as number,
        (flags & FLAG_DUP) !== 0,
        (flags & FLAG_RETAIN) !== 0,
      )
    ) {
      return { kind: 'duplicate', topic };
    }
    const readings = d.readings;
    // Readings with a timestamp or a device of their own (Sparkplug is_historical, the devices an
    // NDEATH marks offline) go to readings_at instead.
    const ownTs = hasOwnTimestamps(readings, ts);
    // Before the INSERT (InvalidReadingError fails only this message); the decoder's JSON if it has all.
    const json = ownTs
      ? readingsJson(readings.filter((r) => !apart(r, ts)))
      : (d.readingsJson ?? readingsJson(readings));
    const info = this.insertFor(b.qos[i] as number, flags).run(
      topic,
      d.device,
      payload,
      b.receivedAt[i],
      ts,
      d.identity === null ? null : messageIdentityKey(topic, d.identity, d.tsFromPayload),
      json,
    );
    // Nothing inserted: this identity is already stored, so this is a redelivery.
    if (info.changes === 0) return { kind: 'duplicate', topic };
    const messageId = Number(info.lastInsertRowid);
    if (ownTs) {
      for (const r of readings) {
        if (apart(r, ts))
          this.insertReadingAt.run(
            messageId,
            r.device ?? d.device,
            r.metric,
            r.ts === undefined ? ts : Math.round(r.ts),
            r.value,
          );
      }
    }
    // Last, after everything that can fail: a savepoint rolled back never reaches the aggregator
    // or the cursor (its rowid may be given to the next message).
    this.rollups.stored(messageId);
    for (const r of readings) {
      const at = r.ts === undefined ? ts : Math.round(r.ts);
      this.rollups.add(r.device ?? d.device, r.metric, at, r.value, messageId);
    }
    // NaN: no payload timestamp, so nothing for mqlite_payload_ts_to_commit_seconds to observe.
    return {
      kind: 'stored',
      readings: readings.length,
      ts: d.tsFromPayload ? ts : Number.NaN,
      capped: d.readingsCapped ?? 0,
      nonFinite: d.nonFinite ?? 0,
    };
  }

  /**
   * The INSERT for a message's qos, retain and dup, with those three as literals: a subscription
   * gets one QoS and nearly every message has retain 0, dup 0, so binding them each time
   * (better-sqlite3 binds a JS number as a REAL, which the INTEGER column then converts) was three
   * of the ten binds per message for values that hardly change. Same stored values either way.
   */
  private insertFor(qos: number, flags: number): Database.Statement {
    // lib/message.ts QoS: 0, 1 or 2 ([MQTT-3.3.1-4]: a PUBLISH with QoS 3 is refused by the parser).
    const retain = flags & FLAG_RETAIN ? 1 : 0;
    const dup = flags & FLAG_DUP ? 1 : 0;
    const k = qos * 4 + retain * 2 + dup;
    let stmt = this.insertByFlags[k];
    if (stmt === undefined) {
      stmt = this.db.prepare(insertMessageSql(qos, retain, dup));
      this.insertByFlags[k] = stmt;
    }
    return stmt;
  }

  private deadLetter(b: PackedBatch, i: number, reason: string, detail: string): void {
    const raw = payloadAt(b, i);
    const kept = raw.subarray(0, Math.max(0, this.settings.deadLetterPayloadBytes));
    this.insertDeadLetter.run(
      b.topics[i],
      asBuffer(kept),
      raw.length,
      reason,
      detail,
      b.qos[i],
      b.receivedAt[i],
    );
  }
}

/** A reading whose own ts is not its message's. */
function differs(r: Reading, ts: number): r is Reading & { ts: number } {
  return r.ts !== undefined && r.ts !== ts;
}

/** A reading stored in readings_at: its own time, or its own device. */
function apart(r: Reading, ts: number): boolean {
  return differs(r, ts) || r.device !== undefined;
}

function hasOwnTimestamps(readings: readonly Reading[], ts: number): boolean {
  for (const r of readings) if (apart(r, ts)) return true;
  return false;
}

/** A Buffer over the same bytes (better-sqlite3 binds Buffers as BLOBs). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function tally(outcomes: readonly Outcome[], commitSeconds: number): BatchResult {
  let stored = 0;
  let duplicates = 0;
  let readings = 0;
  let readingsCapped = 0;
  let nonFinite = 0;
  let duplicateTopic: string | undefined;
  // No prototype: a reason is data from the decoder, never a key like __proto__.
  const deadLetters: Record<string, number> = Object.create(null);
  const ts = new Float64Array(outcomes.length);
  for (const o of outcomes) {
    switch (o.kind) {
      case 'stored':
        ts[stored++] = o.ts;
        readings += o.readings;
        readingsCapped += o.capped;
        nonFinite += o.nonFinite;
        break;
      case 'duplicate':
        duplicates++;
        duplicateTopic ??= o.topic;
        break;
      case 'dead':
        deadLetters[o.reason] = (deadLetters[o.reason] ?? 0) + 1;
        break;
    }
  }
  return {
    stored,
    duplicates,
    readings,
    deadLetters,
    commitSeconds,
    payloadTs: ts.slice(0, stored),
    readingsCapped,
    nonFinite,
    ...(duplicateTopic === undefined ? {} : { duplicateTopic }),
  };
}
