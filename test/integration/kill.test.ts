/**
 * Kill -9 proof (issue 3): 20,000 QoS 1 messages from 10 devices while the daemon is SIGKILLed
 * at seeded random moments and restarted on the same database. Acks leave only after commit,
 * so whatever a kill loses in memory is still unacknowledged and comes back (from Mosquitto's
 * persistent session, or from the devices' outgoing stores); what was committed but not yet
 * acknowledged comes back too and is deduplicated by its identity. At the end every
 * (device, seq) is stored exactly once. Replay a failure with MQLITE_TEST_SEED=<logged seed>.
 *
 * Payloads carry whole-second timestamps, 250 messages per second per device sharing one (as
 * Tasmota `Time` or OwnTracks `tst` would): distinct messages must never be merged, redeliveries
 * must be. A third run has no payload timestamp at all: there a redelivery is recognised by
 * Mosquitto's DUP flag and the stored original (src/sink/redelivery.ts).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type SeededRandom, sleep, testRandom, within } from '../helpers/chaos.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { type RunningPublisher, startPublisher } from '../helpers/resilient-publisher.js';
import { tmpDir } from '../helpers/tmp.js';
import { allOnce, countMessages, exactlyOnceSummary } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const DEVICES = 10;
const PER_DEVICE = 2000;
const N = DEVICES * PER_DEVICE;
const KILLS = 3;
/** Paced so the stream lasts ~8 s: every kill falls while messages are still flowing. */
const RATE_PER_SECOND = 2500;

interface Kill {
  afterMs: number;
  downMs: number;
  /** Rows on disk right after the kill. */
  rows: number;
  /** Messages the devices had acknowledged by then. */
  acked: number;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Kills and restarts the daemon KILLS times at random moments; returns what each kill saw. */
async function killRepeatedly(
  rnd: SeededRandom,
  db: string,
  publisher: RunningPublisher,
  current: { daemon: DaemonProcess },
  restart: () => Promise<DaemonProcess>,
): Promise<Kill[]> {
  const kills: Kill[] = [];
  for (let k = 0; k < KILLS; k++) {
    const afterMs = rnd.int(500, 1800);
    await sleep(afterMs);
    await current.daemon.kill9();
    const kill = { afterMs, downMs: rnd.int(0, 400), rows: countMessages(db), acked: publisher.acked };
    kills.push(kill);
    await sleep(kill.downMs);
    current.daemon = await restart();
  }
  console.log(`kills: ${JSON.stringify(kills)}`);
  return kills;
}

/** At least one kill fell while rows were being written: the count moved since the one before, short of N. */
function killsDuringWrites(kills: readonly Kill[]): number {
  return kills.filter((k, i) => k.rows > (kills[i - 1]?.rows ?? 0) && k.rows < N).length;
}

function expectExactlyOnce(db: string, publisher: RunningPublisher): void {
  expect(exactlyOnceSummary(db, publisher.names, PER_DEVICE)).toEqual(allOnce(N));
}

async function logDuplicates(daemon: DaemonProcess, publisher: RunningPublisher): Promise<void> {
  const dups = metricValue(await daemon.metrics(), 'mqlite_messages_duplicate_total');
  console.log(
    `last daemon saw ${dups} redeliveries; devices reconnected ${publisher.reconnects} times ` +
      `and resent ${publisher.sent - publisher.published} messages (${publisher.republished} republished)`,
  );
}

describe('SIGKILL at random moments', () => {
  it.each([
    ['whole-second timestamps', 's'],
    ['no payload timestamp (DUP)', 'none'],
  ] as const)(
    'subscriber mode (Mosquitto, persistent session), %s: 20,000 QoS 1 messages stored exactly once',
    async (_name, stamp) => {
      const rnd = testRandom(`kill/subscriber/${stamp}`);
      const tmp = tmpDir();
      cleanups.push(tmp.cleanup);
      const db = join(tmp.dir, 'mqlite.db');
      const mosquitto = await startMosquitto();
      cleanups.push(() => mosquitto.stop());
      // A stable client id and the default persistent session (clean: false, session expiry):
      // each restart resumes the session Mosquitto kept, with what it queued meanwhile.
      const args = [
        ...['--broker', mosquitto.url, '--db', db, '--http', '127.0.0.1:0'],
        ...['--qos', '1', '--client-id', 'mqlite-kill-test', '--topic', 'kill/#'],
      ];
      const current = { daemon: await startDaemon(args) };
      cleanups.push(() => current.daemon.kill9());
      // The session must hold the subscription before anything is published.
      await waitFor(async () => (await current.daemon.readyz()).status === 200, 'daemon subscribed');

      const publisher = await startPublisher({
        url: mosquitto.url,
        devices: DEVICES,
        perDevice: PER_DEVICE,
        prefix: 'kill',
        ratePerSecond: RATE_PER_SECOND,
        stamp,
      });
      cleanups.push(() => publisher.stop());

      const kills = await killRepeatedly(rnd, db, publisher, current, () => startDaemon(args));
      await within(publisher.done, 60_000, 'Mosquitto to acknowledge every publish');
      await waitFor(() => countMessages(db) >= N, `${N} rows after the last restart`, 60_000, 100);
      await logDuplicates(current.daemon, publisher);
      expect(await current.daemon.stop()).toBe(0);

      expectExactlyOnce(db, publisher);
      expect(kills).toHaveLength(KILLS);
      expect(killsDuringWrites(kills)).toBeGreaterThan(0);
    },
  );

  it('embedded mode (devices resend unacknowledged messages), whole-second timestamps: 20,000 QoS 1 messages stored exactly once', async () => {
    const rnd = testRandom('kill/embedded');
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    // A fixed port for this run, so the devices find the restarted broker where they left it.
    const port = await freePort();
    const args = ['--listen', `127.0.0.1:${port}`, '--db', db, '--http', '127.0.0.1:0', '--qos', '1'];
    const current = { daemon: await startDaemon(args) };
    cleanups.push(() => current.daemon.kill9());

    const publisher = await startPublisher({
      url: `mqtt://127.0.0.1:${port}`,
      devices: DEVICES,
      perDevice: PER_DEVICE,
      prefix: 'kill',
      ratePerSecond: RATE_PER_SECOND,
      // MQTT.js resends without DUP (mqttjs/MQTT.js#692): only an identity makes its resends
      // recognisable, so this mode needs payload timestamps (README, Delivery guarantees).
      stamp: 's',
    });
    cleanups.push(() => publisher.stop());

    const kills = await killRepeatedly(rnd, db, publisher, current, () => startDaemon(args));
    await within(publisher.done, 60_000, 'the daemon to acknowledge every publish');
    // The embedded broker acks only after commit: once every device has its PUBACKs, every
    // message is on disk, with no further waiting.
    expect(countMessages(db)).toBe(N);
    await logDuplicates(current.daemon, publisher);
    expect(await current.daemon.stop()).toBe(0);

    expectExactlyOnce(db, publisher);
    expect(kills).toHaveLength(KILLS);
    expect(killsDuringWrites(kills)).toBeGreaterThan(0);
    // The devices really lost their connection and came back (it was not one long session).
    expect(publisher.reconnects).toBeGreaterThanOrEqual(KILLS * DEVICES);
  });
});
