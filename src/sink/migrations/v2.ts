/**
 * Schema 1 → 2 (see v2-schema.ts for the result). Three steps, each its own transaction, so a
 * large file migrates in bounded transactions and a killed migration resumes where it stopped:
 *   1. create the new tables and columns, and record a cursor (mqlite_migration) at 0;
 *   2. chunk by chunk of message ids: write each message's samples into messages.readings, fold them
 *      into latest and the rollups (the write path's own code: rollups.ts + rollup-writer.ts), advance
 *      the cursor — all in one transaction, so a chunk is done exactly once;
 *   3. replace the readings view, drop samples and the cursor, set user_version = 2.
 */
import type Database from 'better-sqlite3';
import { readingsJson } from '../readings-json.js';
import { RollupWriter } from '../rollup-writer.js';
import { BatchAggregator } from '../rollups.js';
import type { Reading } from '../types.js';
import { V2_FINISH, V2_READINGS_VIEW, V2_SCHEMA } from './v2-schema.js';

/** Messages per chunk transaction: ~50k samples, a few MB of WAL, well under a second. */
const CHUNK_MESSAGES = 10_000;

export interface MoveProgress {
  /** Messages (by id) moved so far, and the id to reach. */
  readonly done: number;
  readonly total: number;
}

export function migrateToV2(
  db: Database.Database,
  onChunk: (p: MoveProgress) => void,
  chunkMessages = CHUNK_MESSAGES,
): void {
  // IMMEDIATE: take the write lock up front, and re-read the version inside it, so that two processes
  // opening one file cannot both migrate.
  db.transaction(() => {
    if (version(db) !== 1 || hasTable(db, 'mqlite_migration')) return;
    db.exec(V2_SCHEMA);
    const lastId = (db.prepare('SELECT max(id) FROM messages').pluck().get() as number | null) ?? 0;
    db.prepare('INSERT INTO mqlite_migration (version, cursor, last_id) VALUES (2, 0, ?)').run(lastId);
  }).immediate();

  const state = db.prepare<[], { cursor: number; last_id: number }>(
    'SELECT cursor, last_id FROM mqlite_migration WHERE version = 2',
  );
  const samples = db
    .prepare<[number, number], [number, number, string | null, string, number]>(
      `SELECT s.message_id, m.ts, m.device, r.metric, s.value
         FROM samples s JOIN messages m ON m.id = s.message_id JOIN series r ON r.id = s.series_id
        WHERE s.message_id > ? AND s.message_id <= ?
        ORDER BY s.message_id, s.series_id`,
    )
    .raw();
  const setReadings = db.prepare('UPDATE messages SET readings = ? WHERE id = ?');
  const advance = db.prepare('UPDATE mqlite_migration SET cursor = ? WHERE version = 2');
  const rollups = new RollupWriter(db);
  const agg = new BatchAggregator();

  const chunk = db.transaction((): MoveProgress | undefined => {
    if (version(db) !== 1) return undefined;
    const s = state.get();
    if (s === undefined || s.cursor >= s.last_id) return undefined;
    const to = Math.min(s.cursor + chunkMessages, s.last_id);
    agg.clear();
    let current = -1;
    let ts = 0;
    let device: string | null = null;
    let readings: Reading[] = [];
    const flush = (): void => {
      if (current >= 0) setReadings.run(readingsJson(readings), current);
    };
    // all(), not iterate(): better-sqlite3 cannot write while a statement is being stepped.
    for (const [id, mts, dev, metric, value] of samples.all(s.cursor, to)) {
      if (id !== current) {
        flush();
        current = id;
        ts = mts;
        device = dev;
        readings = [];
      }
      readings.push({ metric, value });
      agg.add(device, metric, ts, value, id);
    }
    flush();
    rollups.write(agg);
    advance.run(to);
    return { done: to, total: s.last_id };
  }).immediate;

  for (;;) {
    let p: MoveProgress | undefined;
    try {
      p = chunk();
    } catch (err) {
      rollups.forgetUncommitted();
      throw err;
    }
    if (p === undefined) break;
    onChunk(p);
  }

  db.transaction(() => {
    if (version(db) !== 1) return;
    db.exec(V2_READINGS_VIEW);
    db.exec(V2_FINISH);
    db.pragma('user_version = 2');
  }).immediate();
}

function version(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}
