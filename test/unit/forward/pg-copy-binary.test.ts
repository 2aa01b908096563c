import { describe, expect, it } from 'vitest';
import { binaryMessages, binaryReadings } from '../../../src/forward/pg-copy-binary.js';
import type { OutboxBatch, OutboxMessage, OutboxReading } from '../../../src/forward/types.js';

/** COPY binary, read back the way PostgreSQL's CopyFrom does: header, tuples of fields, trailer. */
function parse(buf: Buffer): (Buffer | null)[][] {
  expect(buf.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(buf.readInt32BE(11)).toBe(0);
  expect(buf.readInt32BE(15)).toBe(0);
  let at = 19;
  const rows: (Buffer | null)[][] = [];
  for (;;) {
    const n = buf.readInt16BE(at);
    at += 2;
    if (n === -1) break;
    const row: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = buf.readInt32BE(at);
      at += 4;
      if (len === -1) row.push(null);
      else {
        row.push(buf.subarray(at, at + len));
        at += len;
      }
    }
    rows.push(row);
  }
  expect(at).toBe(buf.length);
  return rows;
}

const PG_EPOCH_US = 946_684_800_000_000n;
const micros = (f: Buffer | null | undefined): bigint => (f as Buffer).readBigInt64BE(0);

function batch(messages: OutboxMessage[], readingsAt: OutboxReading[] = [], bytes = 0): OutboxBatch {
  return { afterId: 0, lastId: messages.at(-1)?.[0] ?? 0, messages, readingsAt, bytes };
}

const row = (over: Partial<Record<number, unknown>> = {}): OutboxMessage => {
  const r: unknown[] = [7, 'tele/a/state', 'a', '{"t":1}', 1, 0, 1, 1000, 900, '{"t":1}'];
  for (const [k, v] of Object.entries(over)) r[Number(k)] = v;
  return r as unknown as OutboxMessage;
};

describe('COPY binary encoding', () => {
  it('twelve fields a message in the table order, each as its type sends it', () => {
    const [r] = parse(binaryMessages(batch([row()]), 'gw-1', 'jsonb'));
    expect(r).toHaveLength(12);
    const f = r as Buffer[];
    expect(f[0]?.toString()).toBe('gw-1');
    expect(f[1]?.readBigInt64BE(0)).toBe(7n);
    expect(micros(f[2])).toBe(900_000n - PG_EPOCH_US);
    expect(micros(f[3])).toBe(1_000_000n - PG_EPOCH_US);
    expect(f[4]?.toString()).toBe('tele/a/state');
    expect(f[5]?.toString()).toBe('a');
    expect(f[6]?.toString()).toBe('{"t":1}');
    expect(f[7]).toBeNull();
    expect(f[8]?.readInt16BE(0)).toBe(1);
    expect([...(f[9] as Buffer)]).toEqual([0]);
    expect([...(f[10] as Buffer)]).toEqual([1]);
    // jsonb: version 1, then the JSON text.
    expect(f[11]?.[0]).toBe(1);
    expect(f[11]?.subarray(1).toString()).toBe('{"t":1}');
  });

  it('readings as json: the JSON text alone (schemas made by this version)', () => {
    const [r] = parse(binaryMessages(batch([row()]), 'gw-1', 'json'));
    expect((r as Buffer[])[11]?.toString()).toBe('{"t":1}');
  });

  it('writes times as exact microseconds since 2000, before 1970 and far ahead too', () => {
    const times = [
      0, -1, 946_684_800_000, 946_684_799_999, 1_764_000_000_123, 253_402_300_799_999, -62_135_596_800_000,
    ];
    const rows = parse(binaryMessages(batch(times.map((ts) => row({ 8: ts, 7: ts }))), 's', 'json'));
    for (const [i, ts] of times.entries()) {
      expect(micros(rows[i]?.[2])).toBe(BigInt(ts) * 1000n - PG_EPOCH_US);
      expect(micros(rows[i]?.[3])).toBe(BigInt(ts) * 1000n - PG_EPOCH_US);
    }
  });

  it('text as its UTF-8 bytes, unescaped; bytes and U+0000 payloads as bytea; NULLs as -1', () => {
    const awkward = 'tab\there\nnew\rcr\\back \\N ü€😀';
    const blob = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
    const rows = parse(
      binaryMessages(
        batch([
          row({ 1: awkward, 2: null, 3: awkward, 9: null }),
          row({ 3: blob }),
          row({ 3: 'a\0b' }),
          row({ 3: null }),
          row({ 3: '' }),
        ]),
        'ü',
        'json',
      ),
    );
    expect(rows[0]?.[0]?.toString()).toBe('ü');
    expect(rows[0]?.[4]?.toString()).toBe(awkward);
    expect(rows[0]?.[5]).toBeNull();
    expect(rows[0]?.[6]?.toString()).toBe(awkward);
    expect(rows[0]?.[11]).toBeNull();
    expect(rows[1]?.[6]).toBeNull();
    expect(rows[1]?.[7]?.equals(blob)).toBe(true);
    expect(rows[2]?.[6]).toBeNull();
    expect(rows[2]?.[7]?.toString()).toBe('a\0b');
    expect(rows[3]?.slice(6, 8)).toEqual([null, null]);
    expect(rows[4]?.[6]?.length).toBe(0);
  });

  it('grows past its first guess for payloads larger than the batch said', () => {
    const big = `${'x\t€'.repeat(400_000)}😀`;
    const rows = parse(binaryMessages(batch([row({ 3: big }), row({ 0: 8, 3: big })], [], 10), 's', 'json'));
    expect(rows.map((r) => r[6]?.toString() === big)).toEqual([true, true]);
  });

  it('readings_at rows: six fields, values as float8 bits, non-finite ones included', () => {
    const values = [0.1 + 0.2, Number.NaN, Number.NEGATIVE_INFINITY, 5e-324];
    const rows = parse(
      binaryReadings(
        batch(
          [row()],
          values.map((v, i) => [7, i ? 'a' : null, `m${i}`, 1000 + i, v]),
        ),
        'src',
      ),
    );
    expect(rows).toHaveLength(4);
    for (const [i, v] of values.entries()) {
      const r = rows[i] as (Buffer | null)[];
      expect(r).toHaveLength(6);
      expect(r[0]?.toString()).toBe('src');
      expect(r[1]?.readBigInt64BE(0)).toBe(7n);
      expect(r[2]?.toString() ?? null).toBe(i ? 'a' : null);
      expect(r[3]?.toString()).toBe(`m${i}`);
      expect(micros(r[4])).toBe(BigInt(1000 + i) * 1000n - PG_EPOCH_US);
      expect(Object.is(r[5]?.readDoubleBE(0), v)).toBe(true);
    }
  });
});
