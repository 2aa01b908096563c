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
}

/**
 * What a source calls for each message. `undefined` means accepted, go on reading;
 * a promise means accepted but the queue is full: read nothing more until it resolves.
 */
export type Accept = (msg: InboundMessage) => Promise<void> | undefined;

/** Why a message was dropped without being stored. Label values of mqlite_dropped_total. */
export type DropReason = 'queue_full_oldest' | 'queue_full_newest' | 'shutdown';
