/** Fakes for the batch writer tests: a FIFO queue and messages that record how they were settled. */
import type { InboundMessage, Settlement } from '../../../src/lib/message.js';
import type { BatchQueue } from '../../../src/sink/batch-writer.js';

export class FakeQueue implements BatchQueue {
  private items: { msg: InboundMessage; mono: number }[] = [];
  private isClosed = false;
  private waiter: (() => void) | undefined;

  constructor(private readonly now: () => number) {}

  get length(): number {
    return this.items.length;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  oldestEnqueuedMono(): number | undefined {
    return this.items[0]?.mono;
  }
  take(max: number): InboundMessage[] {
    return this.items.splice(0, max).map((e) => e.msg);
  }
  whenNonEmpty(): Promise<void> {
    if (this.items.length > 0 || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
  push(...msgs: InboundMessage[]): void {
    for (const msg of msgs) this.items.push({ msg, mono: this.now() });
    this.waiter?.();
    this.waiter = undefined;
  }
  close(): void {
    this.isClosed = true;
    this.waiter?.();
    this.waiter = undefined;
  }
}

/** Settlements in the order they happened, across all messages made by one factory. */
export function messageFactory(): {
  make(n: number): InboundMessage[];
  settled: { id: number; how: Settlement }[];
} {
  const settled: { id: number; how: Settlement }[] = [];
  let next = 0;
  return {
    settled,
    make(n) {
      return Array.from({ length: n }, () => {
        const id = next++;
        return {
          topic: `t/dev/${id}`,
          payload: Buffer.from(`{"v":${id}}`),
          qos: 1,
          retain: false,
          dup: false,
          receivedAt: 1_700_000_000_000 + id,
          receivedMono: id,
          settle: (how: Settlement) => {
            settled.push({ id, how });
          },
        } satisfies InboundMessage;
      });
    },
  };
}

export function idOf(m: InboundMessage): number {
  return Number(m.topic.split('/')[2]);
}

export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }
}
