/**
 * mqlite as a Sparkplug B host over a real broker (aedes in process, the daemon as a child process
 * subscribed to it): BIRTH certificates the broker retains under $sparkplug/certificates/ name DATA
 * that arrives before any live BIRTH; a fake edge node sending DATA before its BIRTH gets exactly one
 * NCMD Node Control/Rebirth per rate-limit interval; the anomalies show in /metrics.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { sparkplugSchema } from '../../src/decode/formats/sparkplug/schema.js';
import { type RunningAedes, startAedes } from '../helpers/aedes-broker.js';
import { connectClient, withDb } from '../helpers/daemon-fixture.js';
import {
  type DaemonProcess,
  metricValue,
  startDaemon,
  startEmbeddedDaemon,
} from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { encodeSparkplug } from '../unit/decode/formats/sparkplug-encode.js';

const PayloadDesc = sparkplugSchema().payload;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Retained, as a Sparkplug-aware broker keeps a BIRTH (aedes itself is not one: the test plays it). */
function retain(broker: RunningAedes, topic: string, payload: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) =>
    broker.broker.publish(
      { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false } as never,
      (err) => (err ? reject(err) : resolve()),
    ),
  );
}

function publish(client: MqttClient, topic: string, payload: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

describe('Sparkplug B host over a broker', () => {
  it('reads certificates first, asks a node born unseen for a rebirth once per interval, counts anomalies', async () => {
    const tmp = tmpDir('mqlite-sparkplug-host-');
    cleanups.push(tmp.cleanup);
    const broker = await startAedes();
    cleanups.push(() => broker.stop());
    const now = Date.now();

    // The broker holds Edge1's NBIRTH certificate: alias 1 is Temperature, an Int32.
    await retain(
      broker,
      '$sparkplug/certificates/spBv1.0/Plant/NBIRTH/Edge1',
      encodeSparkplug({
        timestamp: now - 60_000,
        seq: 0,
        metrics: [
          { name: 'bdSeq', datatype: 8, value: { long: '4' } },
          { name: 'Temperature', alias: 1, datatype: 3, value: { int: 20 } },
        ],
      }),
    );

    const db = join(tmp.dir, 'mqlite.db');
    const config = join(tmp.dir, 'mqlite.yaml');
    // An interval far longer than the test: every request after the first per node is held back.
    writeFileSync(config, 'subscribe:\n  sparkplug:\n    rebirth: true\n    rebirthIntervalMs: 3600000\n');
    const daemon: DaemonProcess = await startDaemon([
      '--config',
      config,
      '--db',
      db,
      '--http',
      '127.0.0.1:0',
      '--broker',
      broker.url,
      '--mqtt-version',
      '4',
      // Not '#': with '#' the certificate arrived twice from aedes (its retained $-topics reach a
      // '#' subscription too, which [MQTT-4.7.2-1] rules out), and a Sparkplug host subscribes spBv1.0/#.
      '--topic',
      'spBv1.0/#',
    ]);
    cleanups.push(() => daemon.stop());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');

    const commands: { topic: string; payload: Buffer }[] = [];
    const watcher = await connectClient(broker.url);
    cleanups.push(() => watcher.endAsync(true));
    watcher.on('message', (topic, payload) => commands.push({ topic, payload }));
    await watcher.subscribeAsync('spBv1.0/+/NCMD/+', { qos: 0 });

    const edge = await connectClient(broker.url);
    cleanups.push(() => edge.endAsync(true));
    // Edge1: DATA by alias only, no live BIRTH since we connected: the certificate names it.
    await publish(
      edge,
      'spBv1.0/Plant/NDATA/Edge1',
      encodeSparkplug({ timestamp: now, seq: 1, metrics: [{ alias: 1, value: { int: 4294967284 } }] }),
    );
    // Edge2: DATA before any BIRTH (asks for a rebirth), then a seq gap and an unknown alias
    // (anomalies too, but within the interval: no second request).
    await publish(
      edge,
      'spBv1.0/Plant/NDATA/Edge2',
      encodeSparkplug({
        timestamp: now,
        seq: 5,
        metrics: [{ name: 'Pressure', datatype: 10, value: { double: 1.5 } }],
      }),
    );
    await publish(
      edge,
      'spBv1.0/Plant/NDATA/Edge2',
      encodeSparkplug({ timestamp: now + 1, seq: 9, metrics: [{ alias: 42, value: { int: 1 } }] }),
    );
    // Edge3: DATA before BIRTH, sent last: its request comes after any Edge2 could have caused.
    await publish(
      edge,
      'spBv1.0/Plant/NDATA/Edge3',
      encodeSparkplug({
        timestamp: now,
        seq: 0,
        metrics: [{ name: 'Level', datatype: 10, value: { double: 2 } }],
      }),
    );

    await waitFor(() => commands.some((c) => c.topic.endsWith('/Edge3')), 'the rebirth request to Edge3');
    expect(commands.map((c) => c.topic)).toEqual(['spBv1.0/Plant/NCMD/Edge2', 'spBv1.0/Plant/NCMD/Edge3']);
    for (const c of commands) {
      const pb = fromBinary(PayloadDesc, c.payload) as unknown as {
        timestamp: bigint;
        metrics: { name: string; datatype: number; value: unknown }[];
      };
      expect(pb.metrics).toHaveLength(1);
      const m = pb.metrics[0]!;
      expect(m.name).toBe('Node Control/Rebirth');
      expect(m.datatype).toBe(11); // Boolean
      expect(m.value).toEqual({ case: 'booleanValue', value: true });
      expect(Number(pb.timestamp)).toBeGreaterThanOrEqual(now);
    }

    // The certificate's alias and datatype named and signed Edge1's reading.
    const readings = withDb(db, (d) =>
      d
        .prepare(
          "SELECT device, metric, value FROM readings WHERE device LIKE 'Plant/%' ORDER BY device, metric",
        )
        .all(),
    );
    expect(readings).toEqual([
      { device: 'Plant/Edge1', metric: 'Temperature', value: -12 },
      { device: 'Plant/Edge2', metric: 'Pressure', value: 1.5 },
      { device: 'Plant/Edge3', metric: 'Level', value: 2 },
    ]);

    const text = await waitFor(async () => {
      const t = await daemon.metrics();
      return metricValue(t, 'mqlite_sparkplug_rebirth_requests_total', { outcome: 'sent' }) === 2 ? t : '';
    }, 'two rebirth requests counted');
    expect(metricValue(text, 'mqlite_sparkplug_rebirth_requests_total', { outcome: 'failed' })).toBe(0);
    expect(metricValue(text, 'mqlite_sparkplug_data_before_birth_total')).toBe(2);
    expect(metricValue(text, 'mqlite_sparkplug_seq_gaps_total')).toBe(1);
    expect(metricValue(text, 'mqlite_sparkplug_unknown_aliases_total')).toBe(1);
    expect(metricValue(text, 'mqlite_sparkplug_certificates_total')).toBe(1);
  });

  it('publishes the rebirth request through the embedded broker too', async () => {
    const tmp = tmpDir('mqlite-sparkplug-embedded-');
    cleanups.push(tmp.cleanup);
    const config = join(tmp.dir, 'mqlite.yaml');
    // The edge node subscribes to its own commands, as Sparkplug edge nodes do.
    writeFileSync(
      config,
      [
        'subscribe:',
        '  sparkplug:',
        '    rebirth: true',
        'embedded:',
        '  anonymous:',
        "    subscribe: ['spBv1.0/+/NCMD/+']",
        '',
      ].join('\n'),
    );
    const daemon = await startEmbeddedDaemon(join(tmp.dir, 'mqlite.db'), ['--config', config]);
    cleanups.push(() => daemon.stop());
    const url = `mqtt://127.0.0.1:${daemon.broker!.port}`;
    const edge = await connectClient(url);
    cleanups.push(() => edge.endAsync(true));
    const commands: { topic: string; payload: Buffer }[] = [];
    edge.on('message', (topic, payload) => commands.push({ topic, payload }));
    await edge.subscribeAsync('spBv1.0/+/NCMD/+', { qos: 0 });
    await publish(
      edge,
      'spBv1.0/Plant/DDATA/Edge9/Pump',
      encodeSparkplug({ seq: 3, metrics: [{ name: 'Speed', datatype: 10, value: { double: 3 } }] }),
    );
    await waitFor(() => commands.length > 0, 'the rebirth request');
    expect(commands[0]!.topic).toBe('spBv1.0/Plant/NCMD/Edge9');
    const pb = fromBinary(PayloadDesc, commands[0]!.payload) as unknown as {
      metrics: { name: string; value: unknown }[];
    };
    expect(pb.metrics.map((m) => [m.name, m.value])).toEqual([
      ['Node Control/Rebirth', { case: 'booleanValue', value: true }],
    ]);
  });
});
