/**
 * `npx tsx bench/forward-pg-rows.ts -- [--messages 200000] [--batch 20000] [--rounds 3] [--variants a,b]
 * [--sources 1] [--callgrind [--keep-profiles]]`:
 * what PostgreSQL spends per forwarded row, by table layout (issue 16, live forwarding). Builds a
 * backlog of bench messages with the real sink, encodes it once per readings type with the
 * forwarder's binary COPY encoder, then per variant: a fresh schema, and per batch the forwarder's
 * transaction (BEGIN, COPY binary into messages, the cursor upsert, COMMIT), measuring the
 * backend's CPU (user + system, /proc: the server must run on this machine). Variants alternate
 * round by round, so a machine shared with others loads them alike. Prints one JSON line per run
 * and the median µs per row of each variant.
 *
 * --sources N: N gateways forward the same backlog (each its own source name, so the same local
 * ids), their batches taking turns in one table, as on a central server.
 *
 * --callgrind: instead of CPU time, the instructions the backend executes per row, counted by
 * valgrind in a private cluster started for the run (lib/pg-callgrind.ts; needs valgrind and the
 * PostgreSQL server binaries, not the machine's server). Per variant two sessions on fresh
 * schemas, one forwarding the first batch (of each source) and one the whole backlog: the
 * difference over the difference in rows is the steady per-row cost, without the session's start,
 * the catalog lookups and the first batch's page allocations. Repeatable, so one round is enough;
 * under valgrind the server is ~50× slower, so use a smaller backlog (--messages 40000 --batch 10000).
 * --keep-profiles leaves the cluster's directory and prints each full session's profile, for
 * `callgrind_annotate --inclusive=yes <profile>`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { finished } from 'node:stream/promises';
import { Outbox } from '../src/forward/outbox.js';
import { binaryMessages } from '../src/forward/pg-copy-binary.js';
import { packBatch } from '../src/sink/protocol.js';
import { SinkStore } from '../src/sink/store.js';
import { type CallgrindCluster, startCallgrindCluster } from './lib/pg-callgrind.js';
import { cpuSeconds } from './lib/proc-stats.js';
import { benchDecode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: '' },
    sources: { type: 'string', default: '1' },
    callgrind: { type: 'boolean', default: false },
    'keep-profiles': { type: 'boolean', default: false },
  },
});
const SOURCES = Number(values.sources);
const N = Number(values.messages);
const BATCH = Number(values.batch);
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

type ReadingsType = 'jsonb' | 'json' | 'jsonSorted';
interface Variant {
  readonly readings: ReadingsType;
  readonly ddl: (s: string) => string[];
}

const table = (s: string, readings: string, key = 'source, id') => `CREATE TABLE ${s}.messages (
      source text NOT NULL, id bigint NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
      topic text NOT NULL, device text, payload text, payload_raw bytea, qos smallint NOT NULL,
      retain boolean NOT NULL, dup boolean NOT NULL, readings ${readings},
      forwarded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (${key}))`;
const cursor = (s: string) =>
  `CREATE TABLE ${s}.forward_cursor (source text PRIMARY KEY, after_id bigint NOT NULL,
      messages bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL)`;
const deviceTs = (s: string) => `CREATE INDEX ON ${s}.messages (device, ts)`;

const VARIANTS: Record<string, Variant> = {
  // What pg-schema.ts made up to b7a5293.
  jsonb: { readings: 'jsonb', ddl: (s) => [table(s, 'jsonb'), deviceTs(s), cursor(s)] },
  // Up to bc68a9f.
  json: { readings: 'json', ddl: (s) => [table(s, 'json'), deviceTs(s), cursor(s)] },
  // From then on: the bigint first in the key.
  'json-id-source': {
    readings: 'json',
    ddl: (s) => [table(s, 'json', 'id, source'), deviceTs(s), cursor(s)],
  },
  // With an index of the user's own for reads by source alone (README).
  'json-id-source-sourceidx': {
    readings: 'json',
    ddl: (s) => [
      table(s, 'json', 'id, source'),
      deviceTs(s),
      `CREATE INDEX ON ${s}.messages (source, id)`,
      cursor(s),
    ],
  },
  'json-id-source-noidx': { readings: 'json', ddl: (s) => [table(s, 'json', 'id, source'), cursor(s)] },
  'jsonb-noidx': { readings: 'jsonb', ddl: (s) => [table(s, 'jsonb'), cursor(s)] },
  'json-noidx': { readings: 'json', ddl: (s) => [table(s, 'json'), cursor(s)] },
  // For scale only: text skips even json's check (and loses the type).
  'text-noidx': { readings: 'json', ddl: (s) => [table(s, 'text'), cursor(s)] },
  'json-idxC': {
    readings: 'json',
    ddl: (s) => [table(s, 'json'), `CREATE INDEX ON ${s}.messages (device COLLATE "C", ts)`, cursor(s)],
  },
  'json-idx-nodedup': {
    readings: 'json',
    ddl: (s) => [
      table(s, 'json'),
      `CREATE INDEX ON ${s}.messages (device, ts) WITH (deduplicate_items = off)`,
      cursor(s),
    ],
  },
  'json-sorted': {
    readings: 'jsonSorted',
    ddl: (s) => [table(s, 'json'), deviceTs(s), cursor(s)],
  },
  'json-idx-ts-device': {
    readings: 'json',
    ddl: (s) => [table(s, 'json'), `CREATE INDEX ON ${s}.messages (ts, device)`, cursor(s)],
  },
  'jsonb-ts-brin': {
    readings: 'jsonb',
    ddl: (s) => [table(s, 'jsonb'), `CREATE INDEX ON ${s}.messages USING brin (ts)`, cursor(s)],
  },
};

function buildBacklog(path: string): void {
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
    benchDecode,
  );
  const t0 = Date.now() - 86_400_000;
  for (let at = 0; at < N; at += 5000) {
    const msgs = [];
    for (let k = at; k < Math.min(N, at + 5000); k++)
      msgs.push(benchMessage(k % 100, Math.floor(k / 100), t0 + Math.floor(k / 40)));
    store.writeBatch(packBatch(msgs).packed);
  }
  store.close();
}

async function copy(client: pg.Client, text: string, rows: Buffer): Promise<void> {
  const stream = client.query(copyFrom(text));
  stream.end(rows);
  await finished(stream);
}

/** One gateway's batch, encoded for binary COPY. */
interface Batch {
  readonly source: string;
  readonly lastId: number;
  readonly count: number;
  readonly rows: Buffer;
}

