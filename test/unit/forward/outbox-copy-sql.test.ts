import { describe, expect, it } from 'vitest';
import { supportsCopySql, tuplesWellFormed } from '../../../src/forward/outbox-copy-sql.js';
import { binaryMessages } from '../../../src/forward/pg-copy-binary.js';
import type { OutboxMessage } from '../../../src/forward/types.js';

const row = (id: number, payload: string | Uint8Array | null = '{"t":1}'): OutboxMessage =>
  [id, 'tele/a/state', 'a', payload, 1, 0, 0, 1000, 900, '{"t":1}'] as const;

/** The tuples of binaryMessages without COPY's header (19 bytes) and trailer (2). */
function tuples(ids: number[]): Buffer {
  const messages = ids.map((id, i) => row(id, i % 2 ? null : new Uint8Array([0, 1])));
  const b = binaryMessages(
    { afterId: 0, lastId: ids.at(-1) ?? 0, messages, readingsAt: [], bytes: 0 },
    'src',
    'json',
  );
  return b.subarray(19, b.length - 2);
}

describe('tuplesWellFormed', () => {
  it('accepts exactly the tuples asked for, ids increasing inside (after, last]', () => {
    expect(tuplesWellFormed(tuples([5, 6, 9]), 3, 4, 9)).toBe(true);
  });

  it('refuses ids out of order, at or below the cursor, or not ending at last', () => {
    expect(tuplesWellFormed(tuples([6, 5, 9]), 3, 4, 9)).toBe(false);
    expect(tuplesWellFormed(tuples([5, 6, 9]), 3, 5, 9)).toBe(false);
    expect(tuplesWellFormed(tuples([5, 6, 9]), 3, 4, 10)).toBe(false);
  });

  it('refuses a count that does not match, cut or trailing bytes', () => {
    const t = tuples([5, 6, 9]);
    expect(tuplesWellFormed(t, 2, 4, 6)).toBe(false);
    expect(tuplesWellFormed(t, 4, 4, 9)).toBe(false);
    expect(tuplesWellFormed(t.subarray(0, t.length - 1), 3, 4, 9)).toBe(false);
    expect(tuplesWellFormed(Buffer.concat([t, Buffer.from([0])]), 3, 4, 9)).toBe(false);
  });
});

describe('supportsCopySql', () => {
  it('needs SQLite 3.44 or later', () => {
    expect(supportsCopySql('3.43.2')).toBe(false);
    expect(supportsCopySql('3.44.0')).toBe(true);
    expect(supportsCopySql('3.53.2')).toBe(true);
    expect(supportsCopySql('4.0.0')).toBe(true);
  });
});
