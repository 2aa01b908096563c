/**
 * A new file gets the current schema in one transaction (migrations/index.ts); an old file gets it
 * step by step. Both must end with exactly the same tables, indexes, views and definitions.
 */
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION } from '../../../src/sink/migrations/index.js';
import { V1 } from '../../../src/sink/migrations/v1.js';

it('a new file and a migrated schema-1 file have the same schema', () => {
  const fresh = new Database(':memory:');
  const old = new Database(':memory:');
  try {
    expect(migrate(fresh)).toBe(0);
    old.exec(V1);
    old.pragma('user_version = 1');
    expect(migrate(old)).toBe(1);
    const schema = 'SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name';
    expect(fresh.prepare(schema).all()).toEqual(old.prepare(schema).all());
    for (const db of [fresh, old]) expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  } finally {
    fresh.close();
    old.close();
  }
});
