/**
 * Takes batches off the queue and commits them, one transaction at a time, releasing each
 * message's ack ('committed') only after its transaction committed, in receive order
 * ([MQTT-4.6.0-2]: PUBACKs go out in the order the PUBLISHes came in). A failing database keeps
 * the batch and retries with backoff; meanwhile the queue fills and backpressure reaches the
 * broker. Nothing is ever acknowledged that is not committed.
 */
import type { Mutex } from 'async-mutex';
import { backoffDelay } from '../lib/backoff.js';
import type { MessageBatch } from '../lib/message.js';
import { decideFlush } from './batch-policy.js';
import type { BatchResult } from './types.js';

/** What the writer needs of the queue stage (implemented by queue/bounded-queue.ts). */
export interface BatchQueue {
  readonly length: number;
  oldestEnqueuedMono(): number | undefined;
  take(max: number): MessageBatch;
  /** Resolves once `n` messages are queued, or the queue is closed. */
  whenLength(n: number): Promise<void>;
  readonly closed: boolean;
}

export interface BatchSink {
  write(batch: MessageBatch): Promise<BatchResult>;
}

/**
 * Messages settled per turn of the event loop after a commit. Settling sends the PUBACK (through
 * MQTT.js's packet writer) and observes two histograms: ~2-4 µs a message, so a 5000-message batch in
 * one synchronous stretch held the loop for 10-20 ms, and keepalives, /metrics and /healthz with it
 * (issue #11: event-loop p99 within 5 ms of the bare transport's). 500 keep a stretch near 1-2 ms;
 * the acks of each chunk leave in one write when the loop turns.
 */
export const SETTLE_CHUNK = 500;

/** When a batch committed, for the per-message observations of its chunks. */
export interface CommitClock {
  /** performance.now() when the commit returned. */
  readonly mono: number;
  /** Date.now() when the commit returned. */
  readonly wall: number;
}

/** Hooks must not throw: a throwing hook stops the writer (healthy turns false, stop() rethrows). */
export interface WriterHooks {
  /**
   * After messages [from, to) of a committed batch were settled 'committed' (chunks of SETTLE_CHUNK,
   * in order, one per turn of the event loop): per-message observations go here.
   */
  onSettledChunk?(batch: MessageBatch, from: number, to: number, result: BatchResult, at: CommitClock): void;
  /** After every message of the batch was settled 'committed' (after its last chunk). */
  onCommitted(batch: MessageBatch, result: BatchResult): void;
  /** Each failed attempt of one batch, attempt counting from 1. */
  onCommitError(err: unknown, attempt: number): void;
  /** Once per failure episode, at attempt stuckAfterAttempts: the daemon forces a reconnect. */
  onStuck(): void;
  /** The first commit after a failure episode. */
  onRecovered(): void;
  /** The writer loop died (a hook threw): nothing will be stored any more. */
  onFatal(err: unknown): void;
}

export interface BatchWriterSettings {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  /** min(maxBatch, broker window): see batch-policy.ts. */
  readonly flushAt: number;
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  readonly stuckAfterAttempts: number;
}

export interface BatchWriterDeps {
  readonly queue: BatchQueue;
  readonly sink: BatchSink;
  /** Shared with maintenance and shutdown: one transaction at a time on the database. */
  readonly mutex: Mutex;
  readonly settings: BatchWriterSettings;
  readonly hooks: WriterHooks;
  /** Monotonic ms, the clock of InboundMessage.receivedMono and the queue. */
  readonly now?: () => number;
  /** For the backoff jitter; tests make it deterministic. */
  readonly random?: () => number;
}

export class BatchWriter {
  private readonly now: () => number;
  private readonly random: () => number;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private failing = false;
  private fatal: { error: unknown } | undefined;
  /** Ends the current wait early (stop()). */
  private wake: (() => void) | undefined;

  constructor(private readonly deps: BatchWriterDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
  }

  /** false while commits fail (and after a hook threw). */
  get healthy(): boolean {
    return !this.failing && this.fatal === undefined;
  }

  /** false once the loop died: retrying commits is alive, a dead loop is not (feeds the watchdog). */
  get alive(): boolean {
    return this.fatal === undefined;
  }

  start(): Promise<void> {
    this.loop ??= this.run().catch((error: unknown) => {
      // Recorded, surfaced by `healthy`, reported by onFatal and rethrown by stop(): not swallowed.
      this.fatal = { error };
      this.deps.hooks.onFatal(error);
    });
    return Promise.resolve();
  }

  /**
   * Drains: keeps committing until the queue is empty (at once, without waiting for a batch to
   * fill), then returns. A commit that fails while stopping gets no more retries: that batch is
   * settled 'abandoned' (never acked; the broker redelivers) and the rest stays in the queue.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    if (this.fatal) throw this.fatal.error;
  }

  private async run(): Promise<void> {
    const { queue, settings } = this.deps;
    for (;;) {
      if (queue.length === 0) {
        if (this.stopping || queue.closed) return;
        await this.until(queue.whenLength(1));
        continue;
      }
      if (!this.stopping && !queue.closed) {
        const d = decideFlush(settings, queue.length, queue.oldestEnqueuedMono(), this.now());
        if (d.kind === 'wait') {
          // Woken by whichever comes first: flushAt messages (with the broker's window full
          // nothing more arrives before we ack, so waiting longer is pure latency), the delay
          // of the oldest message, or stop().
          await this.until(queue.whenLength(settings.flushAt), d.ms);
          continue;
        }
      }
      const batch = queue.take(settings.maxBatch);
      if (batch.length > 0 && !(await this.commit(batch))) return;
    }
  }

  /** Commits one batch, retrying until it succeeds; false if abandoned during stop. */
  private async commit(batch: MessageBatch): Promise<boolean> {
    const { sink, mutex, hooks, settings } = this.deps;
    const policy = { baseMs: settings.retryBaseMs, factor: 2, capMs: settings.retryCapMs };
    for (let attempt = 1; ; attempt++) {
      let result: BatchResult;
      try {
        result = await mutex.runExclusive(() => sink.write(batch));
      } catch (err) {
        // Retryable or not, the batch is kept: the only other choice is losing QoS 1/2 messages.
        this.failing = true;
        hooks.onCommitError(err, attempt);
        if (attempt === settings.stuckAfterAttempts) hooks.onStuck();
        if (this.stopping) {
          batch.settle(0, batch.length, 'abandoned');
          return false;
        }
        await this.sleep(backoffDelay(policy, attempt - 1, this.random));
        continue;
      }
      // FIFO: the batch is in receive order, and batches commit one after another (the next one
      // starts only once this one is settled, chunks included).
      const at: CommitClock = { mono: this.now(), wall: Date.now() };
      for (let from = 0; from < batch.length; from += SETTLE_CHUNK) {
        if (from > 0) await turnOfTheLoop();
        const to = Math.min(batch.length, from + SETTLE_CHUNK);
        batch.settle(from, to, 'committed');
        hooks.onSettledChunk?.(batch, from, to, result, at);
      }
      if (this.failing) {
        this.failing = false;
        hooks.onRecovered();
      }
      hooks.onCommitted(batch, result);
      return true;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.wake = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Waits for `p`, for `ms` if given, or for stop(). */
  private until(p: Promise<void>, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.wake = done;
      p.then(done, done);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

/** Lets timers, sockets and HTTP run between two chunks (setImmediate: after pending I/O). */
function turnOfTheLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
