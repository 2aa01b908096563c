/**
 * The contract between the stages: what a source hands to the queue, and what the
 * sink hands back. Lives in lib/ because every stage speaks it and none owns it.
 */
export type QoS = 0 | 1 | 2;

/**
 * How a message left the pipeline.
 * - `committed`: stored (as a row or a dead letter) in a committed transaction: release the ack.
 * - `abandoned`: this process will not store it (shutdown, QoS 0 overflow drop, connection lost):
 *   never ack; the broker or the device redelivers QoS 1/2.
 */
export type Settlement = 'committed' | 'abandoned';

export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** MQTT DUP flag: the sender says it may have sent this before. */
  readonly dup: boolean;
  /** Wall clock at receipt, ms since epoch. */
  readonly receivedAt: number;
  /** Monotonic receipt time (performance.now()), for latency histograms. */
  readonly receivedMono: number;
  /** Called exactly once per message. Sources make it idempotent anyway. */
  readonly settle: (how: Settlement) => void;
  /**
   * Optional: the same settlement as a function shared by many messages and a number naming this
   * one (`settler(token, how)` does what `settle(how)` does). The queue keeps these instead of
   * `settle`, so a message waiting for its commit holds no closure on the heap (issue #11).
   */
  readonly settler?: Settler | undefined;
  readonly token?: number | undefined;
}

/** Settles the message a source numbered `token`; see InboundMessage.settler. */
export type Settler = (token: number, how: Settlement) => void;

/**
 * What a source calls for each message. `undefined` means accepted, go on reading;
 * a promise means accepted but the queue is full: read nothing more until it resolves.
 */
export type Accept = (msg: InboundMessage) => Promise<void> | undefined;

/** Why a message was dropped without being stored. Label values of mqlite_dropped_total. */
export type DropReason = 'queue_full_oldest' | 'queue_full_newest' | 'shutdown';

/** bit 0 of PackedMessages.flags. */
export const FLAG_RETAIN = 1;
/** bit 1 of PackedMessages.flags. */
export const FLAG_DUP = 2;

/**
 * Messages' stored fields in a handful of typed arrays: what the queue hands the writer, and what
 * crosses to the SQLite worker (sink/protocol.ts). Typed arrays, not objects: a queued message then
 * leaves no JS objects behind on the main thread's heap for the garbage collector to copy and promote.
 */
export interface PackedMessages {
  readonly topics: string[];
  /** All payloads back to back; message i is payload[offsets[i] .. offsets[i+1]). */
  readonly payload: Uint8Array;
  readonly offsets: Uint32Array;
  readonly qos: Uint8Array;
  /** FLAG_RETAIN | FLAG_DUP. */
  readonly flags: Uint8Array;
  readonly receivedAt: Float64Array;
}

/** A batch as the queue hands it out, in receive order. */
export interface MessageBatch {
  readonly length: number;
  readonly packed: PackedMessages;
  /** InboundMessage.receivedMono of each message, for the latency histograms. */
  readonly receivedMono: Float64Array;
  /** Settles messages [from, to) in order; the writer settles each message exactly once. */
  settle(from: number, to: number, how: Settlement): void;
}

/** The arrays of `n` messages holding `payloadBytes` of payload in all, zeroed: the caller fills them. */
export function allocPacked(
  n: number,
  payloadBytes: number,
): { packed: PackedMessages; receivedMono: Float64Array } {
  return {
    packed: {
      topics: new Array<string>(n),
      payload: new Uint8Array(payloadBytes),
      offsets: new Uint32Array(n + 1),
      qos: new Uint8Array(n),
      flags: new Uint8Array(n),
      receivedAt: new Float64Array(n),
    },
    receivedMono: new Float64Array(n),
  };
}

/** Packs messages that are already objects (tests, benches, SqliteSink.write of an array). */
export function batchOf(batch: readonly InboundMessage[]): MessageBatch {
  const n = batch.length;
  let total = 0;
  for (const m of batch) total += m.payload.length;
  const { packed, receivedMono } = allocPacked(n, total);
  const { topics, payload, offsets, qos, flags, receivedAt } = packed;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const m = batch[i] as InboundMessage;
    topics[i] = m.topic;
    payload.set(m.payload, at);
    offsets[i] = at;
    at += m.payload.length;
    qos[i] = m.qos;
    flags[i] = (m.retain ? FLAG_RETAIN : 0) | (m.dup ? FLAG_DUP : 0);
    receivedAt[i] = m.receivedAt;
    receivedMono[i] = m.receivedMono;
  }
  offsets[n] = at;
  return {
    length: n,
    packed,
    receivedMono,
    settle(from, to, how) {
      for (let i = from; i < to; i++) (batch[i] as InboundMessage).settle(how);
    },
  };
}
