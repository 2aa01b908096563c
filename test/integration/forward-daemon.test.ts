/**
 * Forwarding in the real daemon (dist/cli.js): a backlog in the database file plus messages
 * published to the embedded broker while it runs reach PostgreSQL exactly once, across a kill -9
 * in the middle of forwarding and a restart; the metrics say what is left; check-config hides the
 * PostgreSQL password.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { configArgs, connectClient, count } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, runCli, startDaemon } from '../helpers/daemon-process.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { PG, type TestSchema, testSchema } from '../helpers/pg-test-schema.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const BACKLOG = 60_000;
const LIVE = 300;

let tmp: ReturnType<typeof tmpDir>;
let pg: TestSchema;
const daemons: DaemonProcess[] = [];

beforeEach(async () => {
  tmp = tmpDir('mqlite-forward-daemon-');
  pg = await testSchema();
});

afterEach(async () => {
  for (const d of daemons.splice(0)) await d.kill9();
  await pg.drop();
  tmp.cleanup();
});

function settings(db: string): Record<string, unknown> {
  return {
    db: { path: db },
    embedded: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    retention: { checkIntervalMs: 1000 },
    forward: {
      postgres: {
        host: PG.host,
        port: PG.port,
        database: PG.database,
        user: PG.user,
        schema: pg.name,
        // Small batches: many transactions, so the kill lands between and inside them.
        batchMessages: 1000,
        pollMs: 50,
        retry: { baseMs: 20, capMs: 500 },
      },
    },
  };
}

it('kill -9 while forwarding, restart: every message in PostgreSQL exactly once, none purged before', async () => {
  const db = join(tmp.dir, 'm.db');
  // Two months old: retention (30 days, checked every second here) wants every one of them gone,
  // and may take only what PostgreSQL has.
  writeOutbox(db, 1, BACKLOG, Date.now() - 60 * 86_400_000);
  const args = configArgs(tmp.dir, settings(db));

  const first = await startDaemon(args);
  daemons.push(first);
  await waitFor(async () => (await pg.count('messages')) >= 5000, 'forwarding to be under way', 60_000);
  await first.kill9();
  const atKill = await pg.count('messages');
  expect(atKill).toBeLessThan(BACKLOG);

  const second = await startDaemon(args);
  daemons.push(second);
  const broker = second.broker!;
  const client = await connectClient(`mqtt://${broker.host}:${broker.port}`, { clientId: 'fwd-pub' });
  for (let i = 0; i < LIVE; i++)
    await client.publishAsync(`live/dev${i % 5}/state`, JSON.stringify({ n: i, t: 20 + (i % 7) }), {
      qos: 1,
    });
  await client.endAsync();

  const total = BACKLOG + LIVE;
  await waitFor(async () => (await pg.count('messages')) === total, `all ${total} in PostgreSQL`, 120_000);
  // The newest row is never purged, so its id is the last one ever given.
  const newest = count(db, 'SELECT max(id) FROM messages');
  expect(newest).toBe(total);
  const remote = await pg.rows<{ n: string; distinct_ids: string; hi: string }>(
    `SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids, max(id) AS hi FROM ${pg.name}.messages`,
  );
  expect(remote[0]).toEqual({ n: String(total), distinct_ids: String(total), hi: String(newest) });
  const live = await pg.rows<{ n: string }>(
    `SELECT count(*) AS n FROM ${pg.name}.readings WHERE device LIKE 'dev%' AND metric = 't'`,
  );
  expect(Number(live[0]!.n)).toBe(LIVE);
  const cursor = await pg.rows<{ after_id: string }>(`SELECT after_id FROM ${pg.name}.forward_cursor`);
  expect(cursor).toEqual([{ after_id: String(newest) }]);

  await waitFor(
    async () => metricValue(await second.metrics(), 'mqlite_forward_backlog_messages') === 0,
    'the backlog gauge to reach 0',
  );
  const text = await second.metrics();
  expect(metricValue(text, 'mqlite_forward_delivered_id')).toBe(newest);
  expect(metricValue(text, 'mqlite_forward_connected')).toBe(1);
  // What the second daemon added; fewer than total − atKill only if the killed one's last COMMIT
  // was processed after atKill was counted.
  const added = metricValue(text, 'mqlite_forwarded_messages_total');
  expect(added).toBeGreaterThan(LIVE);
  expect(added).toBeLessThanOrEqual(total - atKill);
  expect(await second.stop()).toBe(0);
  expect(count(db, "SELECT after_id FROM purge_protect WHERE consumer = 'forward.postgres'")).toBe(newest);
}, 240_000);

it('check-config hides the PostgreSQL password, in the URL and on its own', async () => {
  const db = join(tmp.dir, 'm.db');
  const args = configArgs(tmp.dir, {
    ...settings(db),
    forward: {
      postgres: { url: 'postgres://ingest:s3cret-url@db.example/telemetry', password: 's3cret-key' },
    },
  });
  const r = await runCli(['check-config', ...args], { MQLITE_FORWARD_POSTGRES_PASSWORD: 's3cret-env' });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('postgres://ingest:***@db.example/telemetry');
  expect(r.stdout).not.toMatch(/s3cret/);
});
