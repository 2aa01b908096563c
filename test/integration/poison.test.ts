/**
 * Poison and bad input through the real CLI, via the embedded broker and via a Mosquitto the
 * daemon subscribes to (MQTT 5): a corpus of malformed payloads and awkward topics
 * (test/helpers/poison-corpus.ts), each between two good messages. The daemon stays up, every
 * good message is stored, and every bad one ends where the documented rules say: stored,
 * dead-lettered with its reason and a truncated copy, or refused before the pipeline.
 */
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, count, withDb } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { type Expect, poisonCorpus } from '../helpers/poison-corpus.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const DEAD_LETTER_PAYLOAD_BYTES = 4096; // limits.deadLetterPayloadBytes default

type Mode = 'embedded' | 'mosquitto';

describe.each(['embedded', 'mosquitto'] as const)('poison corpus via %s', (mode: Mode) => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(db: string): Promise<{ daemon: DaemonProcess; url: string }> {
    if (mode === 'embedded') {
      const daemon = await startDaemon(['--db', db, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
      cleanups.push(() => daemon.stop());
      return { daemon, url: `mqtt://127.0.0.1:${daemon.broker!.port}` };
    }
    const mosquitto = await startMosquitto({ persistence: false });
    cleanups.push(() => mosquitto.stop());
    const daemon = await startDaemon([
      '--broker',
      mosquitto.url,
      '--topic',
      '#',
      '--db',
      db,
      '--http',
      '127.0.0.1:0',
    ]);
    cleanups.push(() => daemon.stop());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'subscribed');
    return { daemon, url: mosquitto.url };
  }

  it('stays up, stores every good message, dead-letters or refuses each bad one as documented', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const { daemon, url } = await setup(db);
    const now = Date.now();
    const corpus = poisonCorpus(now);

    const client: MqttClient = await connectClient(url, { clientId: `poison-${mode}` });
    cleanups.push(() => client.endAsync(true));
    let good = 0;
    const publishGood = () =>
      client.publishAsync('devices/good/data', JSON.stringify({ ts: now - 10_000 + good, seq: good++ }), {
        qos: 1,
      });
    await publishGood();
    for (const c of corpus) {
      if (c.ownConnection) {
        const once = await connectClient(url, { clientId: `poison-once-${mode}`, reconnectPeriod: 0 });
        // The embedded broker closes the connection on the packet's header, and MQTT.js may then
        // never call back a publish still being written: wait for whichever comes first.
        const closed = new Promise<boolean>((resolve) => once.once('close', () => resolve(true)));
        const publish = once.publishAsync(c.topic, c.payload, { qos: 0, retain: c.retain ?? false });
        const closedFirst = await Promise.race([publish.then(() => false), closed]);
        await once.endAsync(closedFirst);
      } else {
        // QoS 1: the PUBACK comes after the commit, so it cannot have blocked what follows.
        await client.publishAsync(c.topic, c.payload, { qos: 1, retain: c.retain ?? false });
      }
      await publishGood();
    }
    await waitFor(
      () => count(db, "SELECT count(*) FROM messages WHERE device = 'good'") === good,
      'every good message stored',
    );
    if (mode === 'embedded') {
      await waitFor(
        async () => metricValue(await daemon.metrics(), 'mqlite_dropped_total') >= 2,
        'refusals counted',
      );
      const m = await daemon.metrics();
      expect(metricValue(m, 'mqlite_dropped_total', { reason: 'payload_too_large' })).toBe(1);
      expect(metricValue(m, 'mqlite_dropped_total', { reason: 'sys_topic' })).toBe(1);
    }
    expect(daemon.proc.exitCode).toBeNull();
    expect((await daemon.readyz()).status).toBe(200);
    expect(await daemon.stop()).toBe(0);

    const expectations = corpus.map((c) => [c, c[mode]] as const);
    withDb(db, (sql) => {
      const messagesOn = sql.prepare('SELECT id, retain FROM messages WHERE topic = ?');
      const readingsOf = sql.prepare(
        'SELECT j.key AS metric, j.value FROM messages m, json_each(m.readings) j WHERE m.id = ?',
      );
      const deadOn = sql.prepare(
        'SELECT reason, length(payload) AS kept, payload_bytes FROM dead_letters WHERE topic = ?',
      );
      for (const [c, e] of expectations) {
        const rows = messagesOn.all(c.topic) as { id: number; retain: number }[];
        const dead = deadOn.all(c.topic) as { reason: string; kept: number | null; payload_bytes: number }[];
        const got: Expect =
          rows.length === 1 && dead.length === 0
            ? {
                kind: 'stored',
                readings: Object.fromEntries(
                  (readingsOf.all(rows[0]!.id) as { metric: string; value: number }[]).map((r) => [
                    r.metric,
                    r.value,
                  ]),
                ),
              }
            : rows.length === 0 && dead.length === 1
              ? { kind: 'dead', reason: dead[0]!.reason }
              : rows.length === 0 && dead.length === 0
                ? { kind: 'refused' }
                : ({ kind: 'refused', note: `${rows.length} rows, ${dead.length} dead letters` } as Expect);
        expect({ case: c.name, ...got }).toEqual({ case: c.name, ...e });
        if (e.kind === 'dead') {
          // A truncated copy and the full length are kept.
          expect(dead[0]!.kept ?? 0).toBe(Math.min(c.payload.length, DEAD_LETTER_PAYLOAD_BYTES));
          expect(dead[0]!.payload_bytes).toBe(c.payload.length);
        }
      }
      // Out-of-range timestamps were clamped to the receive time, not stored as sent.
      const clamped = sql
        .prepare(
          "SELECT count(*) FROM messages WHERE topic IN ('devices/p16/data', 'devices/p17/data') AND ts = received_at",
        )
        .pluck()
        .get();
      expect(clamped).toBe(2);
      // Retain flag: the embedded broker sees it as published; Mosquitto clears it on live delivery [MQTT-3.3.1-9].
      expect(sql.prepare("SELECT retain FROM messages WHERE topic = 'devices/p18/data'").pluck().get()).toBe(
        mode === 'embedded' ? 1 : 0,
      );
      const storedCases = expectations.filter(([, e]) => e.kind === 'stored').length;
      const deadCases = expectations.filter(([, e]) => e.kind === 'dead').length;
      expect(sql.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(good + storedCases);
      expect(sql.prepare('SELECT count(*) FROM dead_letters').pluck().get()).toBe(deadCases);
    });
  });
});
