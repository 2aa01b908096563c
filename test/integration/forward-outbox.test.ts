/**
 * Outbox.readBatch on a file the sink wrote: the rows after the cursor in id order, none skipped
 * or repeated across the chunks it reads them in, and the batch's bounds as documented: at most
 * maxMessages, stopping at the row that reaches maxBytes (at least one row), readings_at rows of
 * exactly the messages read.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/forward/outbox.js';
import { M, R } from '../../src/forward/types.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { tmpDir } from '../helpers/tmp.js';

interface Row {
  id: number;
  size: number;
}

/** Every message's id and its size as the batch counts it (payload + readings + topic). */
function reference(path: string): Row[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, topic, payload, readings FROM messages ORDER BY id').all() as {
      id: number;
      topic: string;
      payload: string | Buffer | null;
      readings: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      size:
        (r.payload === null ? 0 : typeof r.payload === 'string' ? r.payload.length : r.payload.byteLength) +
        (r.readings?.length ?? 0) +
        r.topic.length,
    }));
  } finally {
    db.close();
  }
}

describe('Outbox.readBatch', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let path: string;
  let box: Outbox;
  let all: Row[];

  beforeEach(() => {
    tmp = tmpDir('mqlite-outbox-');
    path = join(tmp.dir, 'm.db');
    writeOutbox(path, 1, 2600);
    all = reference(path);
    box = new Outbox({ path, busyTimeoutMs: 2000 });
  });

  afterEach(() => {
    box.close();
    tmp.cleanup();
  });

  it('reads every row after the cursor once, in id order, up to maxMessages, across chunks', () => {
    for (const [after, max] of [
      [0, 100_000],
      [0, 1],
      [0, 17],
      [0, 1016],
      [5, 2000],
      [1234, 1000],
      [2599, 50],
    ] as const) {
      const b = box.readBatch(after, max, 1024 ** 3);
      const want = all.filter((r) => r.id > after).slice(0, max);
      expect(b?.messages.map((m) => m[M.id])).toEqual(want.map((r) => r.id));
      expect(b?.lastId).toBe(want.at(-1)?.id);
      expect(b?.afterId).toBe(after);
      expect(b?.bytes).toBe(want.reduce((n, r) => n + r.size, 0));
    }
    expect(box.readBatch(2600, 10, 1024 ** 3)).toBeUndefined();
  });

  it('stops at the row that reaches maxBytes, and always takes one', () => {
    for (const rows of [1, 2, 16, 17, 700, 1500, 2600]) {
      const maxBytes = all.slice(0, rows).reduce((n, r) => n + r.size, 0);
      const b = box.readBatch(0, 100_000, maxBytes);
      expect(b?.messages.length).toBe(rows);
      // One byte less: the same rows (the last one reaches the bound).
      expect(box.readBatch(0, 100_000, maxBytes - 1)?.messages.length).toBe(rows);
    }
    expect(box.readBatch(0, 100_000, 1)?.messages.length).toBe(1);
  });

  it('pending: how many messages wait after the cursor and when the first of them was received', () => {
    const db = new Database(path, { readonly: true });
    const at = db.prepare('SELECT received_at AS at FROM messages WHERE id = ?');
    try {
      for (const after of [0, 1, 1234, 2599]) {
        const first = all.find((r) => r.id > after);
        expect(box.pending(after)).toEqual({
          messages: 2600 - after,
          oldestReceivedAt: (at.get(first?.id) as { at: number }).at,
        });
      }
    } finally {
      db.close();
    }
    expect(box.pending(2600)).toBeUndefined();
  });

  it('returns the readings_at rows of exactly the messages read', () => {
    const b = box.readBatch(0, 1016, 1024 ** 3);
    const ids = new Set(b?.readingsAt.map((r) => r[R.messageId]));
    // writeOutbox gives every 50th message a reading of its own time.
    expect([...ids]).toEqual(
      all
        .slice(0, 1016)
        .filter((r) => r.id % 50 === 0)
        .map((r) => r.id),
    );
  });
});
