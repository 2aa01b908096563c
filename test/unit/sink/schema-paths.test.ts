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

it('every file gets one instance id of its own (schema 6), kept by later opens', () => {
  const a = new Database(':memory:');
  const b = new Database(':memory:');
  const id = (db: Database.Database) =>
    db.prepare("SELECT value FROM mqlite_meta WHERE key = 'instance_id'").all() as { value: string }[];
  try {
    migrate(a);
    b.exec(V1);
    b.pragma('user_version = 1');
    migrate(b);
    const first = id(a);
    expect(first).toHaveLength(1);
    expect(first[0]?.value).toMatch(/^[0-9a-f]{16}$/);
    expect(id(b)[0]?.value).not.toBe(first[0]?.value);
    migrate(a);
    expect(id(a)).toEqual(first);
  } finally {
    a.close();
    b.close();
  }
});
