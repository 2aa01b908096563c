/**
 * Graceful shutdown of the real CLI: SIGTERM under QoS 1 load (embedded broker, and subscribed
 * to Mosquitto), a drain that cannot finish (another connection holds the write lock), and a
 * second signal during that drain. Checked: the exit code, that every message acknowledged
 * before the exit is in the database, that the WAL is checkpointed away, and that after a
 * restart the devices' unacknowledged messages are redelivered and stored, exactly once.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, count, sleep, withDb } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startSteadyPublishers, type SteadyPublishers } from '../helpers/steady-publishers.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

/** Loose: tells "within the grace period" from hanging; the machine may be loaded. */
const SLACK_MS = 5000;

describe('graceful shutdown', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function paths() {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    return { dir: tmp.dir, db: join(tmp.dir, 'mqlite.db') };
  }

  /** A slow writer (small batches, fsync each), so SIGTERM finds a backlog to drain. */
  const slowWriter = (graceMs: number) => ({
    batch: { maxBatch: 10 },
    db: { synchronous: 'FULL' },
    shutdown: { graceMs },
    embedded: { allowAnonymous: true },
  });

  async function embedded(dir: string, db: string, graceMs: number, port = 0): Promise<DaemonProcess> {
    const d = await startDaemon([
      '--db',
      db,
      '--listen',
      `127.0.0.1:${port}`,
      '--http',
      '127.0.0.1:0',
      ...configArgs(dir, slowWriter(graceMs)),
    ]);
    cleanups.push(() => d.kill9());
    return d;
  }

  async function publishers(
    url: string,
    prefix: string,
    protocolVersion: 4 | 5 = 4,
    max?: number,
  ): Promise<SteadyPublishers> {
    const p = await startSteadyPublishers(url, { clients: 4, window: 20, prefix, protocolVersion, max });
    cleanups.push(() => p.close());
    return p;
  }

  /** SIGTERM; resolves with the exit code and how long the exit took. */
  async function terminate(d: DaemonProcess, signal: NodeJS.Signals = 'SIGTERM') {
    const t = Date.now();
    const code = await d.stop(signal);
    return { code, ms: Date.now() - t };
  }

  function walEmpty(db: string): boolean {
    return !existsSync(`${db}-wal`) || statSync(`${db}-wal`).size === 0;
  }

  function storedPayloads(db: string): string[] {
    return withDb(db, (sql) => sql.prepare('SELECT payload FROM messages').pluck().all() as string[]);
  }

  function expectAllAckedStored(pub: SteadyPublishers, db: string): void {
    const stored = new Set(storedPayloads(db));
    expect([...pub.acked].filter((p) => !stored.has(p))).toEqual([]);
  }

  it('embedded, SIGTERM under QoS 1 load: exit 0 in the grace period, acked messages stored, WAL gone; the rest redelivered after restart', async () => {
    const { dir, db } = paths();
    const grace = 10_000;
    const first = await embedded(dir, db, grace);
    const port = first.broker!.port;
    const pub = await publishers(`mqtt://127.0.0.1:${port}`, 'sig');
    await waitFor(() => pub.acked.size >= 200, 'load running');

    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(grace + SLACK_MS);
    pub.stopSending();
    expectAllAckedStored(pub, db);
    expect(walEmpty(db)).toBe(true);
    const unacked = pub.sent.filter((p) => !pub.acked.has(p));
    expect(unacked.length).toBeGreaterThan(0);

    // Same port: the devices reconnect and resend what was never acknowledged.
    const second = await embedded(dir, db, grace, port);
    await pub.allAcked();
    expect(pub.errors).toEqual([]);
    expect(await terminate(second)).toMatchObject({ code: 0 });
    const stored = storedPayloads(db);
    expect(stored.length).toBe(pub.sent.length); // exactly once: a redelivery is not stored twice
    expect(new Set(stored)).toEqual(new Set(pub.sent));
  });

  it('subscribed to Mosquitto, SIGTERM under QoS 1 load: exit 0, WAL gone, and after restart nothing is missing or doubled', async () => {
    const { dir, db } = paths();
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const args = [
      '--broker',
      mosquitto.url,
      '--topic',
      'sub/#',
      '--db',
      db,
      '--http',
      '127.0.0.1:0',
      ...configArgs(dir, slowWriter(10_000)),
    ];
    const first = await startDaemon(args);
    cleanups.push(() => first.kill9());
    await waitFor(async () => (await first.readyz()).status === 200, 'subscribed');
    // Mosquitto acknowledges the publishers at once, whatever the daemon's pace: uncapped, they sent
    // over 100k messages during a slow drain on a loaded machine, and Mosquitto dropped what passed
    // its max_queued_messages (100000). 20k is far more than the drain stores, and always fits.
    const pub = await publishers(mosquitto.url, 'sub', 5, 20_000);
    await waitFor(() => count(db, 'SELECT count(*) FROM messages') >= 200, 'load running');

    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000 + SLACK_MS);
    expect(walEmpty(db)).toBe(true);
    const storedAtExit = count(db, 'SELECT count(*) FROM messages');
    await sleep(300); // publishers keep going: Mosquitto queues for the persistent session
    pub.stopSending();
    await pub.allAcked(); // acknowledged by Mosquitto
    expect(storedAtExit).toBeLessThan(pub.sent.length);

    const second = await startDaemon(args);
    cleanups.push(() => second.kill9());
    await waitFor(
      () => count(db, 'SELECT count(*) FROM messages') >= pub.sent.length,
      'the queued messages delivered after restart',
    );
    await sleep(300);
    expect(await terminate(second)).toMatchObject({ code: 0 });
    const stored = storedPayloads(db);
    expect(stored.length).toBe(pub.sent.length);
    expect(new Set(stored)).toEqual(new Set(pub.sent));
  });

  it('a drain that cannot finish (write lock held elsewhere) ends at the grace period with exit 0; nothing it held was acked', async () => {
    const { dir, db } = paths();
    const grace = 1500;
    const first = await embedded(dir, db, grace);
    const port = first.broker!.port;
    const pub = await publishers(`mqtt://127.0.0.1:${port}`, 'grace');
    await waitFor(() => pub.acked.size >= 50, 'load running');
    const locker = new Database(db);
    cleanups.push(() => locker.close());
    locker.exec('BEGIN IMMEDIATE');
    await sleep(300);
    const ackedAtLock = pub.acked.size;

    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(grace + 2000 + SLACK_MS); // + the 2 s busy timeout of the write in progress
    expect(first.logs.some((l) => String(l.msg).startsWith('grace period over'))).toBe(true);
    expect(pub.acked.size).toBe(ackedAtLock);
    locker.exec('ROLLBACK');
    pub.stopSending();
    expectAllAckedStored(pub, db);

    const second = await embedded(dir, db, grace, port);
    await pub.allAcked();
    expect(await terminate(second)).toMatchObject({ code: 0 });
    expect(new Set(storedPayloads(db))).toEqual(new Set(pub.sent));
  });

  it('a second signal during a stalled drain exits at once (SIGKILL), without aborting', async () => {
    const { dir, db } = paths();
    const grace = 60_000;
    const d = await embedded(dir, db, grace);
    const pub = await publishers(`mqtt://127.0.0.1:${d.broker!.port}`, 'twice');
    await waitFor(() => pub.acked.size >= 50, 'load running');
    const locker = new Database(db);
    cleanups.push(() => locker.close());
    locker.exec('BEGIN IMMEDIATE'); // the drain stalls
    await sleep(300);
    d.proc.kill('SIGTERM');
    await waitFor(
      () => d.logs.some((l) => String(l.msg).startsWith('shutting down')),
      'first signal handled',
    );
    await sleep(300);
    expect(d.proc.exitCode).toBeNull(); // still draining
    const t = Date.now();
    await d.stop('SIGINT');
    // It kills itself (see cli.ts: process.exit() could abort on the busy SQLite worker).
    expect(d.proc.signalCode).toBe('SIGKILL');
    expect(d.stderr.join('')).not.toMatch(/FATAL ERROR/);
    expect(Date.now() - t).toBeLessThan(SLACK_MS);
    expect(d.logs.some((l) => String(l.msg).startsWith('second signal'))).toBe(true);
    locker.exec('ROLLBACK');
    pub.stopSending();
    expectAllAckedStored(pub, db);
  });
});
