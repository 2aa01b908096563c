/**
 * Schema versions, applied in order at open. PRAGMA user_version records the last applied one.
 * A version is applied in one transaction with its bump (v1), or in resumable steps that each commit
 * with their progress (v2: see v2.ts), so a crash leaves a state the next open continues from.
 * Append new versions; never edit a released one.
 */
import type Database from 'better-sqlite3';
import { V1 } from './v1.js';
import { migrateToV2 } from './v2.js';
import { V2_FINISH, V2_READINGS_VIEW, V2_SCHEMA } from './v2-schema.js';
import { V3_RETENTION } from './v3-retention.js';
import { V4_ONE_MESSAGE_INDEX } from './v4-one-message-index.js';
import { V5_READINGS_DEVICE } from './v5-readings-device.js';
import { V6_INSTANCE } from './v6-instance.js';

export interface MigrationProgress {
  /** Version being migrated to. */
  readonly version: number;
  /** Units (messages, by id) done and to do. */
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

export type MigrationProgressFn = (p: MigrationProgress) => void;

/** Progress is reported at most this often (and once at the end of each version). */
const PROGRESS_EVERY_MS = 2000;

type Step = (db: Database.Database, onProgress: (done: number, total: number) => void) => void;

const STEPS: readonly Step[] = [
  (db) =>
    db
      .transaction(() => {
        // Re-read inside the lock: another process may have migrated while we waited.
        if (version(db) !== 0) return;
        db.exec(V1);
        db.pragma('user_version = 1');
      })
      .immediate(),
  (db, onProgress) => migrateToV2(db, (p) => onProgress(p.done, p.total)),
  (db) =>
    db
      .transaction(() => {
        if (version(db) !== 2) return;
        db.exec(V3_RETENTION);
        db.pragma('user_version = 3');
      })
      .immediate(),
  // One statement batch: rebuilding the index reads the table once (seconds for millions of rows),
  // and a crash before the commit leaves schema 3 intact for the next open to retry.
  (db) =>
    db
      .transaction(() => {
        if (version(db) !== 3) return;
        db.exec(V4_ONE_MESSAGE_INDEX);
        db.pragma('user_version = 4');
      })
      .immediate(),
  (db) =>
    db
      .transaction(() => {
        if (version(db) !== 4) return;
        db.exec(V5_READINGS_DEVICE);
        db.pragma('user_version = 5');
      })
      .immediate(),
  (db) =>
    db
      .transaction(() => {
        if (version(db) !== 5) return;
        db.exec(V6_INSTANCE);
        db.pragma('user_version = 6');
      })
      .immediate(),
];

export const SCHEMA_VERSION = STEPS.length;

/** Brings the schema to SCHEMA_VERSION; returns the version found before. */
export function migrate(db: Database.Database, onProgress?: MigrationProgressFn): number {
  const found = version(db);
  if (found > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${found} is newer than this mqlite understands (${SCHEMA_VERSION})`,
    );
  }
  // A new file: every version's schema in one transaction (one commit, one fsync) instead of one
  // per step; the same statements in the same order, so it ends exactly where the steps would.
  if (found === 0) {
    db.transaction(() => {
      if (version(db) !== 0) return;
      db.exec(V1);
      db.exec(V2_SCHEMA);
      db.exec(V2_READINGS_VIEW);
      db.exec(V2_FINISH);
      db.exec(V3_RETENTION);
      db.exec(V4_ONE_MESSAGE_INDEX);
      db.exec(V5_READINGS_DEVICE);
      db.exec(V6_INSTANCE);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }
  for (let v = version(db); v < SCHEMA_VERSION; v++) {
    const started = performance.now();
    let reported = started;
    let last: MigrationProgress | undefined;
    (STEPS[v] as Step)(db, (done, total) => {
      const now = performance.now();
      last = { version: v + 1, done, total, elapsedMs: Math.round(now - started) };
      if (now - reported >= PROGRESS_EVERY_MS) {
        reported = now;
        onProgress?.(last);
      }
    });
    if (last !== undefined && onProgress && last.done === last.total) {
      onProgress({ ...last, elapsedMs: Math.round(performance.now() - started) });
    }
  }
  return found;
}

function version(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}
