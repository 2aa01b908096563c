/**
 * A telemetry stream shaped like real devices (test/fixtures/devices): Tasmota `tele/<dev>/SENSOR`
 * energy reports stamped with a whole-second wall-clock `Time` (ten per second share one, so a
 * payload identity, not the time, tells them apart), and zigbee2mqtt sensor states with no
 * timestamp at all (a redelivery is recognised by DUP only). Every payload is distinct (the energy
 * counter and the temperature move with each message), so a test can check each one is stored
 * exactly once. Published at QoS 1 by a few MQTT.js clients, paced, in order per device.
 */
import type { MqttClient } from 'mqtt';
import { wallClock } from '../fixtures/devices/types.js';
import { connectClient } from './daemon-fixture.js';

export interface StreamMessage {
  topic: string;
  payload: string;
}

/** `devices` Tasmota plugs and `devices` zigbee2mqtt sensors, `perDevice` messages each, interleaved. */
export function deviceStream(devices: number, perDevice: number, baseMs: number): StreamMessage[] {
  const out: StreamMessage[] = [];
  for (let seq = 0; seq < perDevice; seq++) {
    for (let d = 0; d < devices; d++) {
      const time = wallClock(baseMs + Math.floor(seq / 10) * 1000, 'UTC');
      const total = (12.345 + seq / 1000).toFixed(3);
      out.push({
        topic: `tele/tasmota_${d}/SENSOR`,
        payload: `{"Time":"${time}","ENERGY":{"TotalStartTime":"2023-01-01T00:00:00","Total":${total},"Yesterday":0.5,"Today":0.25,"Period":2,"Power":${40 + (seq % 20)},"ApparentPower":50,"ReactivePower":20,"Factor":0.9,"Voltage":230,"Current":0.217}}`,
      });
      out.push({
        topic: `zigbee2mqtt/sensor_${d}`,
        payload: `{"battery":97,"humidity":${45 + (seq % 7)},"linkquality":${seq % 255},"temperature":${(18 + seq / 100).toFixed(2)},"voltage":2995}`,
      });
    }
  }
  return out;
}

export interface PacedRun {
  /** Resolves when the broker acknowledged every message. */
  readonly done: Promise<void>;
  readonly acked: number;
  close(): Promise<void>;
}

/**
 * Publishes `messages` at QoS 1 over `clients` connections (a topic always on the same one, so a
 * device's messages keep their order), about `ratePerSecond` in all, at most `window` unacknowledged
 * per connection.
 */
export async function publishPaced(
  url: string,
  messages: readonly StreamMessage[],
  opts: { clients: number; ratePerSecond: number; window: number; prefix: string },
): Promise<PacedRun> {
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: opts.clients }, (_, i) =>
      connectClient(url, { clientId: `${opts.prefix}-pub-${i}`, protocolVersion: 5 }),
    ),
  );
  const slices: StreamMessage[][] = clients.map(() => []);
  const owner = new Map<string, number>();
  for (const m of messages) {
    let c = owner.get(m.topic);
    if (c === undefined) {
      c = owner.size % clients.length;
      owner.set(m.topic, c);
    }
    slices[c]?.push(m);
  }
  const start = performance.now();
  const perClientRate = opts.ratePerSecond / clients.length;
  let acked = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const drive = async (client: MqttClient, slice: StreamMessage[]): Promise<void> => {
    const inFlight = new Set<Promise<void>>();
    for (const [i, m] of slice.entries()) {
      const dueMs = (i / perClientRate) * 1000;
      const wait = dueMs - (performance.now() - start);
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= opts.window) await Promise.race(inFlight);
      const p: Promise<void> = client.publishAsync(m.topic, m.payload, { qos: 1 }).then(() => {
        acked++;
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  };
  const done = Promise.all(clients.map((c, i) => drive(c, slices[i] ?? []))).then(() => undefined);
  return {
    done,
    get acked() {
      return acked;
    },
    close: () => Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined),
  };
}
