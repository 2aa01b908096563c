/** Fakes for the batch writer tests: a FIFO queue and messages that record how they were settled. */
import { Mutex } from 'async-mutex';
import { vi } from 'vitest';
import {
  batchOf,
  type InboundMessage,
  type MessageBatch,
  type Settlement,
} from '../../../src/lib/message.js';
import {
  type BatchQueue,
  BatchWriter,
  type BatchWriterSettings,
  type WriterHooks,
} from '../../../src/sink/batch-writer.js';
import { commitErrorCode, SinkWriteError } from '../../../src/sink/sqlite-errors.js';
import type { BatchResult } from '../../../src/sink/types.js';

export class FakeQueue implements BatchQueue {
  private items: { msg: InboundMessage; mono: number }[] = [];
  private isClosed = false;
  private waiter: { atLeast: number; resolve: () => void } | undefined;

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
  take(max: number): MessageBatch {
    return batchOf(this.items.splice(0, max).map((e) => e.msg));
  }
  whenLength(n: number): Promise<void> {
    if (this.items.length >= n || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = { atLeast: n, resolve };
    });
  }
  push(...msgs: InboundMessage[]): void {
    for (const msg of msgs) this.items.push({ msg, mono: this.now() });
    if (this.waiter && this.items.length >= this.waiter.atLeast) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }
  close(): void {
    this.isClosed = true;
    this.waiter?.resolve();
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
  return idOfTopic(m.topic);
}

function idOfTopic(topic: string): number {
  return Number(topic.split('/')[2]);
}

/** The ids of a batch's messages, in order. */
export function idsOf(batch: MessageBatch): number[] {
  return batch.packed.topics.map(idOfTopic);
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

// The writer under test, with a scripted sink and a log of the hooks it called.
const base: BatchWriterSettings = {
  maxBatch: 3,
  maxDelayMs: 10,
  flushAt: 3,
  retryBaseMs: 50,
  retryCapMs: 400,
  stuckAfterAttempts: 3,
};

function result(batch: MessageBatch): BatchResult {
  return {
    stored: batch.length,
    duplicates: 0,
    readings: 0,
    deadLetters: {},
    commitSeconds: 0,
    payloadTs: new Float64Array(batch.length),
  };
}

export const busy = (): SinkWriteError => new SinkWriteError('SQLITE_BUSY', 'database is locked', true);

/** A sink whose answers the test scripts: each write takes the next step (or succeeds). */
function scriptedSink() {
  const steps: (() => Promise<void>)[] = [];
  const writes: number[][] = [];
  return {
    writes,
    steps,
    write: vi.fn(async (batch: MessageBatch) => {
      writes.push(idsOf(batch));
      const step = steps.shift();
      if (step) await step();
      return result(batch);
    }),
  };
}

export function setup(settings: Partial<BatchWriterSettings> = {}, hookOverrides: Partial<WriterHooks> = {}) {
  const queue = new FakeQueue(() => Date.now());
  const sink = scriptedSink();
  const mutex = new Mutex();
  const events: string[] = [];
  const hooks: WriterHooks = {
    onCommitted: (batch) => events.push(`committed ${idsOf(batch).join(',')}`),
    onCommitError: (err, attempt) => events.push(`error ${commitErrorCode(err)} #${attempt}`),
    onStuck: () => events.push('stuck'),
    onRecovered: () => events.push('recovered'),
    onFatal: (err) => events.push(`fatal ${String(err)}`),
    ...hookOverrides,
  };
  const msgs = messageFactory();
  const writer = new BatchWriter({
    queue,
    sink,
    mutex,
    hooks,
    settings: { ...base, ...settings },
    now: () => Date.now(),
    random: () => 0.999,
  });
  return { queue, sink, mutex, events, msgs, writer };
}
