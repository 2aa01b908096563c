/**
 * `npx tsx bench/forward-pg-rows.ts -- [--messages 200000] [--batch 20000] [--rounds 3] [--variants a,b]`:
 * what PostgreSQL spends per forwarded row, by table layout (issue 16, live forwarding). Builds a
 * backlog of bench messages with the real sink, encodes it once per readings type with the
 * forwarder's binary COPY encoder, then per variant: a fresh schema, and per batch the forwarder's
 * transaction (BEGIN, COPY binary into messages, the cursor upsert, COMMIT), measuring the
 * backend's CPU (user + system, /proc: the server must run on this machine). Variants alternate
 * round by round, so a machine shared with others loads them alike. Prints one JSON line per run
 * and the median µs per row of each variant.
 */
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
import { cpuSeconds } from './lib/proc-stats.js';
import { benchDecode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: '' },
  },
});
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

const table = (s: string, readings: string, extra = '') => `CREATE TABLE ${s}.messages (
      source text NOT NULL, id bigint NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
      topic text NOT NULL, device text, payload text, payload_raw bytea, qos smallint NOT NULL,
      retain boolean NOT NULL, dup boolean NOT NULL, readings ${readings},
      forwarded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, id))${extra}`;
const cursor = (s: string) =>
  `CREATE TABLE ${s}.forward_cursor (source text PRIMARY KEY, after_id bigint NOT NULL,
      messages bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL)`;
const deviceTs = (s: string) => `CREATE INDEX ON ${s}.messages (device, ts)`;

const VARIANTS: Record<string, Variant> = {
  // What pg-schema.ts made up to now.
  jsonb: { readings: 'jsonb', ddl: (s) => [table(s, 'jsonb'), deviceTs(s), cursor(s)] },
  json: { readings: 'json', ddl: (s) => [table(s, 'json'), deviceTs(s), cursor(s)] },
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

async function run(name: string, v: Variant, batches: { lastId: number; rows: Buffer }[]) {
  const schema = `mqlite_rows_${name.replace(/-/g, '_')}_${process.pid}`;
  const admin = new pg.Client(PG);
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`CREATE SCHEMA ${schema}`);
  for (const stmt of v.ddl(schema)) await admin.query(stmt);
  const client = new pg.Client(PG);
  await client.connect();
  const pid = Number((await client.query('SELECT pg_backend_pid() AS p')).rows[0].p);
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
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
      ['bench', b.lastId, 1],
    );
    await client.query('COMMIT');
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const size = Number(
    (await admin.query(`SELECT pg_total_relation_size('${schema}.messages') AS b`)).rows[0].b,
  );
  await client.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  return {
    variant: name,
    seconds: Math.round(seconds * 10) / 10,
    backendUsPerRow: (cpu / N) * 1e6,
    bytesPerRow: Math.round(size / N),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-rows-'));
try {
  const path = join(dir, 'outbox.db');
  buildBacklog(path);
  const outbox = new Outbox({ path, busyTimeoutMs: 5000 });
  const encoded: Record<ReadingsType, { lastId: number; rows: Buffer }[]> = {
    jsonb: [],
    json: [],
    jsonSorted: [],
  };
  let after = 0;
  for (;;) {
    const b = outbox.readBatch(after, BATCH, 64 * 1024 ** 2);
    if (!b) break;
    encoded.jsonb.push({ lastId: b.lastId, rows: binaryMessages(b, 'bench', 'jsonb') });
    encoded.json.push({ lastId: b.lastId, rows: binaryMessages(b, 'bench', 'json') });
    // The same rows in (device, ts) order: the index's inserts walk its leaves in order.
    const sorted = [...b.messages].sort((x, y) =>
      x[2] === y[2] ? x[8] - y[8] : (x[2] ?? '') < (y[2] ?? '') ? -1 : 1,
    );
    encoded.jsonSorted.push({
      lastId: b.lastId,
      rows: binaryMessages({ ...b, messages: sorted }, 'bench', 'json'),
    });
    after = b.lastId;
  }
  outbox.close();
  const names = values.variants ? (values.variants as string).split(',') : Object.keys(VARIANTS);
  const results: Record<string, number[]> = {};
  for (let round = 0; round < Number(values.rounds); round++)
    for (const name of names) {
      const v = VARIANTS[name];
      if (!v) throw new Error(`unknown variant ${name}: one of ${Object.keys(VARIANTS).join(', ')}`);
      const r = await run(name, v, encoded[v.readings]);
      const xs = results[name] ?? [];
      xs.push(r.backendUsPerRow);
      results[name] = xs;
      console.log(JSON.stringify({ round, ...r, backendUsPerRow: Math.round(r.backendUsPerRow * 10) / 10 }));
    }
  for (const [name, xs] of Object.entries(results)) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${name}: median ${(s[Math.floor(s.length / 2)] as number).toFixed(1)} µs/row backend CPU`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
