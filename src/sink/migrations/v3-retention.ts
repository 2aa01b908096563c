/**
 * Schema 3, owned by retention: the protection table that keeps undelivered messages from being
 * purged. Plus incremental auto-vacuum for new databases, which is not a version (it must be set
 * before schema 1 creates the first table). No index is added: every purge step is already a range
 * on an existing key (messages and dead_letters by rowid, readings_at by readings_at_message's
 * leading message_id, rollup_5m/1h by their clustered (bucket, series_id) key).
 */
import type { Database } from 'better-sqlite3';

/**
 * New databases give free pages back a little at a time (PRAGMA incremental_vacuum(N) after a purge)
 * instead of keeping the file at its high-water mark. auto_vacuum can only change while the file has
 * no table (sqlite.org/pragma.html#pragma_auto_vacuum), so this runs before the first migration; an
 * existing database keeps its mode (full reuse of free pages, no shrinking) until `mqlite vacuum --full`.
 */
export function incrementalVacuumIfNew(db: Database): void {
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as {
    n: number;
  };
  if (tables.n === 0) db.pragma('auto_vacuum = INCREMENTAL');
}

/**
 * One row per consumer that must see messages before purge may delete them (the forwarder, issue
 * 11/13): purge never deletes a message with id > min(after_id). The consumer advances after_id only
 * once the remote end has committed. A consumer that stops advancing stops the disk budget from being
 * met: mqlite_retention_budget_unmet says so (deploy/prometheus/alerts.yml). Delete its row to release.
 */
export const V3_RETENTION = `
CREATE TABLE purge_protect (
  consumer   TEXT PRIMARY KEY,
  after_id   INTEGER NOT NULL,            -- messages.id up to which this consumer is done
  updated_at INTEGER NOT NULL             -- ms since epoch
);
`;
