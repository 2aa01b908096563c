/**
 * The MQTT.js side of ack-after-commit (MQTT.js has no manual-ack API: issues #209, #691). `handleMessage` calls back
 * at once so MQTT.js keeps reading (pings, SUBACKs, more messages up to Receive Maximum fill
 * a batch); the PUBACK that MQTT.js then sends synchronously through its private
 * `_sendPacket` (handlers/publish.js, QoS 1 case) is captured here, its packet id held in HeldAcks
 * until the message is settled 'committed', and then written by us. mqtt is pinned to 5.16.0 and
 * test/integration/source-internals-guard.test.ts fails if this stops working.
 */
import type { MqttClient, Packet } from 'mqtt';
import { MqliteError } from '../lib/errors.js';
import type { Settlement } from '../lib/message.js';
import { HeldAcks } from './held-acks.js';
import { mqtt } from './mqtt-lib.js';

export type Stream = MqttClient['stream'];
type SendPacket = (
  packet: Packet,
  cb?: (err?: Error) => void,
  cbStorePut?: unknown,
  noStore?: boolean,
) => void;

/** No held ack: QoS 0, ackOnReceipt, or no client yet. */
export const NO_ACK = -1;

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

/** PUBACK fixed header: type 4, flags 0; remaining length 2 (the packet id; MQTT 5 §3.4.2.1 lets a
 * Success PUBACK without properties omit its reason code, and MQTT 3.1/3.1.1 have none). */
const PUBACK_TYPE = 0x40;
const PUBACK_LENGTH = 2;
const PUBACK_BYTES = 4;

/**
 * Held acks are tokens (numbers, see held-acks.ts): the PUBACK MQTT.js builds is captured for its
 * packet id only. Released PUBACKs are written by us, not through MQTT.js: their 4 bytes each are
 * gathered and written in one `write` at the next tick (when mqtt-packet would have uncorked the
 * stream anyway), so a settled chunk of 500 messages costs one Buffer and one write instead of a
 * packet object, a generated Buffer and a write each (issue #11).
 */
export class DeferredAcks {
  private client: MqttClient | undefined;
  private readonly held = new HeldAcks((messageId, conn) => this.sendAck(messageId, conn));
  /** The token whose PUBACK MQTT.js is about to send; set only around handleMessage's callback. */
  private expecting = NO_ACK;
  private watched: Stream | undefined;
  /** Number of the connection `watched`, counted from 1; entries carry it. */
  private conn = 0;
  /** Packet ids of PUBACKs released and not yet written, all for `outStream`. */
  private outIds = new Uint16Array(512);
  private outCount = 0;
  private outStream: Stream | undefined;
  private outScheduled = false;
  /** Acks released for a connection already gone, reported together at the next tick. */
  private lost = 0;
  private readonly writeOutBound = (): void => {
    this.outScheduled = false;
    this.writeOut();
    const lost = this.lost;
    this.lost = 0;
    this.report(lost);
  };

  constructor(private readonly onDropped: (count: number) => void) {}

  get size(): number {
    return this.held.size;
  }

  install(client: MqttClient): void {
    const internals = client as unknown as { _sendPacket: SendPacket };
    const original = internals._sendPacket.bind(client);
    this.client = client;
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const token = this.expecting;
      if (packet.cmd === 'puback' && token !== NO_ACK) {
        this.expecting = NO_ACK;
        this.held.attach(token, packet.messageId ?? 0);
        cb?.(); // lets MQTT.js go on to the next packet
        return;
      }
      original(packet, cb, cbStorePut, noStore);
    };
  }

  /** Registers a message in receive order; only QoS 1 has an ack to hold. Returns its token or NO_ACK. */
  track(qos: number): number {
    const client = this.client;
    if (client === undefined || qos !== 1) return NO_ACK;
    this.watch(client.stream);
    return this.held.add(this.conn);
  }

  /** Runs handleMessage's callback so that the PUBACK it produces is held for `token`. */
  release(token: number, callback: () => void): void {
    this.expecting = token;
    try {
      callback();
    } finally {
      this.expecting = NO_ACK;
    }
  }

  /**
   * Settles the held ack `token` (once; later calls do nothing). True when it came on the live
   * connection and was still held: what MqttSource needs to reset its backoff.
   */
  settle(token: number, how: Settlement): boolean {
    const conn = this.held.connOf(token);
    this.held.settle(token, how);
    return conn !== -1 && conn === this.conn && this.watched === this.client?.stream;
  }

  /** Writes what was released for `stream` at once (forceReconnect ends it next), drops the rest. */
  dropStream(stream: Stream): void {
    this.writeOut();
    if (stream === this.watched) this.report(this.held.dropConn(this.conn));
  }

  dropAll(): void {
    this.writeOut();
    this.report(this.held.dropAll());
  }

  /** Acks held for a connection die with it: one listener per connection, not per message. */
  private watch(stream: Stream): void {
    if (this.watched === stream) return;
    // A connection replaced before its 'close' (never seen with MQTT.js, which reconnects after it):
    // its acks can no longer be sent.
    if (this.watched !== undefined) this.report(this.held.dropConn(this.conn));
    this.watched = stream;
    this.conn++;
    stream.once('close', () => this.dropStream(stream));
  }

  private sendAck(messageId: number, conn: number): void {
    const client = this.client;
    const stream = this.watched;
    // Never on another connection: there the packet id may name a different message.
    if (
      client === undefined ||
      conn !== this.conn ||
      stream === undefined ||
      client.stream !== stream ||
      stream.destroyed
    ) {
      // Summed per tick, not reported one by one: a chunk of commits settled between the socket's
      // destroy and its 'close' (a keepalive timeout) would log a line per ack.
      this.lost++;
      this.scheduleOut();
      return;
    }
    if (this.outStream !== stream) this.writeOut(); // never one write across two connections
    this.outStream = stream;
    if (this.outCount === this.outIds.length) {
      const grown = new Uint16Array(this.outIds.length * 2);
      grown.set(this.outIds);
      this.outIds = grown;
    }
    this.outIds[this.outCount++] = messageId;
    // MQTT.js announces each packet it writes; tests and taps (SourceDeps.tap) watch PUBACKs so.
    if (client.listenerCount('packetsend') > 0)
      client.emit('packetsend', { cmd: 'puback', messageId, reasonCode: 0 });
    this.scheduleOut();
  }

  private scheduleOut(): void {
    if (this.outScheduled) return;
    this.outScheduled = true;
    process.nextTick(this.writeOutBound);
  }

  /** Writes the released PUBACKs, in release order, as one buffer; lost if the connection is gone. */
  private writeOut(): void {
    const n = this.outCount;
    const stream = this.outStream;
    this.outCount = 0;
    this.outStream = undefined;
    if (n === 0 || stream === undefined) return;
    if (stream.destroyed || stream.writableEnded || this.client?.stream !== stream) {
      this.report(n);
      return;
    }
    const buf = Buffer.allocUnsafe(n * PUBACK_BYTES);
    const ids = this.outIds;
    for (let k = 0, at = 0; k < n; k++, at += PUBACK_BYTES) {
      const id = ids[k] as number;
      buf[at] = PUBACK_TYPE;
      buf[at + 1] = PUBACK_LENGTH;
      buf[at + 2] = id >> 8;
      buf[at + 3] = id & 0xff;
    }
    stream.write(buf);
  }

  private report(count: number): void {
    if (count > 0) this.onDropped(count);
  }
}
