/**
 * `npm run bench:storage`: the storage model on a generated history, no broker (issue #11).
 *   - write: 1M bench messages (100 devices x 5 metrics over 30 days) through SinkStore.writeBatch,
 *     the daemon's own write path, in batches of 5000 → µs per message;
 *   - bytes on disk per message (all tables + indexes, after a TRUNCATE checkpoint), per table (dbstat);
 *   - the same history in schema 1 (samples rows; the released format) → its bytes per message, and
 *     the time to migrate it in place to schema 2;
 *   - query times on both: one series' last 24 h raw; 30 days at 1 h; latest of every series.
 * Prints a table and writes JSON (--json). Options: --messages N (default 1000000), --devices N (100).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { migrate } from '../src/sink/migrations/index.js';
import { V1 } from '../src/sink/migrations/v1.js';
import { type PackedBatch, packBatch } from '../src/sink/protocol.js';
import { SinkStore } from '../src/sink/store.js';
import { deviceTopic, makePayload } from './lib/payload.js';
import { benchDecode as decode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '100' },
    json: {
      type: 'string',
      default: `bench/results/storage-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    },
    keep: { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const DEVICES = Number(values.devices);
const DAYS = 30;
const BATCH = 5000;
const END = Date.UTC(2026, 10, 1);
const START = END - DAYS * 86_400_000;
const STEP = Math.floor((DAYS * 86_400_000) / (MESSAGES / DEVICES));

/** Message k of the history: devices round-robin, each one every STEP ms, seq = its own count. */
function* batches(): Generator<PackedBatch> {
  let msgs = [];
  for (let k = 0; k < MESSAGES; k++) {
    const dev = k % DEVICES;
    const seq = Math.floor(k / DEVICES);
    const ts = START + seq * STEP + dev;
    msgs.push(benchMessage(dev, seq, ts));
    if (msgs.length === BATCH) {
      yield packBatch(msgs).packed;
      msgs = [];
    }
  }
  if (msgs.length > 0) yield packBatch(msgs).packed;
}

function sizes(path: string): { bytes: number; perTable: Record<string, number> } {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const perTable: Record<string, number> = {};
    try {
      for (const r of db
        .prepare('SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC')
        .all() as {
        name: string;
        b: number;
      }[]) {
        perTable[r.name] = r.b;
      }
    } catch {
      // dbstat is a compile-time option; the total is what counts.
    }
    return { bytes: statSync(path).size, perTable };
  } finally {
    db.close();
  }
}

/** Median and max of `runs` timings (ms) of a query, after one unmeasured warm-up. */
function time(
  db: Database.Database,
  sql: string,
  params: unknown[],
  runs = 15,
): { medianMs: number; maxMs: number; rows: number } {
  const stmt = db.prepare(sql);
  const rows = stmt.all(...params).length;
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    stmt.all(...params);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { medianMs: round(t[Math.floor(runs / 2)] as number), maxMs: round(t.at(-1) as number), rows };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const QUERIES_V2 = {
  'one series, last 24 h, raw': [
    "SELECT ts, value FROM readings WHERE device = 'dev-0042' AND metric = 'temp' AND ts >= ? ORDER BY ts",
    [END - 86_400_000],
  ],
  'one series, 30 days at 1 h': [
    "SELECT ts, avg, min, max FROM readings_1h WHERE device = 'dev-0042' AND metric = 'temp' AND ts >= ? ORDER BY ts",
    [START],
  ],
  'latest of every series': ['SELECT device, metric, ts, value FROM latest', []],
} as const;

/** What a schema-1 user had to run for the same answers (no rollups, no latest). */
const QUERIES_V1 = {
  'one series, last 24 h, raw': QUERIES_V2['one series, last 24 h, raw'],
  'one series, 30 days at 1 h': [
    `SELECT ts / 3600000 * 3600000 AS h, avg(value), min(value), max(value) FROM readings
      WHERE device = 'dev-0042' AND metric = 'temp' AND ts >= ? GROUP BY h ORDER BY h`,
    [START],
  ],
  'latest of every series': [
    'SELECT device, metric, max(ts) AS ts, value FROM readings GROUP BY device, metric',
    [],
  ],
} as const;

function queries(
  path: string,
  set: typeof QUERIES_V1 | typeof QUERIES_V2,
): Record<string, ReturnType<typeof time>> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, ReturnType<typeof time>> = {};
    for (const [name, [sql, params]] of Object.entries(set))
      out[name] = time(db, sql, [...params], name.startsWith('latest') && set === QUERIES_V1 ? 3 : 15);
    return out;
  } finally {
    db.close();
  }
}

