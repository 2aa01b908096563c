/**
 * Three mqlite daemons on one shared subscription (subscribe.shareGroup) of a persistent
 * Mosquitto, each with its own SQLite file and its own stable client id: the stream is split
 * between them, and with one of them killed (-9) mid-run and restarted under the same client id,
 * every published message is stored exactly once in the union of the three files. What makes that
 * hold on Mosquitto (test/integration/share-mosquitto.test.ts): the dead member's in-flight and
 * round-robin share wait in its session and come back to it, where its own database recognises
 * what it had committed before the kill.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, within } from '../helpers/chaos.js';
import { connectClient } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { deviceStream, publishPaced, type StreamMessage } from '../helpers/device-stream.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const INSTANCES = 3;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Group {
  dbs: string[];
  daemons: DaemonProcess[];
  /** Starts (or restarts) instance i on its database with its client id. */
  start(i: number): Promise<DaemonProcess>;
}

async function startGroup(brokerUrl: string, extraArgs: string[] = []): Promise<Group> {
  const tmp = tmpDir('mqlite-share-');
  cleanups.push(tmp.cleanup);
  const config = join(tmp.dir, 'mqlite.yaml');
  // Tasmota prints `Time` as wall clock without an offset; the stream writes it in UTC.
  writeFileSync(
    config,
    [
      'subscribe:',
      '  shareGroup: ingest',
      "  topics: ['tele/#', 'zigbee2mqtt/#']",
      'timestamps:',
      '  zone: UTC',
      '',
    ].join('\n'),
  );
  const dbs = Array.from({ length: INSTANCES }, (_, i) => join(tmp.dir, `mqlite-${i}.db`));
  const daemons: DaemonProcess[] = [];
  const group: Group = {
    dbs,
    daemons,
    async start(i) {
      // One config file for the group; per instance only its database and its client id, which
      // must stay the same across restarts: Mosquitto keeps the instance's share under it.
      const d = await startDaemon([
        ...['--config', config, '--broker', brokerUrl, '--db', dbs[i] as string, '--http', '127.0.0.1:0'],
        ...['--client-id', `mqlite-share-${i}`, ...extraArgs],
      ]);
      daemons[i] = d;
      await waitFor(async () => (await d.readyz()).status === 200, `instance ${i} subscribed`);
      return d;
    },
  };
  cleanups.push(() => Promise.all(daemons.map((d) => d.kill9())));
  for (let i = 0; i < INSTANCES; i++) await group.start(i);
  return group;
}

/** (topic, payload) rows of one database, and its dead letters. */
function stored(db: string): { rows: string[]; deadLetters: number } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn
      .prepare('SELECT topic, CAST(payload AS TEXT) AS payload FROM messages')
      .all() as StreamMessage[];
    const deadLetters = conn.prepare('SELECT count(*) FROM dead_letters').pluck().get() as number;
    return { rows: rows.map(key), deadLetters };
  } finally {
    conn.close();
  }
}

function key(m: StreamMessage): string {
  return `${m.topic} ${m.payload}`;
}

function totalStored(dbs: readonly string[]): number {
  return dbs.reduce((n, db) => {
    try {
      return n + stored(db).rows.length;
    } catch {
      return n; // not created or not migrated yet
    }
  }, 0);
}

/** Union of the files against what was published: duplicates and missing, at most 10 of each. */
function unionReport(dbs: readonly string[], published: readonly StreamMessage[]) {
  const perFile = dbs.map(stored);
  const counts = new Map<string, number>();
  for (const f of perFile) for (const k of f.rows) counts.set(k, (counts.get(k) ?? 0) + 1);
  const expected = new Set(published.map(key));
  return {
    stored: perFile.reduce((n, f) => n + f.rows.length, 0),
    duplicates: [...counts].filter(([, n]) => n > 1).slice(0, 10),
    missing: [...expected].filter((k) => !counts.has(k)).slice(0, 10),
    unexpected: [...counts.keys()].filter((k) => !expected.has(k)).slice(0, 10),
    deadLetters: perFile.reduce((n, f) => n + f.deadLetters, 0),
    perInstance: perFile.map((f) => f.rows.length),
  };
}

