import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../../src/lib/message.js';
import { FLAG_DUP, FLAG_RETAIN, packBatch, payloadAt } from '../../../src/sink/protocol.js';
import { isRowLevelError, isTransientSqliteCode } from '../../../src/sink/sqlite-errors.js';

function msg(topic: string, payload: string | Buffer, extra: Partial<InboundMessage> = {}): InboundMessage {
  return {
    topic,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: 1_700_000_000_123,
    receivedMono: 0,
    settle: () => {},
    ...extra,
  };
}

describe('packBatch', () => {
  it('round-trips topics, payloads (including empty and binary), qos, flags and times', () => {
    const batch = [
      msg('a/1', '{"t":1}', { qos: 0, retain: true }),
      msg('b/2', '', { qos: 2, dup: true, receivedAt: 5 }),
      msg('c/3', Buffer.from([0xff, 0x00, 0xfe]), { retain: true, dup: true }),
    ];
    const { packed, transfer } = packBatch(batch);
    expect(packed.topics).toEqual(['a/1', 'b/2', 'c/3']);
    expect(Buffer.from(payloadAt(packed, 0)).toString()).toBe('{"t":1}');
    expect(payloadAt(packed, 1).length).toBe(0);
    expect([...payloadAt(packed, 2)]).toEqual([0xff, 0x00, 0xfe]);
    expect([...packed.qos]).toEqual([0, 2, 1]);
    expect([...packed.flags]).toEqual([FLAG_RETAIN, FLAG_DUP, FLAG_RETAIN | FLAG_DUP]);
    expect([...packed.receivedAt]).toEqual([1_700_000_000_123, 5, 1_700_000_000_123]);
    // Every typed array owns its buffer, so transferring cannot detach a message's Buffer.
    expect(transfer).toHaveLength(5);
    expect(new Set(transfer).size).toBe(5);
    expect(transfer).not.toContain(batch[0]?.payload.buffer);
  });

  it('survives a real transfer: the buffers move, the messages keep theirs', () => {
    const batch = [msg('a', 'xyz')];
    const { packed, transfer } = packBatch(batch);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(packed, transfer);
    port1.close();
    port2.close();
    expect(packed.payload.byteLength).toBe(0); // detached here
    expect(batch[0]?.payload.toString()).toBe('xyz');
  });
});

describe('SQLite error classes', () => {
  it.each([
    'SQLITE_BUSY',
    'SQLITE_BUSY_SNAPSHOT',
    'SQLITE_LOCKED',
    'SQLITE_FULL',
    'SQLITE_IOERR',
    'SQLITE_IOERR_WRITE',
    'SQLITE_NOMEM',
    'SQLITE_READONLY_DBMOVED',
    'SQLITE_CANTOPEN',
    'SQLITE_CORRUPT',
  ])('%s is transient: retry the batch', (code) => {
    expect(isTransientSqliteCode(code)).toBe(true);
    expect(isRowLevelError(Object.assign(new Error('x'), { code }))).toBe(false);
  });

  it.each([
    'SQLITE_CONSTRAINT_NOTNULL',
    'SQLITE_CONSTRAINT_PRIMARYKEY',
    'SQLITE_MISMATCH',
    'SQLITE_TOOBIG',
    'SQLITE_BUSYX',
  ])('%s is row-level: split the batch', (code) => {
    expect(isTransientSqliteCode(code)).toBe(false);
    expect(isRowLevelError(Object.assign(new Error('x'), { code }))).toBe(true);
  });

  it('treats an error without a code (a bad binding) as row-level', () => {
    expect(
      isRowLevelError(new TypeError('SQLite3 can only bind numbers, strings, bigints, buffers, and null')),
    ).toBe(true);
  });
});
