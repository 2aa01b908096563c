/**
 * Bookkeeping for PUBACKs held until the transaction that stored their message commits.
 *
 * Pure: the transport is a `send` callback and the connection is an opaque tag, so this is
 * unit-tested without sockets. Rules:
 * - [MQTT-4.6.0-2] PUBACKs leave in the order the PUBLISH packets were received: an entry is
 *   sent only when every older entry has been sent, so a later commit waits for an earlier one.
 * - An ack belongs to the connection its PUBLISH arrived on. When that connection closes, its
 *   entries are dropped: after a reconnect the broker may reuse the packet id for a different
 *   message (measured with MQTT.js 5.16: a PUBACK held across a keepalive reconnect went out on the
 *   new connection, where that packet id can name another message).
 * - An abandoned entry is never sent and blocks the ones behind it: acking them would break the
 *   order above. The owner replaces the connection (forceReconnect), which drops them all and
 *   makes the broker redeliver from the abandoned message on.
 */
import type { Settlement } from '../lib/message.js';

type State = 'pending' | 'committed' | 'abandoned';

export interface HeldAck<S, P> {
  readonly stream: S;
  /** The PUBACK packet MQTT.js wanted to send; undefined until it has been captured. */
  ack: P | undefined;
  state: State;
  /** Dropped with its connection, or already sent: later calls are no-ops. */
  done: boolean;
}

export class HeldAcks<S, P> {
  /** Sent entries before `head` are cleared to undefined and compacted away in batches. */
  private entries: (HeldAck<S, P> | undefined)[] = [];
  private head = 0;

  constructor(private readonly send: (ack: P, stream: S) => void) {}

  /** Acks received and not yet sent or dropped (the held-acks gauge). */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Registers a QoS 1 message in receive order, before its PUBACK exists. */
  add(stream: S): HeldAck<S, P> {
    const entry: HeldAck<S, P> = { stream, ack: undefined, state: 'pending', done: false };
    this.entries.push(entry);
    return entry;
  }

  /** Stores the PUBACK MQTT.js produced for `entry`; a dropped entry swallows it. */
  attach(entry: HeldAck<S, P>, ack: P): void {
    if (entry.done) return;
    entry.ack = ack;
    this.flush();
  }

  settle(entry: HeldAck<S, P>, how: Settlement): void {
    if (entry.done || entry.state !== 'pending') return;
    entry.state = how;
    if (how === 'committed') this.flush();
  }

  /** Forgets every entry that arrived on `stream`; returns how many acks were lost. */
  dropStream(stream: S): number {
    return this.dropWhere((e) => e.stream === stream);
  }

  /** Forgets everything (stop): returns how many acks were lost. */
  dropAll(): number {
    return this.dropWhere(() => true);
  }

  private dropWhere(match: (e: HeldAck<S, P>) => boolean): number {
    const kept: HeldAck<S, P>[] = [];
    let dropped = 0;
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e === undefined) continue;
      if (match(e)) {
        e.done = true;
        e.ack = undefined;
        dropped++;
      } else {
        kept.push(e);
      }
    }
    this.entries = kept;
    this.head = 0;
    return dropped;
  }

  private flush(): void {
    while (this.head < this.entries.length) {
      const e = this.entries[this.head];
      if (e === undefined || e.state !== 'committed' || e.ack === undefined) break;
      const ack = e.ack;
      e.done = true;
      e.ack = undefined;
      this.entries[this.head] = undefined;
      this.head++;
      this.send(ack, e.stream);
    }
    // Compact now and then so a long-lived connection does not grow the array forever.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    } else if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    }
  }
}
