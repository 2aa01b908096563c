/**
 * Issue 16's combined proof: three mqlite daemons on one shared subscription of a persistent
 * Mosquitto, each with its own SQLite file and stable client id, all forwarding to one PostgreSQL
 * schema. During the run one instance is killed (-9) while it forwards and restarted with its id and
 * file, and PostgreSQL is unreachable for all of them for a while; at the end every published
 * message is in PostgreSQL exactly once and every instance's backlog is 0.
 *
 * What each link rests on: share-instances.test.ts (the broker keeps a dead member's share for it),
 * forward-daemon.test.ts (a forwarder killed mid-batch re-sends only no-ops).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { within } from '../helpers/chaos.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { deviceStream, publishPaced, type StreamMessage } from '../helpers/device-stream.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { PG, testSchema } from '../helpers/pg-test-schema.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const INSTANCES = 3;
const VICTIM = 1;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function key(m: StreamMessage): string {
  return `${m.topic} ${m.payload}`;
}

async function backlog(d: DaemonProcess): Promise<number> {
  return metricValue(await d.metrics(), 'mqlite_forward_backlog_messages');
}

it('3 instances on a shared subscription forwarding to one PostgreSQL: kill -9 of one and a PostgreSQL outage, every message there exactly once', async () => {
  // The settings that lose nothing (README "Scaling out"): persistent sessions (mqlite's default,
  // with a session expiry), a persistent broker whose per-client queue holds a dead member's share
  // for its whole downtime (the helper sets max_queued_messages 100000; bytes unlimited), and each
  // instance back with its own client id and database.
  const broker = await startMosquitto({ persistence: true });
  cleanups.push(() => broker.stop());
  const pg = await testSchema('mqlite_scale');
  cleanups.push(() => pg.drop());
  const tmp = tmpDir('mqlite-scale-out-');
  cleanups.push(tmp.cleanup);

  // One config for the group, as in the README; per instance only its database, its client id and
  // (here) its route to PostgreSQL. Small batches and a fast retry: many remote transactions, so the
  // kill and the cut fall between and inside them, and the test does not wait out a long backoff.
  const config = join(tmp.dir, 'mqlite.yaml');
  writeFileSync(
    config,
    [
      'subscribe:',
      '  shareGroup: ingest',
      "  topics: ['tele/#', 'zigbee2mqtt/#']",
      'timestamps:',
      '  zone: UTC', // Tasmota's `Time` has no offset; the stream writes it in UTC.
      'forward:',
      '  postgres:',
      `    schema: ${pg.name}`,
      '    batchMessages: 200',
      '    pollMs: 50',
      '    connectTimeoutMs: 2000',
      '    retry: { baseMs: 50, capMs: 1000 }',
      '',
    ].join('\n'),
  );

  // Stopping the machine's PostgreSQL would hit every other test running on it; each daemon reaches
  // it through a proxy of its own instead, which the test cuts (open connections reset) and keeps
  // refusing: what a daemon sees of a stopped server (ECONNREFUSED aside).
  const proxies: TcpProxy[] = [];
  for (let i = 0; i < INSTANCES; i++) {
    const p = await startTcpProxy({ host: PG.host, port: PG.port });
    cleanups.push(() => p.stop());
    proxies.push(p);
  }

  const dbs = Array.from({ length: INSTANCES }, (_, i) => join(tmp.dir, `i${i}`, 'mqlite.db'));
  const daemons: DaemonProcess[] = [];
  cleanups.push(() => Promise.all(daemons.map((d) => d.kill9())));
  const start = async (i: number): Promise<DaemonProcess> => {
    mkdirSync(join(tmp.dir, `i${i}`), { recursive: true });
    const d = await startDaemon(
      [
        ...['--config', config, '--broker', broker.url, '--db', dbs[i] as string],
        ...['--http', '127.0.0.1:0', '--client-id', `mqlite-scale-${i}`],
      ],
      {
        MQLITE_FORWARD_POSTGRES_URL: `postgres://${PG.user}@127.0.0.1:${proxies[i]?.port}/${PG.database}`,
      },
    );
    daemons[i] = d;
    await waitFor(async () => (await d.readyz()).status === 200, `instance ${i} subscribed`);
    return d;
  };
  for (let i = 0; i < INSTANCES; i++) await start(i);

  // 10 Tasmota plugs and 10 zigbee2mqtt sensors, 300 messages each (6000), about 15 per second per
  // device at 300/s in all: ~20 s of stream, so both faults fall while it flows.
  const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const messages = deviceStream(10, 300, base);
  const run = await publishPaced(broker.url, messages, {
    clients: 4,
    ratePerSecond: 300,
    window: 20,
    prefix: 'scale-out',
  });
  cleanups.push(() => run.close());

  // Fault 1: kill -9 of an instance while it forwards, then restart with the same id and file.
  const victimForwarded = async () =>
    metricValue(await (daemons[VICTIM] as DaemonProcess).metrics(), 'mqlite_forwarded_messages_total');
  await waitFor(async () => (await victimForwarded()) > 0, 'the victim to be forwarding', 60_000, 20);
  await (daemons[VICTIM] as DaemonProcess).kill9();
  const atKill = { acked: run.acked, inPostgres: await pg.count('messages') };
  await start(VICTIM);

  // Fault 2: PostgreSQL unreachable for every instance while the stream goes on. It ends once each
  // instance has noticed (forward_connected 0) and reported a backlog (the gauges report every 5 s),
  // not after a fixed time...
  await waitFor(() => run.acked > messages.length / 3, 'a third of the stream published', 60_000, 20);
  for (const p of proxies) {
    p.refuse();
    p.cut();
  }
  const atCut = { acked: run.acked, inPostgres: await pg.count('messages') };
  await waitFor(
    async () => {
      const c = await Promise.all(
        daemons.map(async (d) => metricValue(await d.metrics(), 'mqlite_forward_connected')),
      );
      return c.every((n) => n === 0);
    },
    'every instance to see PostgreSQL gone',
    60_000,
    100,
  );
  const backlogs = await waitFor(
    async () => {
      const b = await Promise.all(daemons.map(backlog));
      return b.every((n) => n > 0) ? b : undefined;
    },
    'every instance to report a backlog while PostgreSQL is away',
    60_000,
    200,
  );
  // ...and a sixth of the stream has been published into it.
  await waitFor(
    () => run.acked >= atCut.acked + messages.length / 6,
    'a sixth of the stream published while PostgreSQL is away',
    60_000,
    20,
  );
  const afterOutage = { acked: run.acked, inPostgres: await pg.count('messages') };
  for (const p of proxies) p.accept();

  await within(run.done, 60_000, 'Mosquitto to acknowledge every publish');
  await waitFor(
    async () => (await pg.count('messages')) >= messages.length,
    `${messages.length} messages in PostgreSQL`,
    90_000,
    200,
  );
  for (const [i, d] of daemons.entries())
    await waitFor(async () => (await backlog(d)) === 0, `instance ${i}'s backlog to reach 0`, 60_000, 200);

  const rows = await pg.rows<{ source: string; topic: string; payload: string }>(
    `SELECT source, topic, payload FROM ${pg.name}.messages`,
  );
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const expected = new Set(messages.map(key));
  const perSource = new Map<string, number>();
  for (const r of rows) perSource.set(r.source, (perSource.get(r.source) ?? 0) + 1);
  const resent = metricValue(
    await (daemons[VICTIM] as DaemonProcess).metrics(),
    'mqlite_forward_duplicates_total',
  );
  console.log(
    `scale-out: kill at ${JSON.stringify(atKill)}, cut at ${JSON.stringify(atCut)}, outage over at ` +
      `${JSON.stringify(afterOutage)} with backlogs ${JSON.stringify(backlogs)}; victim's no-op re-sends ${resent}; per source ${JSON.stringify([...perSource.values()])} of ${messages.length}`,
  );
  for (const d of daemons) expect(await d.stop()).toBe(0);

  // Both faults fell mid-stream.
  expect(atKill.acked).toBeLessThan(messages.length);
  expect(atCut.acked).toBeLessThan(messages.length);
  expect({
    rows: rows.length,
    distinct: counts.size,
    duplicates: [...counts].filter(([, n]) => n > 1).slice(0, 10),
    missing: [...expected].filter((k) => !counts.has(k)).slice(0, 10),
    unexpected: [...counts.keys()].filter((k) => !expected.has(k)).slice(0, 10),
  }).toEqual({
    rows: messages.length,
    distinct: messages.length,
    duplicates: [],
    missing: [],
    unexpected: [],
  });
  // Each instance (one source per database file) delivered its share.
  expect(perSource.size).toBe(INSTANCES);
}, 240_000);
