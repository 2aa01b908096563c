/**
 * The only buffer between the network and the writer, bounded by count and by bytes.
 *
 * When full, a push is still accepted (the message is already in memory) but returns a
 * promise: the producer reads nothing more until it resolves. So the overshoot is at most
 * one message per producer, and the pressure travels back to the socket and the broker.
 * QoS 0 may instead be dropped (overflow policy); QoS 1/2 always block, because the broker
 * redelivers them anyway and dropping would only waste its work.
 */
import type { DropReason, InboundMessage, MessageBatch } from '../lib/message.js';
import { CHUNK_BYTES, MessageRing } from './message-ring.js';

export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest';

export interface QueueSettings {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
}

export interface QueueHooks {
  onDrop(reason: DropReason, topic: string): void;
}

/**
 * Per-message bookkeeping beyond the payload and topic: the ring's slots (~60 B), the topic string's
 * header, and a settle closure when the source made one (QoS 1 from the embedded broker; the subscriber
 * gives a shared settler and a token instead, but the figure stays, so the bound means what it meant).
 * Rough but stable. Not counted: the unused tail of the payload chunk being filled and one spare chunk
 * (at most 2 × 256 KiB in all).
 */
const OVERHEAD_BYTES = 160;

export function messageBytes(msg: InboundMessage): number {
  return msg.payload.length + msg.topic.length * 2 + OVERHEAD_BYTES;
}

export class BoundedQueue {
  /** The messages, packed as they arrive (message-ring.ts). */
  private readonly ring: MessageRing;
  private byteCount = 0;
  private isClosed = false;
  private space: Deferred | undefined;
  /** The one consumer (the batch writer) waiting for this many messages. */
  private data: (Deferred & { atLeast: number }) | undefined;

  constructor(
    private readonly settings: QueueSettings,
    private readonly hooks: QueueHooks,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A small byte bound gets small chunks, so the chunks stay a fraction of what the bound allows.
    this.ring = new MessageRing(Math.max(4096, Math.min(CHUNK_BYTES, Math.floor(settings.maxBytes / 8))));
  }

  get length(): number {
    return this.ring.length;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get capacity(): { messages: number; bytes: number } {
    return { messages: this.settings.maxMessages, bytes: this.settings.maxBytes };
  }

  /** Accept (see lib/message.ts). Bound as an arrow so sources can take it as a plain function. */
  readonly push = (msg: InboundMessage): Promise<void> | undefined => {
    if (this.isClosed) {
      this.hooks.onDrop('shutdown', msg.topic);
      msg.settle('abandoned');
      return undefined;
    }
    if (this.full() && msg.qos === 0) {
      if (this.settings.overflow === 'drop-newest') {
        this.hooks.onDrop('queue_full_newest', msg.topic);
        msg.settle('abandoned');
        return undefined;
      }
      if (this.settings.overflow === 'drop-oldest') this.dropOldestQos0();
    }
    const bytes = messageBytes(msg);
    this.ring.push(msg, bytes, this.now());
    this.byteCount += bytes;
    if (this.data && this.length >= this.data.atLeast) {
      this.data.resolve();
      this.data = undefined;
    }
    if (!this.full()) return undefined;
    this.space ??= deferred();
    return this.space.promise;
  };

  /** Removes up to `max` messages, oldest first, as one batch. */
  take(max: number): MessageBatch {
    const { batch, bytes } = this.ring.take(Math.min(max, this.length));
    this.byteCount -= bytes;
    this.releaseSpace();
    return batch;
  }

  oldestEnqueuedMono(): number | undefined {
    return this.ring.oldestEnqueuedMono();
  }

  /** Resolves once a message is queued (at once if one is), or when the queue closes. */
  whenNonEmpty(): Promise<void> {
    return this.whenLength(1);
  }

  /**
   * Resolves once `n` messages are queued (at once if they are), or when the queue closes: the
   * batch writer sleeps on this and its delay timer instead of polling. One waiter at a time:
   * a new call settles the previous one (its timer won), so no stale callbacks pile up on a
   * promise that may never resolve while the flow stays below `n`.
   */
  whenLength(n: number): Promise<void> {
    if (this.length >= n || this.isClosed) return Promise.resolve();
    this.data?.resolve();
    this.data = { ...deferred(), atLeast: n };
    return this.data.promise;
  }

  /** Stop accepting: later pushes are abandoned (the broker redelivers QoS 1/2). */
  close(): void {
    this.isClosed = true;
    this.data?.resolve();
    this.data = undefined;
    // Blocked producers must not hang shutdown; the queue refuses what they send next.
    this.space?.resolve();
    this.space = undefined;
  }

  /** Empties the queue without storing anything: the grace period ran out. */
  abandonAll(): number {
    let n = 0;
    while (this.length > 0) {
      const e = this.ring.shift();
      this.byteCount -= e.bytes;
      this.hooks.onDrop('shutdown', e.topic);
      e.settle('abandoned');
      n++;
    }
    this.releaseSpace();
    return n;
  }

  private full(): boolean {
    return this.length >= this.settings.maxMessages || this.byteCount >= this.settings.maxBytes;
  }

  private dropOldestQos0(): void {
    // Only a QoS 0 head may go: QoS 1/2 must be stored; behind one, the producer blocks instead.
    while (this.full() && this.ring.oldestQos() === 0) {
      const e = this.ring.shift();
      this.byteCount -= e.bytes;
      this.hooks.onDrop('queue_full_oldest', e.topic);
      e.settle('abandoned');
    }
  }

  private releaseSpace(): void {
    if (this.space && !this.full()) {
      this.space.resolve();
      this.space = undefined;
    }
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