/** The forwarder's transaction per batch (pg-destination.ts, copy-direct). */
async function forwardInto(client: pg.Client, schema: string, batches: readonly Batch[]): Promise<void> {
  for (const b of batches) {
    await client.query('BEGIN');
    await copy(
      client,
      `COPY ${schema}.messages (source, id, ts, received_at, topic, device, payload, payload_raw, qos, retain, dup, readings) FROM STDIN (FORMAT binary)`,
      b.rows,
    );
    await client.query(
      `INSERT INTO ${schema}.forward_cursor AS c (source, after_id, messages, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (source) DO UPDATE SET after_id = GREATEST(c.after_id, EXCLUDED.after_id),
       messages = c.messages + EXCLUDED.messages, updated_at = now()`,
      [b.source, b.lastId, b.count],
    );
    await client.query('COMMIT');
  }
}

const rowsOf = (batches: readonly Batch[]) => batches.reduce((n, b) => n + b.count, 0);

/**
 * A fresh schema of the variant, `work` on a session of its own, then the schema dropped.
 * Returns the session's backend pid, and the table's size per row.
 */
async function session(
  config: pg.ClientConfig,
  name: string,
  v: Variant,
  work: (client: pg.Client, schema: string, pid: number) => Promise<void>,
  rows: number,
): Promise<{ pid: number; bytesPerRow: number; keyBytesPerRow: number }> {
  const schema = `mqlite_rows_${name.replace(/-/g, '_')}_${process.pid}`;
  const admin = new pg.Client(config);
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    for (const stmt of v.ddl(schema)) await admin.query(stmt);
    const client = new pg.Client(config);
    await client.connect();
    const pid = Number((await client.query('SELECT pg_backend_pid() AS p')).rows[0].p);
    try {
      await work(client, schema, pid);
    } finally {
      await client.end();
    }
    const size = (
      await admin.query(
        `SELECT pg_total_relation_size('${schema}.messages') AS b, pg_relation_size('${schema}.messages_pkey') AS k`,
      )
    ).rows[0];
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    return {
      pid,
      bytesPerRow: Math.round(size.b / rows),
      keyBytesPerRow: Math.round((size.k / rows) * 10) / 10,
    };
  } finally {
    await admin.end();
  }
}

