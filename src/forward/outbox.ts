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
import type { Pending } from './batch-wait.js';
import {
  COPY_CUT_SQL,
  type CopyChunk,
  type CopyCut,
  type CopyEncoding,
  copyChunkSql,
  copyRangeSql,
  SQLITE_MAX_LENGTH,
  supportsCopySql,
  tuplesWellFormed,
} from './outbox-copy-sql.js';
import type { ReadingsType } from './pg-schema.js';
import {
  type BacklogStats,
  type BinaryTuples,
  M,
  type OutboxBatch,
  type OutboxMessage,
  type OutboxReading,
} from './types.js';

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
  /**
   * Largest BLOB of tuples SQLite is asked for (outbox-copy-sql.ts); a row alone above it is read
   * as a row. Default: SQLite's limit on one value. Smaller only to test that path.
   */
  readonly maxTuplesBytes?: number;
}

interface CopyStatements {
  readonly chunk: Database.Statement;
  readonly cut: Database.Statement;
  readonly range: Database.Statement;
}

/** What the messages of a batch came as, before readings_at is added. */
type Messages =
  | { readonly lastId: number; readonly bytes: number; readonly messages: OutboxMessage[] }
  | { readonly lastId: number; readonly bytes: number; readonly messages: []; readonly binary: BinaryTuples };

export class Outbox {
  private readonly read: Database.Database;
  private readonly write: Database.Database;
  private readonly stmts;
  /** outbox-copy-sql.ts statements per readings type, prepared on first use. */
  private readonly copy = new Map<ReadingsType, CopyStatements>();
  private readonly copySql: boolean;
  private readonly maxTuplesBytes: number;
  private readonly sourceFields = new Map<string, Buffer>();

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
    const version = this.read.prepare('SELECT sqlite_version() AS v').get() as { v: string };
    this.copySql = supportsCopySql(version.v);
    this.maxTuplesBytes = Math.min(opts.maxTuplesBytes ?? SQLITE_MAX_LENGTH, SQLITE_MAX_LENGTH);
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
   * reached (always at least one, so one large message cannot stall the outbox). With `encoding`
   * (copy-direct), SQLite writes the messages' COPY tuples itself (outbox-copy-sql.ts) and the
   * batch carries those instead of rows; a batch starting with a row that encoding does not take
   * is that row alone, read as a row.
   */
  readBatch(
    afterId: number,
    maxMessages: number,
    maxBytes: number,
    encoding?: CopyEncoding,
  ): OutboxBatch | undefined {
    // One read transaction for all statements: readings_at matches the messages read.
    this.read.exec('BEGIN');
    try {
      let m: Messages | 'none' | 'rows' | 'row' = 'rows';
      if (encoding !== undefined && this.copySql)
        m = this.readTuples(afterId, maxMessages, maxBytes, encoding);
      if (m === 'rows' || m === 'row') m = this.readRows(afterId, m === 'row' ? 1 : maxMessages, maxBytes);
      if (m === 'none') return undefined;
      const readingsAt = this.stmts.readingsAt.all(afterId, m.lastId) as OutboxReading[];
      return { afterId, readingsAt, ...m };
    } finally {
      this.read.exec('COMMIT');
    }
  }

  private readRows(afterId: number, maxMessages: number, maxBytes: number): Messages | 'none' {
    const messages: OutboxMessage[] = [];
    let bytes = 0;
    let largest = 0;
    let after = afterId;
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
    return last ? { lastId: last[M.id], bytes, messages } : 'none';
  }

