/**
 * Awkward rows through each forwarding method into the machine's PostgreSQL and back: COPY's
 * special characters, non-ASCII, U+0000, bytes that are not UTF-8, NULLs, a multi-megabyte
 * payload, times before 1970 and far ahead, non-finite readings. What a user reads back must be
 * what was stored locally, and a re-sent batch (copy-direct: a unique violation, then the staging
 * path) must add nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ForwardMethod, PgDestination } from '../../src/forward/pg-destination.js';
import type { OutboxBatch, OutboxMessage, OutboxReading } from '../../src/forward/types.js';
import { PG, type TestSchema, testSchema } from '../helpers/pg-test-schema.js';

const AWKWARD = 'tab\there\nnew\r\ncr\\back\\\\ \\N \\x41 ü€😀 \u2028';
const HUGE = `${'{"k":"\\\\\t\n€"}'.repeat(200_000)}`;

function message(id: number, over: Partial<Record<number, unknown>>): OutboxMessage {
  const r: unknown[] = [
    id,
    'plain/topic',
    'dev',
    '{"v":1}',
    1,
    0,
    0,
    1_764_000_000_000 + id,
    1_764_000_000_000,
    '{"v":1}',
  ];
  for (const [k, v] of Object.entries(over)) r[Number(k)] = v;
  return r as unknown as OutboxMessage;
}

const messages: OutboxMessage[] = [
  message(1, { 1: AWKWARD, 2: AWKWARD, 3: AWKWARD }),
  message(2, { 2: null, 3: null, 9: null }),
  message(3, { 3: new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x5c, 0x09, 0x0a]) }),
  message(4, { 3: 'before\0after' }),
  message(5, { 3: '' }),
  message(6, { 3: HUGE, 9: '{"ü\\t":1.5,"a\\\\b":-2e-300,"€":12345678901234567890}' }),
  message(7, { 8: -1, 7: 0 }),
  message(8, { 8: -62_135_596_800_000, 7: 253_402_300_799_999 }),
  message(9, { 8: 946_684_799_999, 7: 946_684_800_001, 4: 2, 5: 1, 6: 1 }),
  message(10, { 3: new Uint8Array(300_000).map((_, i) => i % 256) }),
];

const readingsAt: OutboxReading[] = [
  [1, AWKWARD, AWKWARD, -1, 0.1 + 0.2],
  [1, null, 'nan', 946_684_800_000, Number.NaN],
  [6, 'dev', 'inf', 1_764_000_000_000, Number.NEGATIVE_INFINITY],
  [6, 'dev', 'tiny', 1_764_000_000_001, 5e-324],
];

function batchOf(rows: OutboxMessage[], readings: OutboxReading[]): OutboxBatch {
  return { afterId: 0, lastId: rows.at(-1)?.[0] ?? 0, messages: rows, readingsAt: readings, bytes: 1000 };
}

function asBytes(p: OutboxMessage[3]): Buffer | null {
  if (p === null) return null;
  return typeof p === 'string' ? Buffer.from(p) : Buffer.from(p);
}

describe.each(['copy', 'copy-direct', 'unnest'] as ForwardMethod[])(
  'forwarding awkward rows (%s)',
  (method) => {
    let pg: TestSchema;
    let dest: PgDestination;

    beforeEach(async () => {
      pg = await testSchema();
      dest = new PgDestination({
        connection: { ...PG, tls: { mode: 'disable' } },
        schema: pg.name,
        source: 'gw ü\t1',
        connectTimeoutMs: 5000,
        batchTimeoutMs: 20_000,
        method,
      });
    });

    afterEach(async () => {
      await dest.close();
      await pg.drop();
    });

    it('reads back in PostgreSQL exactly as stored, and a re-send adds nothing', async () => {
      expect(await dest.open()).toBe(0);
      const batch = batchOf(messages, readingsAt);
      dest.prepare(batch);
      expect((await dest.write(batch)).inserted).toBe(messages.length);

      const rows = await pg.rows<{
        source: string;
        id: string;
        ts: Date;
        received_at: Date;
        topic: string;
        device: string | null;
        payload: string | null;
        payload_raw: Buffer | null;
        qos: number;
        retain: boolean;
        dup: boolean;
        readings: unknown;
      }>(`SELECT * FROM ${pg.name}.messages ORDER BY id`);
      expect(rows).toHaveLength(messages.length);
      for (const [i, m] of messages.entries()) {
        const r = rows[i]!;
        expect(r.source).toBe('gw ü\t1');
        expect(Number(r.id)).toBe(m[0]);
        expect(r.topic).toBe(m[1]);
        expect(r.device).toBe(m[2]);
        const p = m[3];
        // Text PostgreSQL can hold stays text; bytes and U+0000 go to payload_raw.
        if (typeof p === 'string' && !p.includes('\0')) {
          expect(r.payload).toBe(p);
          expect(r.payload_raw).toBeNull();
        } else {
          expect(r.payload).toBeNull();
          expect(r.payload_raw?.equals(asBytes(p) as Buffer) ?? r.payload_raw).toBe(p === null ? null : true);
        }
        expect([r.qos, r.retain, r.dup]).toEqual([m[4], m[5] === 1, m[6] === 1]);
        expect(r.received_at.getTime()).toBe(m[7]);
        expect(r.ts.getTime()).toBe(m[8]);
        expect(r.readings).toEqual(m[9] === null ? null : JSON.parse(m[9]));
      }
      // float8 as text so that NaN, -Infinity and the smallest subnormal are compared exactly.
      const readings = await pg.rows<{
        message_id: string;
        device: string | null;
        metric: string;
        ts: Date;
        v: string;
      }>(
        `SELECT message_id, device, metric, ts, value::text AS v FROM ${pg.name}.readings_at ORDER BY message_id, ts`,
      );
      expect(
        readings.map((r) => [Number(r.message_id), r.device, r.metric, r.ts.getTime(), Number(r.v)]),
      ).toEqual(readingsAt.map((r) => [...r]));

      // The acknowledgement was lost: the same batch again, on a new connection, adds nothing.
      dest.drop();
      expect(await dest.open()).toBe(10);
      if (method === 'copy-direct') {
        // The direct COPY hits the rows already there; the next try goes through staging.
        await expect(dest.write(batch)).rejects.toMatchObject({ code: '23505' });
        dest.drop();
        await dest.open();
      }
      expect(await dest.write(batch)).toEqual({ inserted: 0 });
      expect(await pg.count('messages')).toBe(messages.length);
      expect(await pg.count('readings_at')).toBe(readingsAt.length);
      const cursor = await pg.rows<{ after_id: string; messages: string }>(
        `SELECT after_id, messages FROM ${pg.name}.forward_cursor`,
      );
      expect(cursor).toEqual([{ after_id: '10', messages: String(messages.length) }]);
    });
  },
);

describe('copy-direct into a table whose column types were changed', () => {
  let pg: TestSchema;
  const dests: PgDestination[] = [];
  const destination = (method: ForwardMethod): PgDestination => {
    const d = new PgDestination({
      connection: { ...PG, tls: { mode: 'disable' } },
      schema: pg.name,
      source: 'gw',
      connectTimeoutMs: 5000,
      batchTimeoutMs: 20_000,
      method,
    });
    dests.push(d);
    return d;
  };

  beforeEach(async () => {
    pg = await testSchema();
  });

  afterEach(async () => {
    for (const d of dests.splice(0)) await d.close();
    await pg.drop();
  });

  it('says which setting to change, and method copy then delivers the same batch', async () => {
    const direct = destination('copy-direct');
    await direct.open();
    await pg.client.query(`ALTER TABLE ${pg.name}.messages ALTER qos TYPE integer`);
    const batch = batchOf(messages.slice(0, 3), []);
    const err = await direct.write(batch).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MQLITE_FORWARD_COLUMN_TYPES' });
    expect((err as Error).message).toMatch(/forward\.postgres\.method: copy/);
    expect(await pg.count('messages')).toBe(0);

    const viaText = destination('copy');
    expect(await viaText.open()).toBe(0);
    expect(await viaText.write(batch)).toEqual({ inserted: 3 });
    expect(await pg.rows(`SELECT id::int, qos FROM ${pg.name}.messages ORDER BY id`)).toEqual([
      { id: 1, qos: 1 },
      { id: 2, qos: 1 },
      { id: 3, qos: 1 },
    ]);
  });
});
