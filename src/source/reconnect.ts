/**
 * Backoff state for MQTT.js reconnects. MQTT.js only knows a fixed `reconnectPeriod` armed
 * as a setInterval (client.js `_setupReconnect`; no built-in backoff, MQTT.js #1742), so the
 * source rewrites `client.options.reconnectPeriod` before every arming. This class decides
 * the value, and when the backoff starts again from the base delay; it is tested with fake
 * timers and an injected random.
 *
 * When to reset: a connection that was merely accepted proves little (a broker that accepts
 * CONNECT and drops us at once must not be hammered at the base delay), so a CONNACK alone
 * resets only after `stableMs` of staying up. But waiting that long after every blip stalled
 * ingestion: a broker restarted a few times within a minute (each down ~0.1 s) left the backoff
 * climbing to delays of up to 23 s. The first message received *and committed* on a connection
 * proves the whole path works, so that resets at once.
 */
import { type BackoffPolicy, backoffDelay } from '../lib/backoff.js';

export interface ReconnectSettings extends BackoffPolicy {
  /** A connection that stayed up this long resets the backoff to the first step. */
  readonly stableMs: number;
}

export interface ScheduledRetry {
  readonly delayMs: number;
  /** 0-based: how many retries in a row came before this one. */
  readonly attempt: number;
}

/**
 * MQTT.js treats `reconnectPeriod: 0` as "never reconnect" and then also stops recording
 * subscriptions (client.js subscribe, `reconnectPeriod > 0`), so full jitter's 0 becomes 1 ms.
 */
export const MIN_RECONNECT_MS = 1;

export class ReconnectBackoff {
  private attempt = 0;
  private stableTimer: NodeJS.Timeout | undefined;

  /** `onReset`: the backoff just started over (the source re-arms MQTT.js's period with it). */
  constructor(
    private readonly settings: ReconnectSettings,
    private readonly random: () => number = Math.random,
    private readonly onReset: () => void = () => {},
  ) {}

  /** CONNACK received: staying up `stableMs` from now resets the backoff, even with no traffic. */
  connected(): void {
    this.clearTimer();
    this.stableTimer = setTimeout(() => {
      this.stableTimer = undefined;
      this.resetAndNotify();
    }, this.settings.stableMs);
    this.stableTimer.unref();
  }

  /** A message received on the current connection was committed: the session works end to end. */
  proven(): void {
    this.clearTimer();
    if (this.attempt > 1) this.resetAndNotify();
  }

  /** The connection closed (or the source stops): no reset for it any more. */
  closed(): void {
    this.clearTimer();
  }

  /** The delay for the retry that follows the attempt starting now; advances the attempt count. */
  next(): ScheduledRetry {
    const attempt = this.attempt;
    this.attempt++;
    const delayMs = Math.max(MIN_RECONNECT_MS, backoffDelay(this.settings, attempt, this.random));
    return { delayMs, attempt };
  }

  /** After a stable connection: the next retry starts again from the base delay. */
  reset(): void {
    this.attempt = 0;
  }

  private resetAndNotify(): void {
    this.reset();
    this.onReset();
  }

  private clearTimer(): void {
    if (this.stableTimer !== undefined) clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
  }
}