/** Backend CPU seconds (/proc) per row over the whole backlog. */
async function runCpu(name: string, v: Variant, batches: readonly Batch[]) {
  const rows = rowsOf(batches);
  let cpu = 0;
  let seconds = 0;
  const s = await session(
    PG,
    name,
    v,
    async (client, schema, pid) => {
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      await forwardInto(client, schema, batches);
      seconds = (performance.now() - t0) / 1000;
      cpu = cpuSeconds(pid) - cpu0;
    },
    rows,
  );
  return {
    variant: name,
    seconds: Math.round(seconds * 10) / 10,
    value: (cpu / rows) * 1e6,
    bytesPerRow: s.bytesPerRow,
    keyBytesPerRow: s.keyBytesPerRow,
  };
}

/** Backend instructions per row: the whole backlog's session minus the first batches' session. */
async function runCallgrind(cluster: CallgrindCluster, name: string, v: Variant, batches: readonly Batch[]) {
  const first = batches.slice(0, SOURCES);
  const measure = async (bs: readonly Batch[]) => {
    const s = await session(
      cluster.connection,
      name,
      v,
      (client, schema) => forwardInto(client, schema, bs),
      rowsOf(bs),
    );
    return { ...s, instructions: await cluster.instructions(s.pid) };
  };
  const short = await measure(first);
  const long = await measure(batches);
  return {
    variant: name,
    instructionsFirst: short.instructions,
    instructionsAll: long.instructions,
    value: (long.instructions - short.instructions) / (rowsOf(batches) - rowsOf(first)),
    ...(values['keep-profiles'] ? { profile: cluster.profile(long.pid) } : {}),
    bytesPerRow: long.bytesPerRow,
    keyBytesPerRow: long.keyBytesPerRow,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-rows-'));
let cluster: CallgrindCluster | undefined;
try {
  const path = join(dir, 'outbox.db');
  buildBacklog(path);
  const outbox = new Outbox({ path, busyTimeoutMs: 5000 });
  const encoded: Record<ReadingsType, Batch[]> = { jsonb: [], json: [], jsonSorted: [] };
  // Named like mqlite's instance ids (16 hex digits, v6-instance.ts): the key's tuple width decides
  // how PostgreSQL splits its pages (a source as short as 'bench' fits nbtsplitloc's ascending-insert
  // case for two int8-wide columns, which a real instance id does not).
  const sources = Array.from({ length: SOURCES }, (_, k) =>
    createHash('sha256')
      .update(`bench-${k + 1}`)
      .digest('hex')
      .slice(0, 16),
  );
  let after = 0;
  for (;;) {
    const b = outbox.readBatch(after, BATCH, 64 * 1024 ** 2);
    if (!b) break;
    // The same rows in (device, ts) order: the index's inserts walk its leaves in order.
    const sorted = [...b.messages].sort((x, y) =>
      x[2] === y[2] ? x[8] - y[8] : (x[2] ?? '') < (y[2] ?? '') ? -1 : 1,
    );
    for (const source of sources) {
      const one = { source, lastId: b.lastId, count: b.messages.length };
      encoded.jsonb.push({ ...one, rows: binaryMessages(b, source, 'jsonb') });
      encoded.json.push({ ...one, rows: binaryMessages(b, source, 'json') });
      encoded.jsonSorted.push({ ...one, rows: binaryMessages({ ...b, messages: sorted }, source, 'json') });
    }
    after = b.lastId;
  }
  outbox.close();
  if (values.callgrind) cluster = await startCallgrindCluster(values['keep-profiles']);
  const unit = values.callgrind ? 'instructions/row (backend, callgrind)' : 'µs/row backend CPU';
  const names = values.variants ? (values.variants as string).split(',') : Object.keys(VARIANTS);
  const results: Record<string, number[]> = {};
  for (let round = 0; round < Number(values.rounds); round++)
    for (const name of names) {
      const v = VARIANTS[name];
      if (!v) throw new Error(`unknown variant ${name}: one of ${Object.keys(VARIANTS).join(', ')}`);
      const batches = encoded[v.readings];
      const r = cluster ? await runCallgrind(cluster, name, v, batches) : await runCpu(name, v, batches);
      const xs = results[name] ?? [];
      xs.push(r.value);
      results[name] = xs;
      const shown = cluster ? Math.round(r.value) : Math.round(r.value * 10) / 10;
      console.log(JSON.stringify({ round, sources: SOURCES, ...r, value: shown, unit }));
    }
  for (const [name, xs] of Object.entries(results)) {
    const s = [...xs].sort((a, b) => a - b);
    const median = s[Math.floor(s.length / 2)] as number;
    console.log(`${name}: median ${cluster ? Math.round(median) : median.toFixed(1)} ${unit}`);
  }
} finally {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
