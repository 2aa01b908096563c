/**
 * Devices that ride out broker and ingester outages: MQTT 3.1.1, persistent session
 * (clean: false), QoS 1, automatic reconnect. A QoS 1 PUBLISH stays in MQTT.js's outgoingStore
 * until its PUBACK arrives, is stored there while offline (client.js `_storePacket`), and on
 * every CONNACK the client replays that store before anything new (client.js `_onConnect`,
 * `startStreamProcess`; its callbacks are not volatile for QoS > 0, so `_flushVolatile` on
 * close leaves them pending). So a message whose PUBACK was lost, because the receiver died or
 * the link broke, is sent again: the receiving end must deduplicate it. One gap: a publish
 * made while that replay runs waits in a queue that a connection loss fails with "Connection
 * closed" without storing it; like a real device application we publish it again. And the
 * replay is serial: the next stored message goes out only after the previous one's PUBACK
 * (`storeDeliver` runs from the ack callback), so a device behind ack-after-commit recovers at
 * one commit cycle per message it had in flight.
 *
 * Publishing is paced (messages per second across all devices) so a test can act while the
 * stream is still flowing. Payloads come from devices.ts: unique (device, seq) and ts.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { deviceName, payloadFor, type Stamp } from './devices.js';

export interface PublisherRun {
  url: string;
  devices: number;
  perDevice: number;
  /** Topics are `${prefix}/dev-<i>/telemetry`; also makes the client ids unique per test. */
  prefix: string;
  /** Messages per second over all devices; omitted: as fast as the window allows. */
  ratePerSecond?: number;
  /** Unacknowledged messages per device (default 50). */
  window?: number;
  baseTs?: number;
  /** MQTT.js reconnectPeriod (default 100 ms). */
  reconnectMs?: number;
  /** How payloads carry their time (devices.ts); default ms. */
  stamp?: Stamp;
}

export interface RunningPublisher {
  readonly names: readonly string[];
  /** Messages published (first attempts). */
  readonly published: number;
  /** PUBLISH packets written, first sends and resends: `sent - published` were resent. */
  readonly sent: number;
  /** Publishes MQTT.js failed with 'Connection closed' before sending them, made again. */
  readonly republished: number;
  /** PUBACKs received. */
  readonly acked: number;
  /** Reconnects over all devices. */
  readonly reconnects: number;
  /** Connection errors over all devices (refused connections while the receiver is down). */
  readonly errors: number;
  /** Resolves when every message is acknowledged; rejects on a publish error; never settles after stop(). */
  readonly done: Promise<void>;
  /** Ends every client at once (unacked messages are abandoned). Idempotent. */
  stop(): Promise<void>;
}

const TICK_MS = 5;
const CONNECT_TIMEOUT_MS = 10_000;

export async function startPublisher(run: PublisherRun): Promise<RunningPublisher> {
  const window = run.window ?? 50;
  const baseTs = run.baseTs ?? Date.now() - 60_000;
  const names = Array.from({ length: run.devices }, (_, i) => deviceName(i));
  let published = 0;
  let acked = 0;
  let reconnects = 0;
  let errors = 0;
  let sent = 0;
  let republished = 0;
  let stopping = false;

  const connecting = await Promise.allSettled(
    names.map(async (name) => {
      const client = mqtt.connect(run.url, {
        clientId: `${run.prefix}-${name}`,
        protocolVersion: 4,
        clean: false,
        reconnectPeriod: run.reconnectMs ?? 100,
        connectTimeout: 5000,
        keepalive: 10,
        queueQoSZero: false,
      });
      client.on('packetsend', (packet) => {
        if (packet.cmd === 'publish') sent++;
      });
      client.on('reconnect', () => {
        reconnects++;
      });
      // Connection errors (refused while the receiver is down) are retried by MQTT.js; without
      // a listener the EventEmitter would throw them.
      client.on('error', () => {
        errors++;
      });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          client.end(true);
          reject(new Error(`${name} could not connect to ${run.url}`));
        }, CONNECT_TIMEOUT_MS);
        client.once('connect', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return client;
    }),
  );
  const clients = connecting.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
  const failed = connecting.find((c) => c.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    throw failed.reason;
  }

  const start = performance.now();
  const perDeviceRate = run.ratePerSecond === undefined ? Infinity : run.ratePerSecond / run.devices;

  const drive = (client: MqttClient, i: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const topic = `${run.prefix}/${deviceName(i)}/telemetry`;
      let next = 0;
      let inflight = 0;
      let done = 0;
      let timer: NodeJS.Timeout | undefined;
      const pump = (): void => {
        timer = undefined;
        if (stopping) return; // `done` stays pending: the test gave up on it
        const due =
          perDeviceRate === Infinity
            ? run.perDevice
            : Math.min(run.perDevice, Math.floor(((performance.now() - start) / 1000) * perDeviceRate) + 1);
        while (next < due && inflight < window) {
          inflight++;
          published++;
          send(next++);
        }
        if (next < run.perDevice) schedule(TICK_MS);
      };
      const send = (seq: number): void => {
        client.publish(topic, payloadFor(i, seq, baseTs, run.stamp), { qos: 1 }, (err) => {
          if (stopping) return; // end(true) fails what is still in flight
          if (err?.message === 'Connection closed') {
            // Queued behind the store replay and dropped unsent when the connection closed
            // during it (client.js `_flushStoreProcessingQueue`): a device application
            // publishes it again. Never sent, so this is not a redelivery. Later, not now: MQTT.js
            // is still iterating that queue and would take the new publish into it.
            republished++;
            setTimeout(() => {
              if (!stopping) send(seq);
            }, TICK_MS);
            return;
          }
          inflight--;
          if (err) {
            reject(new Error(`${deviceName(i)} seq ${seq}: ${err.message}`));
            return;
          }
          acked++;
          done++;
          if (done === run.perDevice) resolve();
          else schedule(0);
        });
      };
      const schedule = (ms: number): void => {
        if (timer !== undefined) {
          if (ms > 0) return;
          clearTimeout(timer);
        }
        timer = setTimeout(pump, ms);
      };
      pump();
    });

  const done = Promise.all(clients.map(drive)).then(() => undefined);

  let stopped: Promise<void> | undefined;
  return {
    names,
    get published() {
      return published;
    },
    get sent() {
      return sent;
    },
    get republished() {
      return republished;
    },
    get acked() {
      return acked;
    },
    get reconnects() {
      return reconnects;
    },
    get errors() {
      return errors;
    },
    done,
    stop() {
      stopping = true;
      stopped ??= Promise.all(clients.map((c) => c.endAsync(true))).then(() => undefined);
      return stopped;
    },
  };
}
