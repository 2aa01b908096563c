/**
 * The sink when the database or the worker fails: transient errors are retryable and leave
 * nothing half-written; open failures name the path; a dead or hung worker is replaced.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SinkSettings } from '../../src/sink/types.js';
import { SqliteSink } from '../../src/sink/sqlite-sink.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertBuilt, message, sinkSettings, writeStubWorker } from './sink-fixture.js';

let dir: string;
let cleanup: () => void;
let workerUrl: URL;
let dbPath: string;
const sinks: SqliteSink[] = [];
const others: Database.Database[] = [];

function newSink(extra: Partial<SinkSettings> = {}, path = dbPath): SqliteSink {
  const sink = new SqliteSink(sinkSettings(path, extra), workerUrl);
  sinks.push(sink);
  return sink;
}

function count(table: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const batch = (n: number, bytes = 10) =>
  Array.from({ length: n }, (_, i) => message(`t/d${i}/x`, { pad: 'x'.repeat(bytes), r: [['v', i]] }));

beforeAll(() => assertBuilt());
beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-sink-fail-'));
  workerUrl = writeStubWorker(dir);
  dbPath = join(dir, 'test.db');
});
afterEach(async () => {
  for (const db of others.splice(0)) db.close();
  for (const s of sinks.splice(0)) await s.stop();
  cleanup();
});

describe('transient database errors', () => {
  it('SQLITE_BUSY while another connection holds the write lock is retryable; the retry succeeds after release', async () => {
    const sink = newSink({ busyTimeoutMs: 50 });
    await sink.start();
    const other = new Database(dbPath);
    others.push(other);
    other.prepare('BEGIN IMMEDIATE').run();

    const msgs = batch(3);
    await expect(sink.write(msgs)).rejects.toMatchObject({
      code: 'MQLITE_SINK_COMMIT_FAILED',
      sqliteCode: 'SQLITE_BUSY',
      retryable: true,
    });
    other.prepare('COMMIT').run();
    await expect(sink.write(msgs)).resolves.toMatchObject({ stored: 3 });
    expect(count('messages')).toBe(3);
  });

  it('SQLITE_FULL is retryable, commits nothing, and the same batch succeeds once there is room', async () => {
    // Create the schema first, then cap the file at its current size.
    const setup = newSink();
    await setup.start();
    await setup.stop();
    const pages = (() => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.pragma('page_count', { simple: true }) as number;
      } finally {
        db.close();
      }
    })();

    const msgs = batch(50, 2000);
    const full = newSink({ maxPageCount: pages + 2 });
    await full.start();
    await expect(full.write(msgs)).rejects.toMatchObject({
      code: 'MQLITE_SINK_COMMIT_FAILED',
      sqliteCode: 'SQLITE_FULL',
      retryable: true,
    });
    await full.stop();
    expect(count('messages')).toBe(0);
    expect(count('dead_letters')).toBe(0);

    const roomy = newSink({ maxPageCount: pages + 10_000 });
    await roomy.start();
    await expect(roomy.write(msgs)).resolves.toMatchObject({ stored: 50, readings: 50 });
    expect(count('messages')).toBe(50);
  });
});

describe('open failures', () => {
  it('a folder that cannot be created → MQLITE_DB_OPEN_FAILED naming the path and the cause', async () => {
    // A regular file where a folder should be: fails for root too, unlike chmod.
    writeFileSync(join(dir, 'not-a-folder'), 'x');
    const path = join(dir, 'not-a-folder', 'sub', 'test.db');
    const sink = newSink({}, path);
    const err = await sink.start().then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );
    expect(err?.code).toBe('MQLITE_DB_OPEN_FAILED');
    expect(err?.message).toContain(`cannot open database ${path}: `);
    expect(err?.message).toMatch(/ENOTDIR|EEXIST/);
  });

  it('a path that is a folder → MQLITE_DB_OPEN_FAILED naming the path', async () => {
    const path = join(dir, 'a-folder');
    mkdirSync(path);
    const sink = newSink({}, path);
    await expect(sink.start()).rejects.toMatchObject({
      code: 'MQLITE_DB_OPEN_FAILED',
      message: expect.stringContaining(`cannot open database ${path}: `),
    });
  });

  it('a corrupt file → MQLITE_DB_OPEN_FAILED naming the path and SQLite’s reason', async () => {
    writeFileSync(dbPath, Buffer.alloc(8192, 'garbage!'));
    const sink = newSink();
    await expect(sink.start()).rejects.toMatchObject({
      code: 'MQLITE_DB_OPEN_FAILED',
      message: `cannot open database ${dbPath}: file is not a database`,
    });
  });
});

describe('worker failures', () => {
  it('a worker that dies fails its request as retryable; the next write starts a new one', async () => {
    const sink = newSink();
    await sink.start();
    await sink.write(batch(2));
    await expect(sink.write([message('t/d/x', { exit: true })])).rejects.toMatchObject({
      code: 'MQLITE_SINK_WORKER_FAILED',
      retryable: true,
      message: expect.stringContaining('exit code 3'),
    });
    await expect(sink.write(batch(2))).resolves.toMatchObject({ stored: 2 });
    expect(count('messages')).toBe(4);
  });

  it('a request that outlives opTimeoutMs fails as retryable; the stuck worker is replaced', async () => {
    const sink = newSink({ opTimeoutMs: 1000 });
    await sink.start();
    await expect(sink.write([message('t/d/x', { spinMs: 60_000 })])).rejects.toMatchObject({
      code: 'MQLITE_SINK_WORKER_FAILED',
      retryable: true,
      message: expect.stringContaining('did not answer within 1000 ms'),
    });
    await expect(sink.write(batch(1))).resolves.toMatchObject({ stored: 1 });
    expect(count('messages')).toBe(1);
  });
});
