import { describe, expect, it } from 'vitest';
import {
  copyBytes,
  copyMessages,
  copyReadings,
  copyText,
  messageArrays,
  payloadColumns,
} from '../../../src/forward/pg-encode.js';
import { M, type OutboxBatch, type OutboxMessage } from '../../../src/forward/types.js';

interface MessageFields {
  id: number;
  topic: string;
  device: string | null;
  payload: string | Uint8Array | null;
  qos: number;
  retain: number;
  dup: number;
  receivedAt: number;
  ts: number;
  readings: string | null;
}

/** A messages row as the outbox reads it, from named fields. */
function msg(over: Partial<MessageFields> = {}): OutboxMessage {
  const f: MessageFields = {
    id: 7,
    topic: 'tele/a/state',
    device: 'a',
    payload: '{"t":1}',
    qos: 1,
    retain: 0,
    dup: 1,
    receivedAt: 1000,
    ts: 900,
    readings: '{"t":1}',
    ...over,
  };
  return [f.id, f.topic, f.device, f.payload, f.qos, f.retain, f.dup, f.receivedAt, f.ts, f.readings];
}

function batch(messages: OutboxMessage[], readingsAt: OutboxBatch['readingsAt'] = []): OutboxBatch {
  return { afterId: 0, lastId: messages.at(-1)?.[M.id] ?? 0, messages, readingsAt, bytes: 0 };
}

/** COPY text format decoding, as PostgreSQL does it, for the round-trip check. */
function uncopy(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\' })[c] ?? c);
}

describe('COPY text encoding', () => {
  it('escapes exactly the characters COPY gives meaning to, and reads back the same', () => {
    for (const s of ['plain', 'tab\there', 'line\nbreak', 'cr\rx', 'back\\slash', '\\N', 'ü€😀', '']) {
      const enc = copyText(s);
      expect(enc).not.toMatch(/[\t\n\r]/);
      expect(uncopy(enc)).toBe(s);
    }
    expect(copyText(null)).toBe('\\N');
  });

  it('writes bytes as escaped hex, which bytea reads after COPY unescapes it', () => {
    expect(copyBytes(new Uint8Array([0, 255, 16]))).toBe('\\\\x00ff10');
    expect(uncopy(copyBytes(new Uint8Array([1, 2])))).toBe('\\x0102');
    expect(copyBytes(null)).toBe('\\N');
  });

  it('puts a payload PostgreSQL text cannot hold (U+0000, not UTF-8) in bytes', () => {
    expect(payloadColumns('ok')).toEqual({ text: 'ok', raw: null });
    expect(payloadColumns('a\0b')).toEqual({ text: null, raw: Buffer.from('a\0b') });
    const blob = new Uint8Array([0xff, 0xfe]);
    expect(payloadColumns(blob)).toEqual({ text: null, raw: blob });
    expect(payloadColumns(null)).toEqual({ text: null, raw: null });
  });

  it('one line per message, eleven fields in staging-table order', () => {
    const text = copyMessages(
      batch([msg(), msg({ id: 8, device: null, payload: new Uint8Array([1]), readings: null })]),
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[0]?.split('\t')).toEqual([
      '7',
      '900',
      '1000',
      'tele/a/state',
      'a',
      '{"t":1}',
      '\\N',
      '1',
      'f',
      't',
      '{"t":1}',
    ]);
    expect(lines[1]?.split('\t')).toEqual([
      '8',
      '900',
      '1000',
      'tele/a/state',
      '\\N',
      '\\N',
      '\\\\x01',
      '1',
      'f',
      't',
      '\\N',
    ]);
  });

  it('keeps every digit of a reading and spells non-finite values as PostgreSQL does', () => {
    const text = copyReadings(
      batch(
        [msg()],
        [
          [7, 'a', 'x', 5, 0.1 + 0.2],
          [7, null, 'y', 6, Number.NEGATIVE_INFINITY],
        ],
      ),
    );
    expect(text).toBe('7\ta\tx\t5\t0.30000000000000004\n7\t\\N\ty\t6\t-Infinity\n');
  });
});

describe('unnest arrays', () => {
  it('one array per column, each as long as the batch, payload split into text and bytes', () => {
    const cols = messageArrays(batch([msg(), msg({ id: 8, payload: 'x\0' })]));
    expect(cols).toHaveLength(11);
    for (const c of cols) expect(c).toHaveLength(2);
    expect(cols[0]).toEqual([7, 8]);
    expect(cols[5]).toEqual(['{"t":1}', null]);
    expect(cols[6]).toEqual([null, Buffer.from('x\0')]);
    expect(cols[8]).toEqual([false, false]);
    expect(cols[9]).toEqual([true, true]);
  });
});
