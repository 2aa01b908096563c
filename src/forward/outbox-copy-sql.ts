/**
 * Pure: the SQL that has SQLite itself write the messages' binary COPY tuples (the bytes of
 * pg-copy-binary.ts binaryMessages between its header and trailer), one BLOB per chunk of rows.
 * The forwarder's thread then makes no JS value per message or per field: reading rows into JS
 * and encoding them left garbage for V8's collector to trace, a GC pause every ~16k messages
 * (BENCHMARKS.md "Forwarder read path, fwdread branch", issue #16). readings_at rows, rare, still
 * go through JS: SQLite has no function that gives a double's bits for their float8.
 *
 * Field by field as pg-copy-binary.ts writes it: int32 lengths and int64 values big-endian through
 * unhex(printf('%08x' / '%016x')) (printf's %x writes an int64's two's complement), text as its
 * stored UTF-8 bytes, NULL as length -1, timestamptz as µs since 2000-01-01, jsonb's version byte.
 * `||` and concat() keep a BLOB's bytes as they are (the database is UTF-8), and the final CAST
 * gives them back as a BLOB.
 *
 * Order: group_concat sees the rows in the order the subquery yields them, id order. Its own
 * ORDER BY would make that a promise, but sorts a copy of every tuple (~1 µs a row more in a
 * micro-benchmark); tuplesWellFormed instead checks each BLOB's ids before it is used.
 *
 * Rows this encoding would not write like the JS encoder does are not taken (`odd`): a time that
 * is not an integer (binaryMessages truncates it below the µs) or whose µs would leave int64
 * (binaryMessages throws), a qos outside 0..2. Nor is a row past `cap`, SQLite's limit on one
 * value (SQLITE_MAX_LENGTH, 1e9 bytes): the chunk stops before it, and a batch that would start
 * with such a row is that row alone, read as a row.
 */
import type { ReadingsType } from './pg-schema.js';

/** What the destination needs the rows encoded for; undefined: read rows (outbox.ts). */
export interface CopyEncoding {
  readonly source: string;
  readonly readingsType: ReadingsType;
}

/** concat() came with SQLite 3.44.0 (octet_length with 3.43, unhex with 3.41). */
export function supportsCopySql(sqliteVersion: string): boolean {
  const [major = 0, minor = 0] = sqliteVersion.split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 44);
}

/** SQLITE_MAX_LENGTH as better-sqlite3 builds it: no string or BLOB may be longer. */
export const SQLITE_MAX_LENGTH = 1_000_000_000;

/** ms between the Unix epoch and PostgreSQL's, 2000-01-01 UTC. */
const PG_EPOCH_MS = 946_684_800_000;
/**
 * |ms − PG_EPOCH_MS| · 1000 stays inside int64 (binaryMessages' range) up to this; SQL text,
 * being above 2^53.
 */
const MAX_MS = '9223372036854775';

const inRange = (c: string): string =>
  `typeof(${c}) = 'integer' AND ${c} - ${PG_EPOCH_MS} BETWEEN -${MAX_MS} AND ${MAX_MS}`;
/** A NULL's length field, -1, as printf's %08x writes it (an int64's low 32 bits). */
const NULL_LENGTH = 4_294_967_295;
/** Bytes as stored: text in the database's UTF-8, a BLOB as is; 0 for NULL. */
const bytesOf = (c: string): string => `coalesce(octet_length(${c}), 0)`;

/**
 * The columns the tuple is made of, and per row: `pk`, how the payload goes (0 NULL, 1 text,
 * 2 bytea: a BLOB, or text holding U+0000, which PostgreSQL text cannot hold); `h`, the row's
 * integers as big-endian bytes (H offsets), from one printf and one unhex, the costly calls;
 * `size` as types.ts OutboxBatch.bytes counts it; `est`, an upper bound of the tuple's length
 * (fixed fields take at most 75 bytes besides the source's field, :srclen); `odd`, 1 for a row
 * not encoded here. Kept a subquery with a LIMIT, so SQLite computes `h` once a row rather than
 * once per use (a flattened subquery would repeat its expression).
 */
function rows(where: string, readingsType: ReadingsType | undefined): string {
  const us = (c: string): string => `(${c} - ${PG_EPOCH_MS}) * 1000`;
  // jsonb's length counts its version byte.
  const readingsLength = `octet_length(readings)${readingsType === 'jsonb' ? ' + 1' : ''}`;
  const columns =
    readingsType === undefined
      ? 'id'
      : `id, topic, device, payload, qos, retain, dup, readings,
         CASE WHEN payload IS NULL THEN 0
              WHEN typeof(payload) = 'text' AND instr(CAST(payload AS BLOB), x'00') = 0 THEN 1
              ELSE 2 END AS pk,
         unhex(printf('%016x%016x%016x%08x%08x%08x%08x', id, ${us('ts')}, ${us('received_at')}, octet_length(topic),
                      coalesce(octet_length(device), ${NULL_LENGTH}), ${bytesOf('payload')},
                      coalesce(${readingsLength}, ${NULL_LENGTH}))) AS h`;
  return `SELECT ${columns},
         octet_length(topic) + ${bytesOf('payload')} + ${bytesOf('readings')} AS size,
         80 + :srclen + octet_length(topic) + ${bytesOf('device')} + ${bytesOf('payload')} + ${bytesOf('readings')} AS est,
         NOT (${inRange('ts')} AND ${inRange('received_at')} AND qos IN (0, 1, 2)) AS odd
    FROM messages WHERE ${where} ORDER BY id`;
}

