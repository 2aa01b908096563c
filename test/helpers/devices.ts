/**
 * Simulated devices: N MQTT.js clients publishing JSON telemetry with a unique (device, seq)
 * and a payload timestamp, so tests can check every message arrived exactly once.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface DeviceRun {
  url: string;
  devices: number;
  perDevice: number;
  qos: 0 | 1;
  /** Topic prefix; topics are `${prefix}/dev-<i>/telemetry`, so the default template names the device. */
  prefix?: string;
  /** Messages in flight per device (QoS 1 waits for PUBACK beyond this). */
  window?: number;
  /** Base of the payload timestamps (ms); seq is added so every (device, ts) is unique. */
  baseTs?: number;
  protocolVersion?: 4 | 5;
  /** Keep the session and resend unacknowledged messages after reconnects (kill tests). */
  persistent?: boolean;
}

/**
 * How a payload carries its time. ms: `ts` = baseTs + seq, unique per message. s: whole seconds, as
 * Tasmota `Time` or OwnTracks `tst`: 250 consecutive messages of a device share one `ts`. none: no
 * timestamp at all (ESPHome, most plain sensors): the message has no identity in mqlite.
 */
export type Stamp = 'ms' | 's' | 'none';

/** Messages of one device that share a whole-second timestamp under stamp 's'. */
export const PER_SECOND = 250;

export function payloadFor(device: number, seq: number, baseTs: number, stamp: Stamp = 'ms'): string {
  const temp = 20 + (seq % 10) / 10;
  const hum = 40 + (device % 5);
  if (stamp === 'none') return JSON.stringify({ temp, hum, seq });
  const ts = stamp === 's' ? Math.floor(baseTs / 1000) + Math.floor(seq / PER_SECOND) : baseTs + seq;
  return JSON.stringify({ ts, temp, hum, seq });
}

export function deviceName(i: number): string {
  return `dev-${String(i).padStart(2, '0')}`;
}

async function connect(url: string, clientId: string, run: DeviceRun): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId,
    protocolVersion: run.protocolVersion ?? 4,
    clean: !run.persistent,
    reconnectPeriod: 200,
    connectTimeout: 5000,
    queueQoSZero: false,
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`device ${clientId} could not connect to ${url}`)), 10_000);
    client.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return client;
}

/** Publishes everything; resolves when every QoS 1 message is acknowledged (QoS 0: written). */
export async function publishDevices(run: DeviceRun): Promise<void> {
  const baseTs = run.baseTs ?? Date.now() - 60_000;
  const prefix = run.prefix ?? 'devices';
  const window = run.window ?? 100;
  const clients = await Promise.all(
    Array.from({ length: run.devices }, (_, i) => connect(run.url, `test-${prefix}-${deviceName(i)}`, run)),
  );
  try {
    await Promise.all(
      clients.map(async (client, i) => {
        const topic = `${prefix}/${deviceName(i)}/telemetry`;
        let next = 0;
        const worker = async () => {
          while (next < run.perDevice) {
            const seq = next++;
            await client.publishAsync(topic, payloadFor(i, seq, baseTs), { qos: run.qos });
          }
        };
        await Promise.all(Array.from({ length: Math.min(window, run.perDevice) }, worker));
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}
