/**
 * Publishers that send as fast as the connection takes it, until stopped: the overload side of
 * the resilience tests. Each message has a unique payload timestamp per topic (so the daemon's
 * redelivery dedupe never merges two of them) and a padding field to make it `payloadBytes` long.
 */
import type { MqttClient } from 'mqtt';
import { connectClient } from './daemon-fixture.js';

export interface FloodOptions {
  url: string;
  clients: number;
  qos: 0 | 1;
  /** Approximate payload size. */
  payloadBytes: number;
  /** Publishes in flight per client (QoS 0: written to the socket; QoS 1: waiting for PUBACK). */
  window?: number;
  prefix?: string;
}

export interface Flood {
  /** Messages whose publish completed: written to the socket (QoS 0) or acknowledged (QoS 1). */
  readonly completed: number;
  /** Stops sending, waits for every publish in flight to complete, disconnects. */
  stop(): Promise<void>;
}

export function floodPayload(ts: number, seq: number, payloadBytes: number): string {
  const head = JSON.stringify({ ts, seq, v: seq % 100, pad: '' });
  return head.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, payloadBytes - head.length))}"`);
}

export async function startFlood(o: FloodOptions): Promise<Flood> {
  const prefix = o.prefix ?? 'flood';
  const window = o.window ?? 32;
  const baseTs = Date.now() - 60_000;
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: o.clients }, (_, i) =>
      connectClient(o.url, { clientId: `${prefix}-pub-${i}`, reconnectPeriod: 0 }),
    ),
  );
  let stopping = false;
  let completed = 0;
  const loops = clients.flatMap((client, i) => {
    const topic = `${prefix}/p${i}/data`;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!stopping) {
        const seq = next++;
        await client.publishAsync(topic, floodPayload(baseTs + seq, seq, o.payloadBytes), { qos: o.qos });
        completed++;
      }
    };
    return Array.from({ length: window }, worker);
  });
  const all = Promise.all(loops);
  return {
    get completed() {
      return completed;
    },
    async stop() {
      stopping = true;
      await all;
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}
