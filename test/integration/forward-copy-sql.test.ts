/**
 * copy-direct's messages encoded by SQLite (outbox-copy-sql.ts) against the JS encoder
 * (pg-copy-binary.ts), on a file the sink wrote plus awkward rows put in by hand: the bytes
 * PostgreSQL would receive must be the same, batch by batch, for json and jsonb readings; the
 * batch bounds the same as when reading rows; rows the SQL does not take (odd times, a row
 * larger than one BLOB may be) read as rows, alone.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/forward/outbox.js';
import type { CopyEncoding } from '../../src/forward/outbox-copy-sql.js';
import { binaryFromTuples, binaryMessages } from '../../src/forward/pg-copy-binary.js';
import { M, type OutboxBatch } from '../../src/forward/types.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { tmpDir } from '../helpers/tmp.js';

const T = 1_764_000_000_000;
const BIG = `{"k":"${'ü€😀\\t'.repeat(300_000)}"}`;

/** [topic, device, payload, qos, retain, dup, received_at, ts, readings]; payload as SQL. */
type Awkward = [string, string | null, string, number, number, number, number, number, string | null];
const awkward: Awkward[] = [
  ['tele/ü€😀/state', 'ü€😀', `'{"t":"ü€😀 \u2028"}'`, 0, 0, 0, T, T, '{"ü\\t":1.5,"😀":-2e-300}'],
  ['a/b/c/d', 'site/rack 1/dev\\2', "'plain'", 1, 1, 1, T, T - 1, '{"a/b":12345678901234567890}'],
  ['n/null', null, 'NULL', 2, 0, 1, T, T, null],
  ['n/empty', '', "''", 1, 0, 0, T, T, '{}'],
  ['n/emptyblob', 'd', "x''", 1, 0, 0, T, T, '{"x":-0.0}'],
  ['n/nul', 'd', "CAST(x'61006200' AS TEXT)", 1, 0, 0, T, T, '{"x":1e308}'],
  ['n/bytes', 'd', "x'fffe00805c090a'", 1, 0, 0, T, T, '{"x":-1e-320}'],
  ['n/big', 'd', `'${BIG}'`, 1, 0, 0, T, T, `{"${'m'.repeat(5000)}":0.1}`],
  ['n/1969', 'd', "'x'", 1, 0, 0, -1, -62_135_596_800_000, '{"x":0}'],
  ['n/1999', 'd', "'x'", 1, 0, 0, 946_684_800_001, 946_684_799_999, '{"x":0}'],
  ['n/9999', 'd', "'x'", 1, 0, 0, 253_402_300_799_999, 0, '{"x":0}'],
  ['"\'weird metric\t\n\\', 'd', "'x'", 1, 0, 0, T, T, '{"\\"q\\"\\\\":1,"\\u0000":2,"a b.c-d:e":-3}'],
];
const sqlText = (v: string | null): string => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);

/** Appends the awkward rows after what the sink wrote, with the next ids. */
function addAwkward(path: string, rows: readonly Awkward[] = awkward): void {
  const db = new Database(path);
  try {
    for (const [topic, device, payload, qos, retain, dup, receivedAt, ts, readings] of rows)
      db.exec(`INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, readings)
        VALUES (${sqlText(topic)}, ${sqlText(device)}, ${payload}, ${qos}, ${retain}, ${dup}, ${receivedAt}, ${ts}, ${sqlText(readings)})`);
  } finally {
    db.close();
  }
}

const SOURCE = 'gw ü/1\t"x"';

