/**
 * The query pool with its real worker thread (dist/query/query-worker.js) on a schema-2 file:
 * bounded concurrency and wait line, typed errors across the thread boundary, a clean stop,
 * workers started by the first query and gone when idle, and a failed open reported to the query.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobResult, QueryJob } from '../../src/query/protocol.js';
import { QueryPool } from '../../src/query/query-pool.js';
import { migrate } from '../../src/sink/migrations/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const limits = { timeoutMs: 10_000, maxSamples: 1_000_000 };

function schema2(dir: string): string {
  const path = join(dir, 'p.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  migrate(db);
  db.prepare(
    `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, readings)
     VALUES ('zigbee2mqtt/kitchen', 'kitchen', '{"temperature":21.5}', 1, 0, 0, 1000, 1000, '{"temperature":21.5}')`,
  ).run();
  db.prepare("INSERT INTO series (id, device, metric) VALUES (1, 'kitchen', 'temperature')").run();
  db.prepare(
    "INSERT INTO latest (series_id, device, metric, ts, value, message_id) VALUES (1, 'kitchen', 'temperature', 1000, 21.5, 1)",
  ).run();
  db.close();
  return path;
}

const query = (q: string): QueryJob => ({
  kind: 'api',
  req: { route: 'query', params: { query: [q], time: ['1.5'] }, now: 1500 },
});

describe('query pool', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function pool(concurrency: number, maxQueued: number, idleMs = 60_000): Promise<QueryPool> {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const p = new QueryPool({
      dbPath: schema2(tmp.dir),
      busyTimeoutMs: 1000,
      concurrency,
      maxQueued,
      limits,
      idleMs,
      nice: 10,
      cacheMaxBytes: 32 * 1024 ** 2,
    });
    await p.start();
    cleanups.push(() => p.stop());
    return p;
  }

  it('answers from the worker thread, errors typed as Prometheus types them', async () => {
    const p = await pool(1, 4);
    const r = await p.run(query('temperature'));
    expect(r).toMatchObject({ kind: 'api', resolution: 'raw' });
    expect(JSON.parse((r as JobResult & { kind: 'api' }).json)).toEqual({
      resultType: 'vector',
      result: [{ metric: { __name__: 'temperature', device: 'kitchen' }, value: [1.5, '21.5'] }],
    });
    await expect(p.run(query('rate(temperature)'))).rejects.toMatchObject({ type: 'bad_data' });
  });

  it("reports how the worker's recent-readings cache served a query's series", async () => {
    const p = await pool(1, 4);
    // Readings of 1970: far older than any span the cache keeps, so SQL answers them.
    const r = await p.run(query('avg_over_time(temperature[1m])'));
    expect(r).toMatchObject({ kind: 'api', cache: { hits: 0, partial: 0, misses: 1 } });
    expect(JSON.parse((r as JobResult & { kind: 'api' }).json)).toMatchObject({
      result: [{ value: [1.5, '21.5'] }],
    });
  });

  it('runs at most `concurrency` queries, lets `maxQueued` wait and refuses the rest at once', async () => {
    const p = await pool(1, 1);
    const results = await Promise.allSettled([
      p.run(query('temperature')),
      p.run(query('temperature')),
      p.run(query('temperature')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      type: 'unavailable',
      message: expect.stringMatching(/too many concurrent queries/),
    });
    // The line drained: the pool serves again.
    expect(((await p.run(query('temperature'))) as JobResult & { kind: 'api' }).kind).toBe('api');
  });

  it('refuses waiting and new queries when stopped', async () => {
    const p = await pool(1, 5);
    const running = expect(p.run(query('temperature'))).rejects.toMatchObject({ type: 'unavailable' });
    const waiting = expect(p.run(query('temperature'))).rejects.toMatchObject({ type: 'unavailable' });
    await p.stop();
    await waiting;
    await running;
    await expect(p.run(query('temperature'))).rejects.toMatchObject({ type: 'unavailable' });
  });

  it('starts no worker until the first query and lets idle workers go, serving again after', async () => {
    const p = await pool(2, 4, 200);
    expect(p.workers).toBe(0);
    const both = await Promise.all([p.run(query('temperature')), p.run(query('temperature'))]);
    expect(both.map((r) => r.kind)).toEqual(['api', 'api']);
    expect(p.workers).toBeGreaterThanOrEqual(1);
    await waitFor(() => p.workers === 0, 'the idle workers to exit');
    const again = await p.run(query('temperature'));
    expect(JSON.parse((again as JobResult & { kind: 'api' }).json)).toMatchObject({
      result: [{ value: [1.5, '21.5'] }],
    });
    expect(p.workers).toBe(1);
  });

  it('runs its worker threads at query.nice and named, the ingesting threads untouched (Linux)', async () => {
    // Name and nice of each thread of this process: /proc/self/task/<tid>/comm, and field 19 of
    // its stat (after the name).
    const threads = () =>
      readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return {
          name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
          nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
        };
      });
    expect(threads().filter((t) => t.nice === 10 || t.name === 'mqlite-query')).toEqual([]);
    const p = await pool(1, 1);
    await p.run(query('temperature'));
    expect(threads().filter((t) => t.nice === 10 || t.name === 'mqlite-query')).toEqual([
      { name: 'mqlite-query', nice: 10 },
    ]);
    // This thread (the one that started the worker) kept its priority.
    const self = readFileSync('/proc/thread-self/stat', 'utf8');
    expect(Number(self.slice(self.lastIndexOf(')') + 2).split(' ')[16])).toBe(0);
  });

  it('fails the query, saying why, when the database cannot be opened read-only', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const p = new QueryPool({
      dbPath: join(tmp.dir, 'missing.db'),
      busyTimeoutMs: 1000,
      concurrency: 1,
      maxQueued: 1,
      limits,
      idleMs: 60_000,
      nice: 10,
      cacheMaxBytes: 0,
    });
    cleanups.push(() => p.stop());
    await p.start();
    await expect(p.run(query('temperature'))).rejects.toThrow(/cannot open .*missing\.db read-only/);
    expect(p.workers).toBe(0);
  });
});
