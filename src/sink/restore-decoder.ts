/**
 * At open, before the first batch: hand the decoder the newest stored message of each topic it
 * asks for (DecodeFn.restore), oldest first, so per-source state survives a restart. Sparkplug B
 * asks for `spBv1.0/*\/[ND]BIRTH/*`: the last NBIRTH and DBIRTHs name the aliases DATA will use.
 * messages has no index on topic, so this is one scan of the table at start (about a second per few
 * million rows); it runs only when the decoder asks, i.e. when a Sparkplug rule exists.
 */
import type Database from 'better-sqlite3';
import type { DecoderRestore } from './types.js';

export function restoreDecoderState(db: Database.Database, restore: DecoderRestore): number {
  const rows = db
    .prepare<[string], { topic: string; payload: Buffer | string | null }>(
      `SELECT topic, payload FROM messages
        WHERE id IN (SELECT max(id) FROM messages WHERE topic GLOB ? GROUP BY topic)
        ORDER BY id`,
    )
    .iterate(restore.glob);
  let fed = 0;
  for (const row of rows) {
    if (row.payload === null) continue;
    const bytes =
      typeof row.payload === 'string' ? new TextEncoder().encode(row.payload) : new Uint8Array(row.payload);
    restore.feed(row.topic, bytes);
    fed++;
  }
  return fed;
}