/** Byte offsets (1-based, for substr) of the integers in `h`, each 8 or 4 bytes long. */
const H = { id: 1, ts: 9, receivedAt: 17, topic: 25, device: 29, payload: 33, readings: 37 } as const;

/**
 * One message's tuple: pg-schema.ts MESSAGE_COLUMNS in order, as binaryMessages writes them.
 * concat() writes NULL as nothing, so a NULL text is its length -1 (from `h`) alone.
 */
function tuple(readingsType: ReadingsType): string {
  const int8 = (at: number): string => `x'00000008', substr(h, ${at}, 8)`;
  const int4 = (at: number): string => `substr(h, ${at}, 4)`;
  return `concat(x'000c', :src, ${int8(H.id)}, ${int8(H.ts)}, ${int8(H.receivedAt)},
    ${int4(H.topic)}, topic,
    ${int4(H.device)}, device,
    CASE pk WHEN 0 THEN x'ffffffffffffffff' WHEN 1 THEN ${int4(H.payload)} ELSE x'ffffffff' || ${int4(H.payload)} END,
    payload,
    CASE pk WHEN 1 THEN x'ffffffff' END,
    CASE qos WHEN 0 THEN x'000000020000' WHEN 1 THEN x'000000020001' ELSE x'000000020002' END,
    CASE WHEN retain THEN x'0000000101' ELSE x'0000000100' END,
    CASE WHEN dup THEN x'0000000101' ELSE x'0000000100' END,
    ${int4(H.readings)}, ${readingsType === 'jsonb' ? "CASE WHEN readings IS NOT NULL THEN x'01' END, " : ''}readings)`;
}

/**
 * The first :want messages after :after as one BLOB of tuples, with what decides whether all of
 * them may be taken: scanned, last (id), bytes, est, odd (sums). Rows are aggregated in the
 * order the subquery gives them, id order; tuplesWellFormed checks that they were.
 */
export function copyChunkSql(readingsType: ReadingsType): string {
  return `SELECT count(*) AS scanned, max(id) AS last, coalesce(sum(size), 0) AS bytes,
       coalesce(sum(est), 0) AS est, coalesce(sum(odd), 0) AS odd,
       CAST(group_concat(${tuple(readingsType)}, '') AS BLOB) AS tuples
  FROM (${rows('id > :after', readingsType)} LIMIT :want)`;
}

/** A row of copyChunkSql. */
export interface CopyChunk {
  readonly scanned: number;
  readonly last: number | null;
  readonly bytes: number;
  readonly est: number;
  readonly odd: number;
  readonly tuples: Buffer | null;
}

/**
 * Where a chunk that cannot be taken whole ends: of the first :want messages after :after, the
 * rows before the one reaching :room bytes, that one included, none odd, their tuples within
 * :cap bytes in all. Reads lengths only, no text. Result: kept, last (id), bytes.
 */
export const COPY_CUT_SQL = `SELECT count(*) AS kept, max(id) AS last, coalesce(sum(size), 0) AS bytes
  FROM (SELECT id, size,
               sum(size) OVER w - size < :room AND sum(est) OVER w <= :cap AND sum(odd) OVER w = 0 AS keep
          FROM (${rows('id > :after', undefined)} LIMIT :want)
        WINDOW w AS (ORDER BY id ROWS UNBOUNDED PRECEDING))
 WHERE keep`;

export interface CopyCut {
  readonly kept: number;
  readonly last: number | null;
  readonly bytes: number;
}

/** The tuples of the messages in (:after, :last], as copyChunkSql makes them. */
export function copyRangeSql(readingsType: ReadingsType): string {
  return `SELECT count(*) AS scanned, max(id) AS last, CAST(group_concat(${tuple(readingsType)}, '') AS BLOB) AS tuples
  FROM (${rows('id > :after AND id <= :last', readingsType)} LIMIT :want)`;
}

/**
 * Walks the BLOB as PostgreSQL's COPY will: exactly `count` tuples of 12 fields, nothing after
 * them, ids strictly increasing inside (after, last]. Cheap next to making it (a few reads a
 * row), and it keeps a mistake in the SQL, or an aggregate that did not follow id order, from
 * reaching PostgreSQL as other rows than the cursor says.
 */
export function tuplesWellFormed(blob: Buffer, count: number, after: number, last: number): boolean {
  let at = 0;
  let prev = after;
  for (let i = 0; i < count; i++) {
    if (at + 2 > blob.length || blob.readInt16BE(at) !== 12) return false;
    at += 2;
    for (let f = 0; f < 12; f++) {
      if (at + 4 > blob.length) return false;
      const len = blob.readInt32BE(at);
      at += 4;
      if (len < -1 || (len === -1 && f < 5)) return false;
      if (f === 1) {
        if (len !== 8 || at + 8 > blob.length) return false;
        const id = blob.readInt32BE(at) * 4_294_967_296 + blob.readUInt32BE(at + 4);
        if (id <= prev) return false;
        prev = id;
      }
      if (len > 0) at += len;
    }
  }
  return at === blob.length && prev === last;
}
