/**
 * `npm run bench:forward -- [--messages 1000000] [--methods copy,copy-direct,unnest] [--batch 20000]
 * [--prefetch on,off] [--rounds 1] [--max-delay-ms 1000]`: drain rate
 * of store and forward (issue 16). Builds a backlog of N bench messages (~80-byte JSON, 5 readings)
 * with the real sink (SinkStore, no broker), then, per method, starts the real forwarder (worker
 * thread from dist/) against a fresh schema of the local PostgreSQL and times it from start until
 * PostgreSQL's cursor reaches the last id. Prints one JSON line per method and prefetch setting,
 * alternating them round by round (A B A B …) so a machine shared with others loads them alike.
 *
 * PostgreSQL: PGHOST/PGPORT/PGDATABASE/PGUSER, default 127.0.0.1:5432 test postgres (trust). The
 * PostgreSQL backend's CPU per message is read from /proc when the server runs on this machine.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Forwarder } from '../src/forward/forwarder.js';
import type { ForwardMethod } from '../src/forward/pg-destination.js';
import type { ForwardWorkerInit } from '../src/forward/protocol.js';
import { packBatch } from '../src/sink/protocol.js';
import { SinkStore } from '../src/sink/store.js';
import { forwarderBackendCpu } from './lib/pg-backend.js';
import { cpuSecondsByThread } from './lib/proc-stats.js';
import { benchDecode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    methods: { type: 'string', default: 'copy,copy-direct,unnest' },
    batch: { type: 'string', default: '20000' },
    devices: { type: 'string', default: '100' },
    /** Read and encode the next batch while PostgreSQL inserts the current one (forward-loop.ts). */
    prefetch: { type: 'string', default: 'on' },
    rounds: { type: 'string', default: '1' },
    /** forward.postgres.maxDelayMs (its default): a backlog must drain as fast with it as at 0. */
    'max-delay-ms': { type: 'string', default: '1000' },
  },
});
const N = Number(values.messages);
const BATCH = Number(values.batch);
const DEVICES = Number(values.devices);
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

function buildBacklog(path: string): number {
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
    benchDecode,
  );
  const t0 = Date.now() - 86_400_000;
  let stored = 0;
  for (let at = 0; at < N; at += 5000) {
    const msgs = [];
    for (let k = at; k < Math.min(N, at + 5000); k++)
      msgs.push(benchMessage(k % DEVICES, Math.floor(k / DEVICES), t0 + Math.floor(k / 40)));
    stored += store.writeBatch(packBatch(msgs).packed).stored;
  }
  store.close();
  return stored;
}

async function drain(dbPath: string, method: ForwardMethod, prefetch: boolean, lastId: number) {
  const schema = `mqlite_bench_${randomBytes(4).toString('hex')}`;
  const init: ForwardWorkerInit = {
    dbPath,
    busyTimeoutMs: 5000,
    connection: { ...PG, tls: { mode: 'disable' } },
    schema,
    // Its own source, so that the session's application_name finds its PostgreSQL backend.
    source: schema,
    method,
    batchMessages: BATCH,
    batchBytes: 16 * 1024 ** 2,
    pollMs: 100,
    maxDelayMs: Number(values['max-delay-ms']),
    connectTimeoutMs: 10_000,
    batchTimeoutMs: 600_000,
    retry: { baseMs: 100, factor: 2, capMs: 2000 },
    protectUndelivered: true,
    protectEveryMs: 1000,
    backlogEveryMs: 5000,
    prefetch,
    // Nothing else runs: the priority would only matter against the machine's other tenants.
    nice: 0,
  };
  let batches = 0;
  let batchSeconds = 0;
  let errors = 0;
  let started = 0;
  let done: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const f = new Forwarder(init, {
    onReady: () => undefined,
    onConnected: () => undefined,
    onBatch: (b) => {
      batches++;
      batchSeconds += b.seconds;
      if (b.cursor >= lastId) done?.();
    },
    onError: (stage, e) => {
      errors++;
      console.error(`${stage}: ${e.message}`);
    },
    onBacklog: () => undefined,
  });
  const cpu0 = process.cpuUsage();
  started = performance.now();
  await f.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // The worker thread alone (named by forward-worker.ts), as bench:forward-live reports it.
  const threadCpu = cpuSecondsByThread(process.pid)['mqlite-forward'] ?? Number.NaN;
  const client = new pg.Client(PG);
  await client.connect();
  // The forwarder's backend still runs: its CPU since it started is the server's share per message.
  const backendCpuMs = (await forwarderBackendCpu(client, schema)) * 1000;
  await f.stop();
  const n = Number((await client.query(`SELECT count(*) AS n FROM ${schema}.messages`)).rows[0].n);
  const size = Number(
    (await client.query(`SELECT pg_total_relation_size('${schema}.messages') AS b`)).rows[0].b,
  );
  await client.query(`DROP SCHEMA ${schema} CASCADE`);
  await client.end();
  return {
    method,
    prefetch,
    messages: n,
    seconds: Math.round(seconds * 10) / 10,
    msgPerSec: Math.round(n / seconds),
    batches,
    meanBatchSeconds: Math.round((batchSeconds / batches) * 1000) / 1000,
    errors,
    // This process's CPU (the forwarder's worker thread: read, encode, pg client), per message.
    forwarderCpuUsPerMsg: Math.round(((cpu.user + cpu.system) / n) * 10) / 10,
    forwarderThreadCpuUsPerMsg: Math.round(((threadCpu * 1e6) / n) * 10) / 10,
    // The PostgreSQL backend serving the forwarder (user + system, /proc).
    pgBackendCpuUsPerMsg: Math.round(((backendCpuMs * 1000) / n) * 10) / 10,
    pgBytesPerMsg: Math.round(size / n),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-forward-'));
try {
  const path = join(dir, 'outbox.db');
  const b0 = performance.now();
  const stored = buildBacklog(path);
  console.log(
    JSON.stringify({
      backlog: stored,
      buildSeconds: Math.round((performance.now() - b0) / 100) / 10,
      sqliteBytes: statSync(path).size,
    }),
  );
  const prefetches = (values.prefetch as string).split(',').map((v) => v === 'on');
  for (let round = 0; round < Number(values.rounds); round++)
    for (const m of (values.methods as string).split(','))
      for (const p of prefetches)
        console.log(JSON.stringify({ round, ...(await drain(path, m as ForwardMethod, p, stored)) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
