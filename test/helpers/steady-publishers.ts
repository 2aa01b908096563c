/**
 * QoS 1 devices that keep publishing through broker or daemon restarts: persistent sessions
 * (clean: false), fixed client ids, reconnect every 200 ms, and MQTT.js resending every
 * unacknowledged PUBLISH after each reconnect. Records which payloads were acknowledged, so a
 * test can check that each acknowledged message is stored.
 */
import type { MqttClient } from 'mqtt';
import { connectClient } from './daemon-fixture.js';

export interface SteadyPublishers {
  /** Payloads whose PUBACK arrived. */
  readonly acked: ReadonlySet<string>;
  /** Payloads handed to MQTT.js (acknowledged or not yet). */
  readonly sent: readonly string[];
  /** Publishes that failed (only expected after close()). */
  readonly errors: readonly unknown[];
  /** Stop starting new publishes; those in flight continue (and are resent after reconnects). */
  stopSending(): void;
  /** Resolves once every publish sent so far is acknowledged. */
  allAcked(): Promise<void>;
  close(): Promise<void>;
}

export async function startSteadyPublishers(
  url: string,
  opts: {
    clients: number;
    window: number;
    prefix: string;
    protocolVersion?: 4 | 5;
    /** Publishes in all, across clients; after that the loops stop as stopSending() does. */
    max?: number | undefined;
  },
): Promise<SteadyPublishers> {
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: opts.clients }, (_, i) =>
      connectClient(url, {
        clientId: `${opts.prefix}-${i}`,
        clean: false,
        protocolVersion: opts.protocolVersion ?? 4,
        reconnectPeriod: 200,
      }),
    ),
  );
  const acked = new Set<string>();
  const sent: string[] = [];
  const errors: unknown[] = [];
  const inFlight = new Set<Promise<void>>();
  let sending = true;
  const baseTs = Date.now() - 60_000;
  const loops = clients.flatMap((client, i) => {
    let seq = 0;
    const topic = `${opts.prefix}/p${i}/data`;
    return Array.from({ length: opts.window }, async () => {
      while (sending && (opts.max === undefined || sent.length < opts.max)) {
        const n = seq++;
        const payload = JSON.stringify({ ts: baseTs + n, seq: n });
        sent.push(payload);
        const p = client.publishAsync(topic, payload, { qos: 1 }).then(
          () => {
            acked.add(payload);
          },
          (err: unknown) => {
            errors.push(err);
            sending = false;
          },
        );
        inFlight.add(p);
        await p;
        inFlight.delete(p);
      }
    });
  });
  return {
    acked,
    sent,
    errors,
    stopSending() {
      sending = false;
    },
    async allAcked() {
      sending = false;
      await Promise.all([...inFlight, ...loops]);
    },
    async close() {
      sending = false;
      await Promise.all(clients.map((c) => c.endAsync(true)));
    },
  };
}
