/**
 * Backoff state for MQTT.js reconnects. MQTT.js only knows a fixed `reconnectPeriod` armed
 * as a setInterval (client.js `_setupReconnect`; no built-in backoff, MQTT.js #1742), so the
 * source rewrites `client.options.reconnectPeriod` before every arming. This class decides
 * the value; it holds no timers and is tested with an injected random.
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

  constructor(
    private readonly settings: ReconnectSettings,
    private readonly random: () => number = Math.random,
  ) {}

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
}
