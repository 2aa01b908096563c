/**
 * `npm run bench:forward-live -- [--pairs 5] [--messages 200000] [--qos 1] [--max-delay-ms N]`: mqlite's ingestion
 * while it forwards live to the local PostgreSQL, against the same load without forwarding (issue
 * #16: ≥ 0.9×). Each pair runs the bench load (100 devices, QoS 1, Mosquitto with
 * deploy/mosquitto.conf) once without and once with `forward.postgres` (a schema of its own per
 * run, dropped after), so the two sides meet the machine alike. Per pair: both rates and their
 * ratio; the CPU of mqlite's threads (main, the SQLite writer, the forwarder) and of the forwarder's
 * PostgreSQL backend; how much had reached PostgreSQL when the last message was stored, and how long the
 * forwarder took to deliver the rest. The CPU covers the forwarding of all the messages, catch-up
 * included. Every "on" run is then checked: each message in PostgreSQL exactly once.
 *
 * PostgreSQL: PGHOST/PGPORT/PGDATABASE/PGUSER, default 127.0.0.1:5432 test postgres (trust). More
 * daemon YAML for both sides through BENCH_MQLITE_YAML (not `forward`, which this writes; set
 * forward.postgres.maxDelayMs with --max-delay-ms, default the config's).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type Alongside, type PhaseResult, runPhase } from './lib/phase.js';
import { forwarderBackendCpu } from './lib/pg-backend.js';
import { sleep } from './lib/process.js';
import { mqliteLoad } from './lib/mqlite-load.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5' },
    messages: { type: 'string', default: '200000' },
    devices: { type: 'string', default: '100' },
    qos: { type: 'string', default: '1' },
    /** How long the forwarder may take, after the last message is stored, to deliver the rest. */
    'catch-up-s': { type: 'string', default: '120' },
    'max-delay-ms': { type: 'string' },
    json: {
      type: 'string',
      default: `bench/results/forward-live-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    },
  },
});
const pairs = Number(values.pairs);
const devices = Number(values.devices);
const messages = Number(values.messages);
const qos = Number(values.qos) as 0 | 1;
const catchUpMs = Number(values['catch-up-s']) * 1000;
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};
const baseYaml = process.env.BENCH_MQLITE_YAML;
const maxDelay =
  values['max-delay-ms'] === undefined ? '' : `\n    maxDelayMs: ${Number(values['max-delay-ms'])}`;

interface Delivery {
  /** In PostgreSQL when the last message was stored locally. */
  atEnd: number;
  /** Seconds from then until every stored message was in PostgreSQL (undefined: not within the bound). */
  catchUpSeconds: number | undefined;
  pgCpuSeconds: number;
}

async function delivered(client: pg.Client, schema: string): Promise<number> {
  const r = await client.query<{ n: string }>(
    `SELECT coalesce(sum(messages), 0) AS n FROM ${schema}.forward_cursor`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Beside an "on" run: the catch-up once ingestion has ended, and PostgreSQL's CPU for it all. */
function watchDelivery(client: pg.Client, schema: string, expected: number, out: Delivery): Alongside {
  return () => {
    return {
      stop: async () => {
        const ended = Date.now();
        out.atEnd = await delivered(client, schema).catch(() => 0);
        let n = out.atEnd;
        while (n < expected && Date.now() - ended < catchUpMs) {
          await sleep(100);
          n = await delivered(client, schema).catch(() => n);
        }
        out.catchUpSeconds = n >= expected ? (Date.now() - ended) / 1000 : undefined;
        out.pgCpuSeconds = await forwarderBackendCpu(client, schema).catch(() => Number.NaN);
      },
    };
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const threadCpu = (r: PhaseResult, name: string): number => r.cpuByThread[name] ?? 0;

async function main(): Promise<number> {
  const { env, spec, machine: m, compiled } = mqliteLoad(benchDir, repoDir, { devices, messages, qos });
  const { broker } = env;
  console.log(
    `load: ${devices} devices, ${messages} messages qos ${qos}; ${pairs} pair(s) without / with forwarding to ` +
      `postgres://${PG.user}@${PG.host}:${PG.port}/${PG.database}`,
  );
  const expected = devices * spec.perDevice;
  const client = new pg.Client({ ...PG, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await client.connect();
  const rows: Record<string, unknown>[] = [];
  let allExact = true;
  try {
    for (let pair = 1; pair <= pairs; pair++) {
      if (baseYaml === undefined) delete process.env.BENCH_MQLITE_YAML;
      else process.env.BENCH_MQLITE_YAML = baseYaml;
      const off = await runPhase(spec, env);

      const schema = `bench_live_${process.pid}_${pair}`;
      process.env.BENCH_MQLITE_YAML = [
        baseYaml ?? '',
        `forward:\n  postgres:\n    url: postgres://${PG.user}@${PG.host}:${PG.port}/${PG.database}\n    schema: ${schema}\n    source: ${schema}${maxDelay}`,
      ].join('\n');
      const d: Delivery = { atEnd: 0, catchUpSeconds: undefined, pgCpuSeconds: 0 };
      let on: PhaseResult;
      let exact: { rows: number; distinct: number };
      try {
        on = await runPhase(spec, env, watchDelivery(client, schema, expected, d));
        const r = await client.query<{ rows: string; distinct: string }>(
          `SELECT count(*) AS rows, count(DISTINCT (source, id)) AS distinct FROM ${schema}.messages`,
        );
        exact = { rows: Number(r.rows[0]?.rows), distinct: Number(r.rows[0]?.distinct) };
      } finally {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
      const ok = exact.rows === expected && exact.distinct === expected;
      allExact &&= ok && on.verification.ok && off.verification.ok;
      const ratio = on.msgsPerSec / off.msgsPerSec;
      // Remote transactions, from the daemon's metrics scraped after the catch-up.
      const batches = on.metrics.mqlite_forward_batch_duration_seconds_count ?? Number.NaN;
      const cpu = (r: PhaseResult) =>
        `main ${threadCpu(r, 'main').toFixed(2)} writer ${threadCpu(r, 'mqlite-sqlite').toFixed(2)}` +
        (r === on ? ` forwarder ${threadCpu(r, 'mqlite-forward').toFixed(2)}` : '');
      console.log(
        `  pair ${pair}: off ${Math.round(off.msgsPerSec)} msg/s (${cpu(off)} s), on ${Math.round(on.msgsPerSec)} ` +
          `msg/s (${cpu(on)}, postgres ${d.pgCpuSeconds.toFixed(2)} s): ${ratio.toFixed(2)}×; in PostgreSQL ` +
          `when ingestion ended ${d.atEnd}/${expected}, the rest ${
            d.catchUpSeconds === undefined
              ? `NOT within ${catchUpMs / 1000} s`
              : `${d.catchUpSeconds.toFixed(1)} s later`
          }; ${batches} batches (mean ${Math.round(expected / batches)} messages); ${ok ? 'each message exactly once' : `NOT exact: ${JSON.stringify(exact)}`}`,
      );
      rows.push({
        pair,
        off: { msgsPerSec: off.msgsPerSec, cpuByThread: off.cpuByThread, verification: off.verification },
        on: { msgsPerSec: on.msgsPerSec, cpuByThread: on.cpuByThread, verification: on.verification },
        ratio,
        batches,
        delivery: d,
        postgresRows: exact,
      });
    }
  } finally {
    compiled.dispose();
    await client.end();
  }
  const ratios = rows.map((r) => r.ratio as number);
  const side = (k: 'off' | 'on') => median(rows.map((r) => (r[k] as { msgsPerSec: number }).msgsPerSec));
  const fwdCpu = median(
    rows.map((r) => (r.on as { cpuByThread: Record<string, number> }).cpuByThread['mqlite-forward'] ?? 0),
  );
  const pgCpu = median(rows.map((r) => (r.delivery as Delivery).pgCpuSeconds));
  console.log(
    `\nmedian of the pairs' ratios: ${median(ratios).toFixed(2)}× (target ≥ 0.9×); medians of each side: off ` +
      `${Math.round(side('off'))}, on ${Math.round(side('on'))} msg/s (${(side('on') / side('off')).toFixed(2)}×)\n` +
      `forwarding CPU per message (median): forwarder thread ${((fwdCpu / expected) * 1e6).toFixed(1)} µs, ` +
      `its PostgreSQL backend ${((pgCpu / expected) * 1e6).toFixed(1)} µs`,
  );
  const out = resolve(values.json as string);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), machine: m, broker, options: { pairs, devices, messages, qos }, pairs: rows }, null, 2)}\n`,
  );
  console.log(`wrote ${out}`);
  return allExact ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
