/**
 * When a batch that is not full is worth waiting for (forward.postgres.maxDelayMs). Live, the
 * forwarder used to ship whatever had arrived the moment the previous transaction committed:
 * many small batches while ingestion runs, each paying PostgreSQL's per-transaction and per-COPY
 * costs, on the cores ingestion needs (BENCHMARKS.md "Live ratio, fwd branch"). Waiting until a
 * batch is full, or until its oldest message has waited maxDelayMs, makes fewer, larger ones. A
 * backlog is never held back: it gives full batches, and its oldest message is old already.
 * batchBytes is not looked at (it would need the rows' sizes): a batch of large messages waits at
 * most maxDelayMs like any other, and the ones after it, older by then, wait less or not at all, so
 * the forwarder still keeps up. Pure: the loop supplies what the outbox holds and the clock.
 */

/** What waits after a cursor, as two indexed reads can tell (outbox.ts pending). */
export interface Pending {
  /** newest id − cursor: more than the messages when ids have gaps, which only ships sooner. */
  readonly messages: number;
  /** received_at (ms since epoch) of the first message after the cursor. */
  readonly oldestReceivedAt: number;
}

export interface BatchWaitSettings {
  readonly batchMessages: number;
  /** 0: ship whatever is there at once (the behaviour before this setting). */
  readonly maxDelayMs: number;
  /** The longest single sleep: how soon a batch that fills up is seen to be full. */
  readonly pollMs: number;
}

/**
 * ms to wait before reading the next batch; 0: read it now. `seenAt` is when the loop first saw
 * these messages waiting (its own clock): a system clock set back, or a received_at in the
 * future, must not hold them longer than maxDelayMs.
 */
export function batchWaitMs(p: Pending, s: BatchWaitSettings, now: number, seenAt: number): number {
  if (s.maxDelayMs <= 0 || p.messages >= s.batchMessages) return 0;
  const waited = Math.max(now - p.oldestReceivedAt, now - seenAt);
  if (waited >= s.maxDelayMs) return 0;
  return Math.min(s.maxDelayMs - waited, s.pollMs);
}