/** The same history in schema 1, written by SQL as the released writer laid it out. */
function writeSchema1(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(V1);
  db.pragma('user_version = 1');
  const insMsg = db.prepare(
    `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity)
     VALUES (?, ?, ?, 1, 0, 0, ?, ?, ?)`,
  );
  const insSample = db.prepare('INSERT INTO samples (message_id, series_id, value) VALUES (?, ?, ?)');
  const metrics = ['seq', 'temp', 'hum', 'bat', 'rssi'];
  db.transaction(() => {
    const ins = db.prepare('INSERT INTO series (id, device, metric) VALUES (?, ?, ?)');
    for (let d = 0; d < DEVICES; d++) {
      metrics.forEach((m, i) => {
        ins.run(d * metrics.length + i + 1, `dev-${String(d).padStart(4, '0')}`, m);
      });
    }
  })();
  const chunk = db.transaction((from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const dev = k % DEVICES;
      const seq = Math.floor(k / DEVICES);
      const ts = START + seq * STEP + dev;
      const payload = makePayload(seq, ts, 80);
      const j = JSON.parse(payload) as Record<string, number>;
      const id = Number(
        insMsg.run(
          deviceTopic(dev),
          `dev-${String(dev).padStart(4, '0')}`,
          payload,
          ts,
          ts,
          BigInt(k) * 2n + 1n,
        ).lastInsertRowid,
      );
      metrics.forEach((m, i) => {
        insSample.run(id, dev * metrics.length + i + 1, j[m] as number);
      });
    }
  });
  for (let k = 0; k < MESSAGES; k += 50_000) chunk(k, Math.min(MESSAGES, k + 50_000));
  db.close();
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-storage-'));
  try {
    console.log(
      `storage bench: ${MESSAGES} messages, ${DEVICES} devices x 5 metrics over ${DAYS} days, in ${dir}`,
    );
    // Schema 2, through the write path.
    const v2 = join(dir, 'v2.db');
    const store = SinkStore.open(
      { path: v2, synchronous: 'FULL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
      decode,
    );
    const cpu0 = process.cpuUsage();
    let t0 = performance.now();
    let stored = 0;
    for (const b of batches()) stored += store.writeBatch(b).stored;
    const writeSec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    store.close();
    const s2 = sizes(v2);
    console.log(
      `schema 2 write path: ${stored} stored in ${writeSec.toFixed(1)} s = ${((writeSec * 1e6) / stored).toFixed(1)} µs/msg ` +
        `(cpu ${((cpu.user + cpu.system) / stored) | 0} µs/msg incl. generating); ${(s2.bytes / stored).toFixed(1)} B/msg`,
    );
    const q2 = queries(v2, QUERIES_V2);
    console.log('schema 2 queries:', JSON.stringify(q2));
    console.log('bytes per table, schema 2:', JSON.stringify(s2.perTable));

    // Schema 1: the same history, then migrated.
    const v1 = join(dir, 'v1.db');
    t0 = performance.now();
    writeSchema1(v1);
    console.log(`schema 1 generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const s1 = sizes(v1);
    const q1 = queries(v1, QUERIES_V1);
    console.log(`schema 1: ${(s1.bytes / MESSAGES).toFixed(1)} B/msg; queries:`, JSON.stringify(q1));
    const db = new Database(v1);
    t0 = performance.now();
    migrate(db, (p) =>
      console.log(`  migrating: ${p.done}/${p.total} after ${(p.elapsedMs / 1000).toFixed(1)} s`),
    );
    const migrateSec = (performance.now() - t0) / 1000;
    db.close();
    const s1m = sizes(v1);
    console.log(`schema 1 → 2 migration of ${MESSAGES} messages: ${migrateSec.toFixed(1)} s`);

    const perMsg = (b: number): number => round(b / MESSAGES);
    const table = [
      ['', 'schema 1 (samples)', 'schema 2 (write path)', 'schema 1 migrated to 2'],
      ['bytes/message on disk', perMsg(s1.bytes), perMsg(s2.bytes), perMsg(s1m.bytes)],
      ...Object.keys(QUERIES_V2).map((k) => [
        `${k} (median / max ms)`,
        `${q1[k]?.medianMs} / ${q1[k]?.maxMs} (${q1[k]?.rows} rows)`,
        `${q2[k]?.medianMs} / ${q2[k]?.maxMs} (${q2[k]?.rows} rows)`,
        '',
      ]),
    ];
    for (const row of table) console.log(`| ${row.join(' | ')} |`);
    console.log(
      'bytes per table, schema 2:',
      Object.fromEntries(Object.entries(s2.perTable).map(([k, v]) => [k, perMsg(v)])),
    );
    console.log(
      'bytes per table, schema 1:',
      Object.fromEntries(Object.entries(s1.perTable).map(([k, v]) => [k, perMsg(v)])),
    );
    const out = resolve(values.json as string);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          messages: MESSAGES,
          devices: DEVICES,
          write: { seconds: writeSec, usPerMessage: (writeSec * 1e6) / stored },
          migrationSeconds: migrateSec,
          bytesPerMessage: {
            schema1: perMsg(s1.bytes),
            schema2: perMsg(s2.bytes),
            migrated: perMsg(s1m.bytes),
          },
          perTable: { schema1: s1.perTable, schema2: s2.perTable },
          queries: { schema1: q1, schema2: q2 },
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${out}`);
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

main();
