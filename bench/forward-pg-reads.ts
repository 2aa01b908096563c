/**
 * `npx tsx bench/forward-pg-reads.ts -- [--sources 4] [--rows 250000] [--devices 50] [--batch 10000]
 * [--pairs 5] [--runs 5] [--plans] [--only <part of a query's name>]`: the reads users run on the central PostgreSQL, against `messages` keyed
 * (source, id) as made up to bc68a9f and (id, source) as made since (issue 16), so that the cheaper
 * insert does not make them slower.
 *
 * Two schemas on the machine's PostgreSQL (PGHOST/PGPORT/PGDATABASE, default 127.0.0.1:5432 test),
 * made by pg-schema.ts's own DDL, the old one with its key put back to (source, id); the same rows in
 * both: `--sources` gateways, `--rows` each over the last 7 days, ids from 1 per gateway, inserted
 * in batches of `--batch` ids that take turns between the gateways as forwarding does, `--devices`
 * devices per gateway; then VACUUM ANALYZE, and the sizes of the key and (device, ts) indexes. Each query is run under EXPLAIN (ANALYZE, BUFFERS) `--runs` times per side and
 * side by side in `--pairs` alternated pairs (old first, then new first): the median execution time
 * per side and pair, the median over pairs, and the shared buffers touched (hit + read), which
 * unlike the time does not move with the machine's load. `--plans` prints each side's plan.
 * The schemas are dropped at the end.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createSchema, readingsView } from '../src/forward/pg-schema.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string', default: '4' },
    rows: { type: 'string', default: '250000' },
    devices: { type: 'string', default: '50' },
    batch: { type: 'string', default: '10000' },
    pairs: { type: 'string', default: '5' },
    runs: { type: 'string', default: '5' },
    plans: { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
  },
});
const SOURCES = Number(values.sources);
const ROWS = Number(values.rows);
const DEVICES = Number(values.devices);
const BATCH = Number(values.batch);
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

type Side = 'old' | 'new';
const schemaOf = (side: Side) => `mqlite_reads_${side}_${process.pid}`;

/** pg-schema.ts's DDL; `old` with the key bc68a9f made. */
function ddl(side: Side): string[] {
  const n = { schema: schemaOf(side) };
  const stmts = [...createSchema(n, false), readingsView(n, 'json')];
  if (side === 'new') return stmts;
  return stmts.map((s) => s.replace('PRIMARY KEY (id, source)', 'PRIMARY KEY (source, id)'));
}

/**
 * Gateway g's source, 16 hex digits like mqlite's instance ids (v6-instance.ts): the key's tuple
 * width decides how PostgreSQL splits its pages, so a short made-up name would not do.
 */
function sourceOf(g: number): string {
  return createHash('sha256').update(`bench-${g}`).digest('hex').slice(0, 16);
}

/**
 * Gateway g's batch of ids lo..hi, as forwarding inserts it: the gateways' batches take turns, so
 * under (id, source) each batch after the first lands among the rows of the same ids from the
 * gateways before it.
 */
function fill(s: string, g: number, lo: number, hi: number): string {
  return `INSERT INTO ${s}.messages (source, id, ts, received_at, topic, device, payload, qos, retain, dup, readings)
    SELECT '${sourceOf(g)}', i, t, t, 'site/' || ${g} || '/dev-' || (i % ${DEVICES}) || '/state',
           'gw' || ${g} || '-dev-' || (i % ${DEVICES}), '{"temp":21.5,"hum":40}', 1, false, false,
           '{"temp":21.5,"hum":40}'
      FROM generate_series(${lo}, ${hi}) i,
           LATERAL (SELECT now() - interval '7 days' + (i * (interval '7 days' / ${ROWS})) AS t) x`;
}

interface Query {
  readonly name: string;
  readonly sql: (s: string) => string;
}

const DEVICE = `gw2-dev-7`;
const SOURCE = sourceOf(2);
const QUERIES: Query[] = [
  {
    name: "one device's last 24 h",
    sql: (s) => `SELECT ts, readings FROM ${s}.messages
      WHERE device = '${DEVICE}' AND ts >= now() - interval '24 hours' ORDER BY ts`,
  },
  {
    name: "one device's last 24 h, readings view",
    sql: (s) => `SELECT ts, metric, value FROM ${s}.readings
      WHERE device = '${DEVICE}' AND ts >= now() - interval '24 hours' ORDER BY ts`,
  },
  {
    name: 'latest per device (DISTINCT ON)',
    sql: (s) =>
      `SELECT DISTINCT ON (device) device, ts, readings FROM ${s}.messages ORDER BY device, ts DESC`,
  },
  {
    name: 'latest per device of one source (LATERAL)',
    sql: (s) => `SELECT d.device, m.ts, m.readings
      FROM (SELECT 'gw2-dev-' || k AS device FROM generate_series(0, ${DEVICES - 1}) k) d,
           LATERAL (SELECT ts, readings FROM ${s}.messages WHERE device = d.device ORDER BY ts DESC LIMIT 1) m`,
  },
  {
    name: "one source's newest 100",
    sql: (s) =>
      `SELECT id, ts, device FROM ${s}.messages WHERE source = '${SOURCE}' ORDER BY id DESC LIMIT 100`,
  },
  {
    name: "one source's ids in a range of 1000",
    sql: (s) => `SELECT id, ts, device FROM ${s}.messages
      WHERE source = '${SOURCE}' AND id BETWEEN ${Math.floor(ROWS / 2)} AND ${Math.floor(ROWS / 2) + 999}`,
  },
  {
    name: 'one message by key',
    sql: (s) => `SELECT * FROM ${s}.messages WHERE source = '${SOURCE}' AND id = ${Math.floor(ROWS / 3)}`,
  },
  {
    name: "one source's rows in the last hour",
    sql: (s) =>
      `SELECT count(*) FROM ${s}.messages WHERE source = '${SOURCE}' AND ts >= now() - interval '1 hour'`,
  },
  {
    name: 'rows per source',
    sql: (s) => `SELECT source, count(*) FROM ${s}.messages GROUP BY source`,
  },
  {
    name: "count of one source's rows",
    sql: (s) => `SELECT count(*) FROM ${s}.messages WHERE source = '${SOURCE}'`,
  },
];

