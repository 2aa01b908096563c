/**
 * The SQLite side of the sink: one connection, statements prepared once, one transaction per
 * batch. Runs inside the worker thread (sqlite-worker.ts); synchronous by nature, so nothing
 * here awaits, and transactions hold no early returns (CONVENTIONS "Acks and transactions").
 */
import Database from 'better-sqlite3';
import { errorMessage } from '../lib/errors.js';
import { identityKey } from './identity-hash.js';
import { migrate } from './migrations.js';
import { restoreDecoderState } from './restore-decoder.js';
import { FLAG_DUP, FLAG_RETAIN, type PackedBatch, payloadAt } from './protocol.js';
import { DEFAULT_REDELIVERY, RedeliveryCheck } from './redelivery.js';
import { isRowLevelError, sqliteCodeOf } from './sqlite-errors.js';
import type { BatchResult, DecodeFn, SinkDecodeResult, StoreSettings } from './types.js';

/** Series ids cached between batches; cleared when full (a re-lookup is one indexed SELECT). */
const SERIES_CACHE_MAX = 100_000;

const SYNCHRONOUS = new Set(['FULL', 'NORMAL', 'OFF']);

/**
 * WAL pages before a commit checkpoints (SQLite's default is 1000, ~4 MB). A batch rewrites the same
 * hot leaves (one per series, the indexes' right edges) commit after commit; a checkpoint copies each
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

export class SinkStore {
  private readonly seriesCache = new Map<string, number>();
  /** Samples of the batch being written in one transaction, inserted grouped by series at its end. */
  private readonly insertMessage: Database.Statement;
  private readonly insertDeadLetter: Database.Statement;
  private readonly insertSample: Database.Statement;
  private readonly selectSeries: Database.Statement<unknown[], { id: number }>;
  private readonly insertSeries: Database.Statement;
  private readonly writeAll: (b: PackedBatch, decoded: readonly SinkDecodeResult[]) => Outcome[];
  private readonly writeSplit: (b: PackedBatch, decoded: readonly SinkDecodeResult[]) => Outcome[];
  private readonly writeOne: (b: PackedBatch, i: number, d: SinkDecodeResult) => Outcome;
  private readonly redelivery: RedeliveryCheck;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly decode: DecodeFn,
    private readonly settings: StoreSettings,
  ) {
    // ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: both skip a repeated identity, but OR
    // IGNORE would also silently skip NOT NULL failures and count them as redeliveries.
    this.insertMessage = db.prepare(
      `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    this.insertDeadLetter = db.prepare(
      `INSERT INTO dead_letters (topic, payload, payload_bytes, reason, detail, qos, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertSample = db.prepare('INSERT INTO samples (message_id, series_id, value) VALUES (?, ?, ?)');
    // `IS`, not `=`: device may be NULL, and UNIQUE(device, metric) treats NULLs as distinct.
    this.selectSeries = db.prepare('SELECT id FROM series WHERE device IS ? AND metric = ?');
    this.insertSeries = db.prepare('INSERT INTO series (device, metric) VALUES (?, ?)');
    this.redelivery = new RedeliveryCheck(db, settings.redelivery ?? DEFAULT_REDELIVERY);

    // IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies; a deferred transaction
    // upgrading its lock mid-way can fail with SQLITE_BUSY without waiting.
    this.writeAll = db.transaction((b: PackedBatch, decoded: readonly SinkDecodeResult[]) =>
      decoded.map((d, i) => this.storeOne(b, i, d)),
    ).immediate;
    this.writeSplit = db.transaction((b: PackedBatch, decoded: readonly SinkDecodeResult[]) =>
      decoded.map((d, i) => this.storeOneOrDeadLetter(b, i, d)),
    ).immediate;
    // Called inside writeSplit's transaction, better-sqlite3 runs this under a SAVEPOINT, so a
    // failing sample rolls back only its own message.
    this.writeOne = db.transaction((b: PackedBatch, i: number, d: SinkDecodeResult) =>
      this.storeOne(b, i, d),
    );
  }

  /** Opens (creating if needed), configures and migrates. Throws the SQLite error on failure. */
  static open(settings: StoreSettings, decode: DecodeFn): SinkStore {
    if (!SYNCHRONOUS.has(settings.synchronous))
      throw new Error(`invalid synchronous "${settings.synchronous}"`);
    // `timeout` is better-sqlite3's busy_timeout.
    const db = new Database(settings.path, { timeout: settings.busyTimeoutMs });
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`cannot switch to WAL (journal_mode is ${String(mode)})`);
      // Explicit: the build's default for WAL databases is not what the user configured (research §6).
      db.pragma(`synchronous = ${settings.synchronous}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      if (settings.maxPageCount !== undefined)
        db.pragma(`max_page_count = ${Math.trunc(settings.maxPageCount)}`);
      migrate(db);
      if (decode.restore !== undefined) restoreDecoderState(db, decode.restore);
      return new SinkStore(db, decode, settings);
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
      // Series rows inserted by the rolled-back transaction are gone; so must their cached ids be.
      this.seriesCache.clear();
      if (!isRowLevelError(err)) throw err;
      try {
        outcomes = this.writeSplit(b, decoded);
      } catch (splitErr) {
        this.seriesCache.clear();
        throw splitErr;
      }
    }
    return tally(outcomes, (performance.now() - started) / 1000);
  }

  /** Checkpoints the WAL into the main file and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
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
      this.seriesCache.clear();
      this.deadLetter(b, i, 'insert_failed', `${sqliteCodeOf(err)}: ${errorMessage(err)}`);
      return { kind: 'dead', reason: 'insert_failed' };
    }
  }

  private storeOne(b: PackedBatch, i: number, d: SinkDecodeResult): Outcome {
    if (!d.ok) {
      this.deadLetter(b, i, d.reason, d.detail);
      return { kind: 'dead', reason: d.reason };
    }
    const raw = payloadAt(b, i);
    const flags = b.flags[i] as number;
    const ts = Math.round(d.ts);
    const topic = b.topics[i] as string;
    const payload = d.text ?? asBuffer(raw);
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
    const info = this.insertMessage.run(
      topic,
      d.device,
      payload,
      b.qos[i],
      flags & FLAG_RETAIN ? 1 : 0,
      flags & FLAG_DUP ? 1 : 0,
      b.receivedAt[i],
      ts,
      d.identity === null ? null : identityKey(d.identity, d.tsFromPayload),
    );
    // Nothing inserted: this identity is already stored, so this is a redelivery.
    if (info.changes === 0) return { kind: 'duplicate', topic };
    const messageId = Number(info.lastInsertRowid);
    for (const r of d.readings) this.insertSample.run(messageId, this.seriesId(d.device, r.metric), r.value);
    return {
      kind: 'stored',
      readings: d.readings.length,
      ts,
      capped: d.readingsCapped ?? 0,
      nonFinite: d.nonFinite ?? 0,
    };
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

  private seriesId(device: string | null, metric: string): number {
    // Length-prefixed so no (device, metric) pair can spell another's key.
    const key = device === null ? `\0${metric}` : `${device.length}:${device}${metric}`;
    const cached = this.seriesCache.get(key);
    if (cached !== undefined) return cached;
    const row = this.selectSeries.get(device, metric);
    const id = row ? row.id : Number(this.insertSeries.run(device, metric).lastInsertRowid);
    if (this.seriesCache.size >= SERIES_CACHE_MAX) this.seriesCache.clear();
    this.seriesCache.set(key, id);
    return id;
  }
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
