/**
 * When to commit: pure, so it tests without timers. Flush when the pending count reaches
 * flushAt = min(maxBatch, the broker's window): the broker sends at most Receive Maximum
 * unacknowledged messages (MQTT 5.0 §3.3.4, "Flow Control"), so past that nothing more can arrive
 * before we ack and waiting only adds latency (measured: receive maximum 100 with a 20 ms timer
 * gave batches of 50 and 2.2k msg/s). Otherwise flush once the oldest pending message has waited
 * maxDelayMs.
 */

export interface BatchPolicySettings {
  readonly flushAt: number;
  readonly maxDelayMs: number;
}

export type FlushDecision =
  /** Nothing pending: wait for a message. */
  | { readonly kind: 'idle' }
  | { readonly kind: 'flush' }
  /** Check again in `ms`, or earlier if more messages arrive. */
  | { readonly kind: 'wait'; readonly ms: number };

/** min(maxBatch, window); window is the broker's Receive Maximum (or none, e.g. aedes). */
export function flushAtFor(maxBatch: number, window?: number): number {
  const n = window === undefined ? maxBatch : Math.min(maxBatch, window);
  return Math.max(1, Math.floor(n));
}

export function decideFlush(
  settings: BatchPolicySettings,
  pending: number,
  oldestMono: number | undefined,
  nowMono: number,
): FlushDecision {
  if (pending <= 0) return { kind: 'idle' };
  if (pending >= settings.flushAt) return { kind: 'flush' };
  const age = oldestMono === undefined ? 0 : nowMono - oldestMono;
  const remaining = settings.maxDelayMs - age;
  if (remaining <= 0) return { kind: 'flush' };
  return { kind: 'wait', ms: remaining };
}