describe('three instances on a shared subscription (Mosquitto, persistent sessions)', () => {
  it('split the stream: each instance stores some, together every message once (MQTT 3.1.1, retained state left out)', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    // Retained before the group subscribes: Mosquitto sends it to each member; none stores it.
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const device = await connectClient(broker.url, { clientId: 'share-split-lwt', protocolVersion: 5 });
    cleanups.push(() => device.endAsync(true));
    await device.publishAsync('tele/tasmota_0/LWT', 'Online', { qos: 1, retain: true });

    const group = await startGroup(broker.url, ['--mqtt-version', '4']);
    const messages = deviceStream(5, 60, base);
    const run = await publishPaced(broker.url, messages, {
      clients: 4,
      ratePerSecond: 2000,
      window: 20,
      prefix: 'share-split',
    });
    cleanups.push(() => run.close());
    await within(run.done, 60_000, 'Mosquitto to acknowledge every publish');
    await waitFor(
      () => totalStored(group.dbs) >= messages.length,
      `${messages.length} rows in all`,
      60_000,
      100,
    );
    const dropped = await Promise.all(
      group.daemons.map(async (d) =>
        metricValue(await d.metrics(), 'mqlite_dropped_total', { reason: 'retained_shared' }),
      ),
    );
    for (const d of group.daemons) expect(await d.stop()).toBe(0);

    const report = unionReport(group.dbs, messages);
    console.log(
      `split: ${JSON.stringify(report.perInstance)} of ${messages.length}; retained copies dropped ${JSON.stringify(dropped)}`,
    );
    expect({ ...report, perInstance: undefined }).toEqual({
      stored: messages.length,
      duplicates: [],
      missing: [],
      unexpected: [],
      deadLetters: 0,
      perInstance: undefined,
    });
    for (const n of report.perInstance) expect(n).toBeGreaterThan(0);
    // Each member was sent the retained LWT on subscribing (3.1.1 has no Retain Handling) and acknowledged it unstored.
    expect(dropped).toEqual([1, 1, 1]);
  });

  it('kill -9 of one instance mid-run, restarted with the same client id: every message stored exactly once across the three files', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const group = await startGroup(broker.url);
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const messages = deviceStream(6, 500, base); // 6000 messages, ~4 s at 1500/s
    const run = await publishPaced(broker.url, messages, {
      clients: 4,
      ratePerSecond: 1500,
      window: 50,
      prefix: 'share-kill',
    });
    cleanups.push(() => run.close());

    // Paced by the publisher, not by what is stored: on a busy machine storing may lag, and the kill
    // must still fall while the stream flows.
    await waitFor(() => run.acked > messages.length / 4, 'a quarter of the stream published', 60_000, 20);
    const victim = 1;
    const before = stored(group.dbs[victim] as string).rows.length;
    await group.daemons[victim]?.kill9();
    const atKill = { stored: totalStored(group.dbs), acked: run.acked, victimRows: before };
    await sleep(300);
    const restarted = await group.start(victim);

    await within(run.done, 60_000, 'Mosquitto to acknowledge every publish');
    await waitFor(
      () => totalStored(group.dbs) >= messages.length,
      `${messages.length} rows in all`,
      60_000,
      100,
    );
    const redeliveries = metricValue(await restarted.metrics(), 'mqlite_messages_duplicate_total');
    for (const d of group.daemons) expect(await d.stop()).toBe(0);

    const report = unionReport(group.dbs, messages);
    console.log(
      `kill: ${JSON.stringify(atKill)}; per instance ${JSON.stringify(report.perInstance)} of ${messages.length}; ` +
        `redeliveries recognised by the restarted instance: ${redeliveries}`,
    );
    // The kill fell mid-stream: publishing was not over, rows were still to come.
    expect(atKill.stored).toBeLessThan(messages.length);
    expect(atKill.acked).toBeLessThan(messages.length);
    expect({ ...report, perInstance: undefined }).toEqual({
      stored: messages.length,
      duplicates: [],
      missing: [],
      unexpected: [],
      deadLetters: 0,
      perInstance: undefined,
    });
    // The restarted instance got its share back (queued while it was dead) on top of what it had.
    expect(report.perInstance[victim]).toBeGreaterThan(before);
  });

  it('an instance that joins the group on a session still holding its plain subscription gets only its share', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const tmp = tmpDir('mqlite-share-move-');
    cleanups.push(tmp.cleanup);
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(config, "subscribe:\n  topics: ['tele/#', 'zigbee2mqtt/#']\ntimestamps:\n  zone: UTC\n");
    const dbs = ['a', 'b'].map((n) => join(tmp.dir, `${n}.db`));
    const args = (i: number, share: boolean) => [
      ...['--config', config, '--broker', broker.url, '--db', dbs[i] as string, '--http', '127.0.0.1:0'],
      ...['--client-id', `mqlite-move-${i}`, ...(share ? ['--share-group', 'ingest'] : [])],
    ];
    const up = async (i: number, share: boolean) => {
      const d = await startDaemon(args(i, share));
      cleanups.push(() => d.kill9());
      await waitFor(async () => (await d.readyz()).status === 200, `instance ${i} subscribed`);
      return d;
    };
    // Instance 0 ran alone with plain subscriptions; its persistent session keeps them.
    expect(await (await up(0, false)).stop()).toBe(0);
    const members = [await up(0, true), await up(1, true)];

    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const messages = deviceStream(2, 10, base);
    // Two markers last: strict round-robin gives one to each member, and a member that has stored
    // its marker has stored everything its session was sent before it.
    const markers = [0, 1].map((i) => ({ topic: `tele/marker_${i}/SENSOR`, payload: `{"marker":${i}}` }));
    const run = await publishPaced(broker.url, [...messages, ...markers], {
      clients: 1,
      ratePerSecond: 1000,
      window: 1,
      prefix: 'share-move',
    });
    cleanups.push(() => run.close());
    await within(run.done, 60_000, 'Mosquitto to acknowledge every publish');
    await waitFor(
      () => dbs.every((db) => stored(db).rows.some((k) => k.startsWith('tele/marker_'))),
      'each member to store a marker',
      60_000,
      100,
    );
    for (const d of members) expect(await d.stop()).toBe(0);

    const report = unionReport(dbs, [...messages, ...markers]);
    console.log(`move: per instance ${JSON.stringify(report.perInstance)} of ${messages.length + 2}`);
    expect({ ...report, perInstance: undefined }).toEqual({
      stored: messages.length + 2,
      duplicates: [],
      missing: [],
      unexpected: [],
      deadLetters: 0,
      perInstance: undefined,
    });
  });
});
