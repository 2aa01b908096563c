/**
 * Bookkeeping for PUBACKs held until the transaction that stored their message commits.
 *
 * Pure: the transport is a `send` callback and the connection a number, so this is unit-tested
 * without sockets. Rules:
 * - [MQTT-4.6.0-2] PUBACKs leave in the order the PUBLISH packets were received: an entry is
 *   sent only when every older entry has been sent, so a later commit waits for an earlier one.
 * - An ack belongs to the connection its PUBLISH arrived on. When that connection closes, its
 *   entries are dropped: after a reconnect the broker may reuse the packet id for a different
 *   message (measured with MQTT.js 5.16: a PUBACK held across a keepalive reconnect went out on the
 *   new connection, where that packet id can name another message).
 * - An abandoned entry is never sent and blocks the ones behind it: acking them would break the
 *   order above. The owner replaces the connection (forceReconnect), which drops them all and
 *   makes the broker redeliver from the abandoned message on.
 *
 * Stored in typed arrays, a ring indexed by an absolute sequence number (the entry's token): a held
 * ack is a packet id, a state byte and a connection number, no JS object kept alive until its commit
 * (issue #11: three objects per QoS 1 message, the entry, MQTT.js's PUBACK packet and a settle
 * closure, were copied by the scavenges and promoted while they waited). A token below `head` is
 * gone (sent or dropped): settling or attaching it does nothing.
 */
import type { Settlement } from '../lib/message.js';

/** State bits of an entry. */
const HAS_ACK = 1;
const COMMITTED = 2;
const ABANDONED = 4;
/** Dropped with its connection: skipped, never sent, blocks nothing. */
const DROPPED = 8;

const INITIAL_SLOTS = 256;
/** An emptied ring above this many slots starts over small (as queue/message-ring.ts does). */
const KEEP_SLOTS = 16384;

export class HeldAcks {
  private mask = INITIAL_SLOTS - 1;
  private head = 0;
  private tail = 0;
  /** Entries between head and tail not yet dropped (sent ones are behind head). */
  private live = 0;
  private ids = new Uint16Array(INITIAL_SLOTS);
  private state = new Uint8Array(INITIAL_SLOTS);
  private conns = new Float64Array(INITIAL_SLOTS);

  /** `send(messageId, conn)`: write the PUBACK of `messageId`, received on connection `conn`. */
  constructor(private readonly send: (messageId: number, conn: number) => void) {}

  /** Acks received and not yet sent or dropped (the held-acks gauge). */
  get size(): number {
    return this.live;
  }

  /** Registers a QoS 1 message in receive order, before its PUBACK exists; returns its token. */
  add(conn: number): number {
    if (this.tail - this.head > this.mask) this.resize((this.mask + 1) * 2);
    const token = this.tail;
    const i = token & this.mask;
    this.ids[i] = 0;
    this.state[i] = 0;
    this.conns[i] = conn;
    this.tail = token + 1;
    this.live++;
    return token;
  }

  /** The connection `token` arrived on, or -1 once it was sent or dropped. */
  connOf(token: number): number {
    if (!this.holds(token)) return -1;
    const i = token & this.mask;
    return (this.state[i] as number) & DROPPED ? -1 : (this.conns[i] as number);
  }

  /** Stores the packet id of the PUBACK MQTT.js produced for `token`; a dropped entry ignores it. */
  attach(token: number, messageId: number): void {
    if (!this.holds(token)) return;
    const i = token & this.mask;
    const s = this.state[i] as number;
    if (s & (DROPPED | HAS_ACK)) return;
    this.ids[i] = messageId;
    this.state[i] = s | HAS_ACK;
    if (token === this.head) this.flush();
  }

  /** Settles once: a second settle, or a settle after the entry was dropped, does nothing. */
  settle(token: number, how: Settlement): void {
    if (!this.holds(token)) return;
    const i = token & this.mask;
    const s = this.state[i] as number;
    if (s & (DROPPED | COMMITTED | ABANDONED)) return;
    this.state[i] = s | (how === 'committed' ? COMMITTED : ABANDONED);
    if (how === 'committed' && token === this.head) this.flush();
  }

  /** Forgets every entry that arrived on connection `conn`; returns how many acks were lost. */
  dropConn(conn: number): number {
    return this.dropWhere(conn);
  }

  /** Forgets everything (stop): returns how many acks were lost. */
  dropAll(): number {
    return this.dropWhere(-1);
  }

  private holds(token: number): boolean {
    return token >= this.head && token < this.tail;
  }

  /** Marks the entries of `conn` (all of them when -1) dropped, then lets the ones behind them go. */
  private dropWhere(conn: number): number {
    let dropped = 0;
    for (let t = this.head; t < this.tail; t++) {
      const i = t & this.mask;
      const s = this.state[i] as number;
      if (s & DROPPED || (conn !== -1 && this.conns[i] !== conn)) continue;
      this.state[i] = DROPPED;
      dropped++;
    }
    this.live -= dropped;
    if (dropped > 0) this.flush();
    return dropped;
  }

  private flush(): void {
    while (this.head < this.tail) {
      const i = this.head & this.mask;
      const s = this.state[i] as number;
      if (s & DROPPED) {
        this.head++;
        continue;
      }
      if ((s & (COMMITTED | HAS_ACK)) !== (COMMITTED | HAS_ACK)) break;
      this.head++;
      this.live--;
      this.send(this.ids[i] as number, this.conns[i] as number);
    }
    if (this.head === this.tail && this.mask + 1 > KEEP_SLOTS) this.resize(INITIAL_SLOTS);
  }

  /** Moves the entries into rings of `cap` slots (a power of 2, at least tail - head). */
  private resize(cap: number): void {
    const mask = cap - 1;
    const ids = new Uint16Array(cap);
    const state = new Uint8Array(cap);
    const conns = new Float64Array(cap);
    for (let t = this.head; t < this.tail; t++) {
      const from = t & this.mask;
      const to = t & mask;
      ids[to] = this.ids[from] as number;
      state[to] = this.state[from] as number;
      conns[to] = this.conns[from] as number;
    }
    this.ids = ids;
    this.state = state;
    this.conns = conns;
    this.mask = mask;
  }
}