interface Explained {
  readonly ms: number;
  readonly buffers: number;
  readonly plan: string;
}

async function explain(c: pg.Client, sql: string): Promise<Explained> {
  const r = await c.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`);
  const top = (
    (r.rows[0]?.['QUERY PLAN'] ?? []) as { Plan: Record<string, unknown>; 'Execution Time': number }[]
  )[0];
  if (!top) throw new Error('no plan');
  const plan = top.Plan;
  const nodes: string[] = [];
  const walk = (p: Record<string, unknown>) => {
    const idx = p['Index Name'] ? ` ${p['Index Name']}` : '';
    nodes.push(`${p['Node Type']}${idx}`);
    for (const sub of (p.Plans as Record<string, unknown>[] | undefined) ?? []) walk(sub);
  };
  walk(plan);
  return {
    ms: top['Execution Time'],
    buffers: Number(plan['Shared Hit Blocks'] ?? 0) + Number(plan['Shared Read Blocks'] ?? 0),
    plan: nodes.join(' > '),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
};

const c = new pg.Client(PG);
await c.connect();
const sides: Side[] = ['old', 'new'];
try {
  for (const side of sides) {
    const t0 = performance.now();
    for (const stmt of ddl(side)) await c.query(stmt);
    for (let lo = 1; lo <= ROWS; lo += BATCH)
      for (let g = 1; g <= SOURCES; g++)
        await c.query(fill(schemaOf(side), g, lo, Math.min(ROWS, lo + BATCH - 1)));
    await c.query(`VACUUM ANALYZE ${schemaOf(side)}.messages`);
    const key = await c.query<{ def: string; key: string; device: string; total: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS def, pg_relation_size(indexrelid) AS key,
              pg_relation_size('${schemaOf(side)}.messages_device_ts') AS device,
              pg_total_relation_size('${schemaOf(side)}.messages') AS total
         FROM pg_index WHERE indrelid = $1::regclass AND indisprimary`,
      [`${schemaOf(side)}.messages`],
    );
    const k = key.rows[0];
    const perRow = (b: string | undefined) => (Number(b) / (SOURCES * ROWS)).toFixed(1);
    console.log(
      `${side}: ${SOURCES * ROWS} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${k?.def}; bytes/row: key ${perRow(k?.key)}, (device, ts) ${perRow(k?.device)}, table + indexes ${perRow(k?.total)}`,
    );
  }
  const runs = Number(values.runs);
  for (const q of QUERIES.filter((x) => x.name.includes(values.only as string))) {
    const perPair: Record<Side, number[]> = { old: [], new: [] };
    const last: Partial<Record<Side, Explained>> = {};
    for (let pair = 0; pair < Number(values.pairs); pair++) {
      const order: Side[] = pair % 2 ? ['new', 'old'] : ['old', 'new'];
      for (const side of order) {
        const ms: number[] = [];
        for (let k = 0; k < runs; k++) {
          const e = await explain(c, q.sql(schemaOf(side)));
          ms.push(e.ms);
          last[side] = e;
        }
        perPair[side].push(median(ms));
      }
    }
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
    console.log(
      JSON.stringify({
        query: q.name,
        oldMsPerPair: fmt(perPair.old),
        newMsPerPair: fmt(perPair.new),
        oldMedianMs: Number(median(perPair.old).toFixed(3)),
        newMedianMs: Number(median(perPair.new).toFixed(3)),
        oldBuffers: last.old?.buffers,
        newBuffers: last.new?.buffers,
        oldPlan: last.old?.plan,
        newPlan: last.new?.plan,
      }),
    );
    if (values.plans)
      for (const side of sides) {
        const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS off, TIMING off) ${q.sql(schemaOf(side))}`);
        console.log(`--- ${q.name} (${side})\n${r.rows.map((x) => x['QUERY PLAN']).join('\n')}`);
      }
  }
} finally {
  for (const side of sides) await c.query(`DROP SCHEMA IF EXISTS ${schemaOf(side)} CASCADE`);
  await c.end();
}