  /**
   * The messages as COPY tuples, chunk by chunk. A chunk is taken whole when it may be (the
   * common case: within the bytes left, no odd row, within one BLOB); otherwise where it ends is
   * worked out from the rows' lengths (COPY_CUT_SQL), its tuples are made again up to there, and
   * the batch ends. 'none': no messages; 'rows': tuples that do not read back as the rows asked
   * for (the batch is then read as rows); 'row': the first message is one not encoded in SQL.
   */
  private readTuples(
    afterId: number,
    maxMessages: number,
    maxBytes: number,
    encoding: CopyEncoding,
  ): Messages | 'none' | 'rows' | 'row' {
    const st = this.copyStatements(encoding.readingsType);
    const src = this.sourceField(encoding.source);
    const cap = this.maxTuplesBytes;
    const chunks: Buffer[] = [];
    let rows = 0;
    let bytes = 0;
    let after = afterId;
    for (let want = Math.min(CHUNK_ROWS, maxMessages); want > 0; ) {
      const room = maxBytes - bytes;
      const c = orTooBig(() => st.chunk.get({ after, want, src, srclen: src.length }) as CopyChunk);
      if (c?.scanned === 0) break;
      let tuples: Buffer | null;
      let kept: number;
      let last: number | null;
      let whole = false;
      if (c && c.odd === 0 && c.bytes < room && c.est <= cap) {
        ({ tuples, last } = c);
        kept = c.scanned;
        bytes += c.bytes;
        whole = c.scanned === want;
      } else {
        const cut = st.cut.get({ after, want, room, cap, srclen: src.length }) as CopyCut;
        if (cut.kept === 0) {
          if (rows === 0) return 'row';
          break;
        }
        const r = orTooBig(
          () => st.range.get({ after, last: cut.last, want, src, srclen: src.length }) as CopyChunk,
        );
        // Not expected (`est` bounds the tuples' size), but then: what was made so far, or rows.
        if (r === undefined) {
          if (rows === 0) return 'row';
          break;
        }
        tuples = r.tuples;
        kept = cut.kept;
        last = cut.last;
        bytes += cut.bytes;
      }
      if (tuples === null || last === null || !tuplesWellFormed(tuples, kept, after, last)) return 'rows';
      chunks.push(tuples);
      rows += kept;
      after = last;
      if (!whole) break;
      want = Math.min(CHUNK_ROWS, maxMessages - rows);
    }
    if (rows === 0) return 'none';
    return {
      lastId: after,
      bytes,
      messages: [],
      binary: { rows, chunks, source: encoding.source, readingsType: encoding.readingsType },
    };
  }

  private copyStatements(type: ReadingsType): CopyStatements {
    let s = this.copy.get(type);
    if (!s) {
      // Prepared here, not with the others: SQLite before 3.43 has no octet_length.
      s = {
        chunk: this.read.prepare(copyChunkSql(type)),
        cut: this.read.prepare(COPY_CUT_SQL),
        range: this.read.prepare(copyRangeSql(type)),
      };
      this.copy.set(type, s);
    }
    return s;
  }

  /** The source as a whole text field (length + bytes), as pg-copy-binary.ts writes it. */
  private sourceField(source: string): Buffer {
    let f = this.sourceFields.get(source);
    if (!f) {
      const text = Buffer.from(source);
      f = Buffer.concat([Buffer.alloc(4), text]);
      f.writeInt32BE(text.length, 0);
      this.sourceFields.set(source, f);
    }
    return f;
  }

  newestId(): number {
    return (this.stmts.newest.get() as { id: number | null }).id ?? 0;
  }

  /** Two indexed reads: what the loop looks at before deciding to read a batch (batch-wait.ts). */
  pending(afterId: number): Pending | undefined {
    const messages = this.newestId() - afterId;
    if (messages <= 0) return undefined;
    const oldest = this.stmts.oldest.get(afterId) as { at: number } | undefined;
    return oldest ? { messages, oldestReceivedAt: oldest.at } : undefined;
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

/**
 * A chunk's tuples, or undefined when SQLite refused to make a value that long (SQLITE_TOOBIG):
 * the chunk is then cut by the rows' lengths instead.
 */
function orTooBig(get: () => CopyChunk): CopyChunk | undefined {
  try {
    return get();
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_TOOBIG') return undefined;
    throw err;
  }
}

function sizeOf(r: OutboxMessage): number {
  const p = r[M.payload];
  const payload = p === null ? 0 : typeof p === 'string' ? p.length : p.byteLength;
  return payload + (r[M.readings]?.length ?? 0) + r[M.topic].length;
}
