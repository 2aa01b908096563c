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

export function payloadFor(device: number, seq: number, baseTs: number): string {
  return JSON.stringify({ ts: baseTs + seq, temp: 20 + (seq % 10) / 10, hum: 40 + (device % 5), seq });
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
