/**
 * The MQTT.js side of ack-after-commit (MQTT.js has no manual-ack API: issues #209, #691). `handleMessage` calls back
 * at once so MQTT.js keeps reading (pings, SUBACKs, more messages up to Receive Maximum fill
 * a batch); the PUBACK that MQTT.js then sends synchronously through its private
 * `_sendPacket` (handlers/publish.js, QoS 1 case) is captured here and held in HeldAcks until
 * the message is settled 'committed'. mqtt is pinned to 5.16.0 and
 * test/integration/source-internals-guard.test.ts fails if this stops working.
 */
import type { MqttClient, Packet } from 'mqtt';
import { MqliteError } from '../lib/errors.js';
import type { Settlement } from '../lib/message.js';
import { type HeldAck, HeldAcks } from './held-acks.js';
import { mqtt } from './mqtt-lib.js';

export type Stream = MqttClient['stream'];
type SendPacket = (
  packet: Packet,
  cb?: (err?: Error) => void,
  cbStorePut?: unknown,
  noStore?: boolean,
) => void;
export type AckEntry = HeldAck<Stream, Packet>;

/** Throws if the MQTT.js internal we wrap is gone (a version bump without the guard test). */
export function assertMqttInternals(): void {
  const proto = mqtt.MqttClient.prototype as unknown as { _sendPacket?: unknown };
  if (typeof proto._sendPacket !== 'function') {
    throw new MqliteError(
      'MQLITE_SOURCE_FAILED',
      'MQTT.js internals changed: MqttClient._sendPacket is missing',
    );
  }
}

export class DeferredAcks {
  private client: MqttClient | undefined;
  private sendRaw: SendPacket | undefined;
  private readonly held = new HeldAcks<Stream, Packet>((ack, stream) => this.sendAck(ack, stream));
  /** The entry whose PUBACK MQTT.js is about to send; set only around handleMessage's callback. */
  private expecting: AckEntry | undefined;
  private watched: Stream | undefined;

  constructor(private readonly onDropped: (count: number) => void) {}

  get size(): number {
    return this.held.size;
  }

  install(client: MqttClient): void {
    const internals = client as unknown as { _sendPacket: SendPacket };
    const original = internals._sendPacket.bind(client);
    this.client = client;
    this.sendRaw = original;
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const entry = this.expecting;
      if (packet.cmd === 'puback' && entry !== undefined) {
        this.expecting = undefined;
        this.held.attach(entry, packet);
        cb?.(); // lets MQTT.js go on to the next packet
        return;
      }
      original(packet, cb, cbStorePut, noStore);
    };
  }

  /** Registers a message in receive order; only QoS 1 has an ack to hold. */
  track(qos: number): AckEntry | undefined {
    const client = this.client;
    if (client === undefined || qos !== 1) return undefined;
    this.watch(client.stream);
    return this.held.add(client.stream);
  }

  /** Runs handleMessage's callback so that the PUBACK it produces is held for `entry`. */
  release(entry: AckEntry | undefined, callback: () => void): void {
    this.expecting = entry;
    try {
      callback();
    } finally {
      this.expecting = undefined;
    }
  }

  settle(entry: AckEntry, how: Settlement): void {
    this.held.settle(entry, how);
  }

  dropStream(stream: Stream): void {
    this.report(this.held.dropStream(stream));
  }

  dropAll(): void {
    this.report(this.held.dropAll());
  }

  /** Acks held for a connection die with it: one listener per connection, not per message. */
  private watch(stream: Stream): void {
    if (this.watched === stream) return;
    this.watched = stream;
    stream.once('close', () => this.dropStream(stream));
  }

  private sendAck(ack: Packet, stream: Stream): void {
    const client = this.client;
    // Never on another connection: there the packet id may name a different message.
    if (client === undefined || this.sendRaw === undefined || client.stream !== stream || stream.destroyed) {
      this.report(1);
      return;
    }
    this.sendRaw(ack);
  }

  private report(count: number): void {
    if (count > 0) this.onDropped(count);
  }
}
