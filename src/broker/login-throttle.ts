/**
 * Failed logins per client address: a few are free, then that address waits, doubling with each
 * further failure up to a cap. Every attempt otherwise costs the broker a full scrypt (~50 ms of
 * a libuv thread): probing made 200 guesses in 6 s, uncounted, and could keep the CPU busy. An
 * address that is waiting, or already has verifications in flight, is refused before any scrypt
 * runs. One success forgets the address. The table is bounded: idle entries are forgotten, and
 * the least recently failing one is evicted when it is full. Pure, with an injected clock.
 */
export interface ThrottlePolicy {
  /** Failures an address may make before it has to wait. */
  readonly freeFailures: number;
  /** The first wait; it doubles with each failure after that. */
  readonly baseMs: number;
  readonly capMs: number;
  /** An address with no failure for this long starts from scratch. */
  readonly forgetMs: number;
  /** Addresses remembered at most (each entry is a few dozen bytes). */
  readonly maxEntries: number;
  /** Password checks in flight per address: more at once are refused, not queued. */
  readonly maxPending: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  // Five: a person mistyping, or a device with a stale password retrying a few times.
  freeFailures: 5,
  baseMs: 1000,
  // Five minutes: a guesser gets ~12 tries an hour; a fixed device is back within 5 minutes.
  capMs: 5 * 60_000,
  forgetMs: 15 * 60_000,
  maxEntries: 10_000,
  maxPending: 2,
};

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
  pending: number;
}

export type ThrottleVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryInMs: number };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Before checking a password: may this address try now? If allowed, call end() after. */
  begin(address: string): ThrottleVerdict {
    const t = this.now();
    let e = this.entries.get(address);
    if (e !== undefined && e.pending === 0 && t - e.lastFailure >= this.policy.forgetMs) {
      this.entries.delete(address);
      e = undefined;
    }
    if (e !== undefined && t < e.blockedUntil) return { allowed: false, retryInMs: e.blockedUntil - t };
    if (e !== undefined && e.pending >= this.policy.maxPending) return { allowed: false, retryInMs: 0 };
    if (e === undefined) {
      e = { failures: 0, lastFailure: t, blockedUntil: 0, pending: 0 };
      this.remember(address, e);
    }
    e.pending++;
    return { allowed: true };
  }

  /** After the password check that begin() allowed. */
  end(address: string, ok: boolean): void {
    const e = this.entries.get(address);
    if (e === undefined) return; // evicted meanwhile
    e.pending = Math.max(0, e.pending - 1);
    if (ok) {
      if (e.pending === 0) this.entries.delete(address);
      else e.failures = 0;
      return;
    }
    const t = this.now();
    e.failures++;
    e.lastFailure = t;
    const over = e.failures - this.policy.freeFailures;
    if (over >= 0) e.blockedUntil = t + Math.min(this.policy.capMs, this.policy.baseMs * 2 ** over);
    // Most recently failing last: eviction takes the longest quiet one first.
    this.entries.delete(address);
    this.remember(address, e);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(address: string, e: Entry): void {
    if (this.entries.size >= this.policy.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(address, e);
  }
}
