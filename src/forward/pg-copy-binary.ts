/**
 * Pure: a batch → COPY's binary format (postgresql.org/docs/15/sql-copy.html, "Binary Format"),
 * written straight into one Buffer: no string per line or per field, one UTF-8 encode per text
 * value, and nothing for the server to parse but the readings' JSON (json is its text; jsonb,
 * in schemas made before, has no binary form beneath its version byte). Rows go straight into
 * the tables with their final column types (pg-schema.ts copyBinaryMessages), or, after a unique
 * violation, into a staging table of the same types.
 *
 * Field by field: a 4-byte length (-1 for NULL), then the value as the type's send function
 * writes it: int8/int2/float8 big-endian, boolean one byte, text and bytea the bytes themselves,
 * timestamptz int64 microseconds since 2000-01-01 UTC, json the text, jsonb the version byte 1
 * then the text.
 * Text need not be escaped; it must be valid UTF-8 without U+0000 (the server checks): Buffer's
 * UTF-8 encoder writes lone surrogates as U+FFFD, as Buffer.from does, and payloads holding
 * U+0000 go as bytea (payloadColumns, pg-encode.ts).
 */
import type { ReadingsType } from './pg-schema.js';
import type { OutboxBatch } from './types.js';
import { M, R } from './types.js';

/** 'PGCOPY\n\377\r\n\0', flags 0, no header extension. */
const HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** The field count -1 that ends the data. */
const TRAILER = Buffer.from([0xff, 0xff]);
/** ms between the Unix epoch and PostgreSQL's, 2000-01-01 UTC. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/** A Buffer that grows as fields are appended. */
class Writer {
  buf: Buffer;
  off = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, capacity));
  }

  /** Room for n more bytes. */
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  int16(v: number): void {
    this.room(2);
    this.off = this.buf.writeInt16BE(v, this.off);
  }

  /** An int2 field (length and value). */
  int2(v: number): void {
    this.room(6);
    this.off = this.buf.writeInt32BE(2, this.off);
    this.off = this.buf.writeInt16BE(v, this.off);
  }

  /** An int8 field from a safe integer (ids: SQLite's INTEGER PRIMARY KEY, below 2^53 here). */
  int8(v: number): void {
    this.room(12);
    this.off = this.buf.writeInt32BE(8, this.off);
    this.int64(v);
  }

  /** A timestamptz field from ms since the Unix epoch, exact (µs would pass 2^53 as a double). */
  timestamptz(ms: number): void {
    this.room(12);
    this.off = this.buf.writeInt32BE(8, this.off);
    const v = ms - PG_EPOCH_MS;
    const hi = Math.floor(v / TWO_32);
    const lo = (v - hi * TWO_32) * 1000;
    const carry = Math.floor(lo / TWO_32);
    this.off = this.buf.writeInt32BE(hi * 1000 + carry, this.off);
    this.off = this.buf.writeUInt32BE(lo - carry * TWO_32, this.off);
  }

  private int64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.off = this.buf.writeInt32BE(hi, this.off);
    this.off = this.buf.writeUInt32BE(v - hi * TWO_32, this.off);
  }

  bool(v: number): void {
    this.room(5);
    this.off = this.buf.writeInt32BE(1, this.off);
    this.buf[this.off++] = v ? 1 : 0;
  }

  float8(v: number): void {
    this.room(12);
    this.off = this.buf.writeInt32BE(8, this.off);
    this.off = this.buf.writeDoubleBE(v, this.off);
  }

  null(): void {
    this.room(4);
    this.off = this.buf.writeInt32BE(-1, this.off);
  }

  /** A text field; `prefix` bytes go before the text (jsonb's version byte). */
  text(s: string, prefix = -1): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 for 2).
    this.room(5 + s.length * 3);
    const start = this.off;
    let at = start + 4;
    if (prefix >= 0) this.buf[at++] = prefix;
    const n = s.length === 0 ? 0 : this.buf.write(s, at);
    this.buf.writeInt32BE(at + n - start - 4, start);
    this.off = at + n;
  }

  /** Bytes already encoded (the source's name, written once per batch). */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  bytea(b: Uint8Array): void {
    this.room(4 + b.length);
    this.off = this.buf.writeInt32BE(b.length, this.off);
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  done(): Buffer {
    this.int16(-1);
    return this.buf.subarray(0, this.off);
  }
}

/** The source as a whole text field (length + bytes), copied into every row. */
function sourceField(source: string): Buffer {
  const text = Buffer.from(source);
  const f = Buffer.allocUnsafe(4 + text.length);
  f.writeInt32BE(text.length, 0);
  text.copy(f, 4);
  return f;
}

const JSONB_VERSION = 1;

/**
 * Rows of pg-schema.ts MESSAGE_COLUMNS, in that order. readings as json is its text; as jsonb
 * (schemas made before json, pg-schema.ts) the version byte comes first.
 */
export function binaryMessages(batch: OutboxBatch, source: string, readingsType: ReadingsType): Buffer {
  const prefix = readingsType === 'jsonb' ? JSONB_VERSION : -1;
  const src = sourceField(source);
  // Fixed fields take ~110 bytes a row; the rest is payload, readings and topic (batch.bytes).
  const w = new Writer(HEADER.length + batch.bytes + batch.messages.length * (130 + src.length));
  w.raw(HEADER);
  for (const m of batch.messages) {
    w.int16(12);
    w.raw(src);
    w.int8(m[M.id]);
    w.timestamptz(m[M.ts]);
    w.timestamptz(m[M.receivedAt]);
    w.text(m[M.topic]);
    const device = m[M.device];
    if (device === null) w.null();
    else w.text(device);
    const p = m[M.payload];
    if (p === null) {
      w.null();
      w.null();
    } else if (typeof p === 'string') {
      // PostgreSQL text cannot hold U+0000: such a payload goes as its UTF-8 bytes.
      if (p.includes('\0')) {
        w.null();
        w.bytea(Buffer.from(p));
      } else {
        w.text(p);
        w.null();
      }
    } else {
      w.null();
      w.bytea(p);
    }
    w.int2(m[M.qos]);
    w.bool(m[M.retain]);
    w.bool(m[M.dup]);
    const readings = m[M.readings];
    if (readings === null) w.null();
    else w.text(readings, prefix);
  }
  return w.done();
}

/** Tuples SQLite already encoded (outbox-copy-sql.ts, types.ts BinaryTuples), framed as a COPY. */
export function binaryFromTuples(chunks: readonly Buffer[]): Buffer {
  return Buffer.concat([HEADER, ...chunks, TRAILER]);
}

/** Rows of readings_at (source, message_id, device, metric, ts, value). */
export function binaryReadings(batch: OutboxBatch, source: string): Buffer {
  const src = sourceField(source);
  const w = new Writer(HEADER.length + batch.readingsAt.length * (80 + src.length));
  w.raw(HEADER);
  for (const r of batch.readingsAt) {
    w.int16(6);
    w.raw(src);
    w.int8(r[R.messageId]);
    const device = r[R.device];
    if (device === null) w.null();
    else w.text(device);
    w.text(r[R.metric]);
    w.timestamptz(r[R.ts]);
    w.float8(r[R.value]);
  }
  return w.done();
}
