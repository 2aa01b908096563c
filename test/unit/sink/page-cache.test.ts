import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CACHE_BASE_KIB,
  CACHE_KIB_PER_TOPIC,
  CACHE_MAX_KIB,
  PageCacheSize,
} from '../../../src/sink/page-cache.js';
import { SqlitePurge } from '../../../src/sink/sqlite-purge.js';

const topics = (from: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `site/dev-${from + i}/state`);

describe('PageCacheSize', () => {
  it('starts at the base size', () => {
    expect(new PageCacheSize().current).toBe(CACHE_BASE_KIB);
  });

  it('grows with the distinct topics of the batches, counting a repeated topic once', () => {
    const c = new PageCacheSize();
    const first = [...topics(0, 100), ...topics(0, 100)];
    expect(c.grow(first)).toBe(CACHE_BASE_KIB + 100 * CACHE_KIB_PER_TOPIC);
    expect(c.current).toBe(CACHE_BASE_KIB + 100 * CACHE_KIB_PER_TOPIC);
    // The same devices again: nothing to change.
    expect(c.grow(topics(0, 100))).toBeUndefined();
  });

  it('does not change the size for a few new topics, only once they add up', () => {
    const c = new PageCacheSize();
    c.grow(topics(0, 100));
    const before = c.current;
    expect(c.grow(topics(100, 5))).toBeUndefined();
    expect(c.current).toBe(before);
    expect(c.grow(topics(105, 40))).toBe(CACHE_BASE_KIB + 145 * CACHE_KIB_PER_TOPIC);
  });

  it('stops at the old default however many topics it sees', () => {
    const c = new PageCacheSize();
    expect(c.grow(topics(0, 5000))).toBe(CACHE_MAX_KIB);
    expect(c.grow(topics(5000, 5000))).toBeUndefined();
    expect(c.current).toBe(CACHE_MAX_KIB);
  });
});

describe('the cache-size maintenance op', () => {
  let db: Database.Database | undefined;
  afterEach(() => db?.close());

  it('sets the connection page cache in KiB', () => {
    db = new Database(':memory:');
    const purge = new SqlitePurge(db);
    const r = purge.run({ kind: 'cache-size', kib: 2848 });
    expect(r.kind).toBe('step');
    expect(db.pragma('cache_size', { simple: true })).toBe(-2848);
  });
});
