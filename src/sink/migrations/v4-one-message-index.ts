/**
 * Schema 4: one index on messages for both the device range and redelivery, instead of two.
 *
 * Schema 1 kept `messages(device, ts)` for range reads and a unique `messages(ts, identity)` (odd
 * identities) so that a redelivered copy inserts nothing. Each message paid two index entries, 55 of
 * the 252 bytes a bench message took on disk (issue #11's target is 234). An identity hashes the
 * topic and the payload bytes, and the device is a function of the topic (and payload), so
 * (ts, identity) equal implies device equal: uniqueness over (device, ts, identity) refuses exactly the
 * same copies. One index with identity behind (device, ts) serves both, at ~9 bytes more per entry.
 *
 * Two cases keep a small partial index of their own:
 *   - device NULL: SQLite treats NULLs as distinct in a unique index, so (NULL, ts, identity) would
 *     never conflict. Those rows (topics no template names a device in) keep the (ts, identity) rule.
 *   - even identities (ts is the receive time, so a copy has another ts): messages_identity from
 *     schema 1 stays as it is.
 * Rows without identity (NULL) never conflict, as before: only DUP/RETAIN copies are looked up
 * (redelivery.ts), through this same index.
 *
 * The name messages_device_ts stays, so query plans and tools that name it keep working.
 *
 * It also adds the rollups' row to purge_protect (see the SQL below).
 *
 * Odd identities also shrink to 47 bits from here on (identity-hash.ts: 6 bytes instead of 8). A
 * redelivery of a message stored before the upgrade must still find its row, and the only messages
 * that can still be redelivered are those committed but not yet acknowledged when the old process
 * stopped: the newest rows, at most the broker's window (Receive Maximum, 10000 by default). Their
 * identities are rewritten the same way (the newest REWRITE_TAIL_ROWS ids, a range on the rowid).
 * OR IGNORE: should two of them meet on 47 bits (never seen; ~2^-46 per pair in one millisecond of
 * one device) the migration keeps the older key for one row instead of failing to open.
 * Older rows keep 64-bit keys, which no new odd key (< 2^47) can equal.
 */
const REWRITE_TAIL_ROWS = 100_000;

export const V4_ONE_MESSAGE_INDEX = `
DROP INDEX messages_identity_ts;
DROP INDEX messages_device_ts;
CREATE UNIQUE INDEX messages_device_ts ON messages(device, ts, identity);
CREATE UNIQUE INDEX messages_identity_ts ON messages(ts, identity) WHERE identity & 1 = 1 AND device IS NULL;
UPDATE OR IGNORE messages SET identity = identity & 140737488355327
 WHERE id > (SELECT ifnull(max(id), 0) FROM messages) - ${REWRITE_TAIL_ROWS}
   AND identity & 1 = 1 AND identity <> identity & 140737488355327;
-- The rollups' cursor (pending-rollups.ts): latest and the rollups count every message up
-- to after_id. Schemas 2-3 wrote them with every batch, so they count everything stored so far.
INSERT OR IGNORE INTO purge_protect (consumer, after_id, updated_at)
  VALUES ('rollups', (SELECT ifnull(max(id), 0) FROM messages), CAST(unixepoch('subsec') * 1000 AS INTEGER));
`;