describe('messages encoded by SQLite for copy-direct', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let path: string;
  let box: Outbox;

  beforeEach(() => {
    tmp = tmpDir('mqlite-copy-sql-');
    path = join(tmp.dir, 'm.db');
    writeOutbox(path, 1, 2500);
    addAwkward(path);
    writeOutbox(path, 2501, 700);
  });

  afterEach(() => {
    box?.close();
    tmp.cleanup();
  });

  /** Walks the whole outbox in batches read with `enc`; each must match the same ids as rows. */
  function compareAll(enc: CopyEncoding, maxMessages: number, maxBytes: number): number {
    let after = 0;
    let batches = 0;
    let binary = 0;
    for (;;) {
      const b = box.readBatch(after, maxMessages, maxBytes, enc);
      if (!b) break;
      batches++;
      expect(b.afterId).toBe(after);
      const rowsOf = (x: OutboxBatch) => box.readBatch(x.afterId, x.binary?.rows ?? x.messages.length, 1e15);
      const rows = rowsOf(b);
      expect(rows?.lastId).toBe(b.lastId);
      expect(rows?.readingsAt).toEqual(b.readingsAt);
      if (b.binary) {
        binary++;
        expect(b.messages).toEqual([]);
        expect(b.binary.rows).toBe(rows?.messages.length);
        const js = binaryMessages(rows as OutboxBatch, enc.source, enc.readingsType);
        const sql = binaryFromTuples(b.binary.chunks);
        expect(sql.length).toBe(js.length);
        expect(sql.equals(js)).toBe(true);
      }
      after = b.lastId;
    }
    expect(after).toBe(3212);
    expect(binary).toBe(batches);
    return batches;
  }

  for (const readingsType of ['json', 'jsonb'] as const) {
    it(`writes the same bytes as the JS encoder, batch by batch (${readingsType} readings)`, () => {
      box = new Outbox({ path, busyTimeoutMs: 2000 });
      const enc = { source: SOURCE, readingsType };
      expect(compareAll(enc, 100_000, 1024 ** 3)).toBe(1);
      expect(compareAll(enc, 1000, 1024 ** 3)).toBe(4);
      expect(compareAll(enc, 2345, 1024 ** 3)).toBe(2);
      compareAll(enc, 17, 1024 ** 3);
      compareAll(enc, 100_000, 64 * 1024);
    });
  }

  it('bounds a batch as reading rows does: maxMessages, and the row reaching maxBytes', () => {
    box = new Outbox({ path, busyTimeoutMs: 2000 });
    const enc: CopyEncoding = { source: 's', readingsType: 'json' };
    // The sink's rows are ASCII, where stored bytes and string lengths agree; the awkward rows
    // (from id 2501) are not, and the bound falls at the same row, counted in other units.
    for (const [max, bytes] of [
      [1, 1024 ** 3],
      [999, 1024 ** 3],
      [1001, 1024 ** 3],
      [100_000, 1],
      [100_000, 1000],
      [100_000, 150_000],
      [100_000, 200_001],
      [2600, 1024 ** 3],
    ] as const) {
      const b = box.readBatch(0, max, bytes, enc);
      const rows = box.readBatch(0, max, bytes);
      expect(b?.binary?.rows).toBe(rows?.messages.length);
      expect(b?.lastId).toBe(rows?.lastId);
      if ((b?.lastId ?? 0) <= 2500) expect(b?.bytes).toBe(rows?.bytes);
      else expect(b?.bytes).toBeGreaterThan(rows?.bytes ?? 0);
    }
  });

  it('reads a row whose time the SQL does not encode as a row, alone; the batch before ends before it', () => {
    const db = new Database(path);
    // A fractional time (a file written by other means) and one whose µs leave int64.
    db.exec(`UPDATE messages SET ts = 1.5 WHERE id = 100; UPDATE messages SET received_at = 9300000000000000 WHERE id = 200;
             UPDATE messages SET qos = 7 WHERE id = 300`);
    db.close();
    box = new Outbox({ path, busyTimeoutMs: 2000 });
    const enc: CopyEncoding = { source: 's', readingsType: 'jsonb' };
    const first = box.readBatch(0, 100_000, 1024 ** 3, enc);
    expect(first?.binary?.rows).toBe(99);
    for (const [after, odd] of [
      [99, 100],
      [199, 200],
      [299, 300],
    ] as const) {
      const b = box.readBatch(after, 100_000, 1024 ** 3, enc);
      expect(b?.binary).toBeUndefined();
      expect(b?.messages.map((m) => m[M.id])).toEqual([odd]);
      expect(box.readBatch(odd, 100_000, 1024 ** 3, enc)?.binary?.rows).toBe(odd === 300 ? 3212 - 300 : 99);
    }
  });

  it('reads a row larger than one BLOB may be as a row, alone, and cuts chunks at that size', () => {
    // 20 kB instead of SQLite's 1e9-byte limit: the same path, at a size a test can hold.
    box = new Outbox({ path, busyTimeoutMs: 2000, maxTuplesBytes: 20_000 });
    const enc: CopyEncoding = { source: SOURCE, readingsType: 'json' };
    let after = 0;
    let asRows = 0;
    for (;;) {
      const b = box.readBatch(after, 100_000, 1024 ** 3, enc);
      if (!b) break;
      if (b.binary) {
        for (const c of b.binary.chunks) expect(c.length).toBeLessThanOrEqual(20_000);
        const rows = box.readBatch(after, b.binary.rows, 1e15) as OutboxBatch;
        expect(binaryFromTuples(b.binary.chunks).equals(binaryMessages(rows, SOURCE, 'json'))).toBe(true);
      } else {
        asRows++;
        expect(b.messages).toHaveLength(1);
        // Only the multi-megabyte payload is over the bound.
        expect(b.messages[0]?.[M.topic]).toBe('n/big');
      }
      after = b.lastId;
    }
    expect(after).toBe(3212);
    expect(asRows).toBe(1);
  });
});
