/**
 * Keepalive while reading is held by a full queue (issues #11, #16).
 *
 * When the queue is full the source holds MQTT.js's packet pipeline (mqtt-source.ts, onPublish), so
 * the socket stops being read. MQTT.js 5.16 still pings (KeepaliveManager: PINGREQ one keepalive after
 * the last reschedule, `onKeepaliveTimeout` at 1.5 keepalives), but the broker's PINGRESP waits in the
 * socket behind the messages already in flight, and the timeout then ends a healthy connection: the
 * broker redelivers every unacknowledged message (measured: 11–15k per overloaded bench run,
 * BENCHMARKS.md "Overload: keepalive while the queue is full").
 *
 * So at a keepalive timeout, if reading was held at any time since the last reschedule (PINGRESP,
 * CONNACK, SUBACK), we send another PINGREQ and start a new keepalive window instead of
 * disconnecting. Pinging at once, rather than only rescheduling, keeps our PINGREQs at most one
 * keepalive apart, so the broker (which drops a client silent for 1.5 keepalives,
 * [MQTT-3.1.2-24]) always hears from us even when no PUBACK goes out.
 *
 * Bounds, so a held read never hides a dead broker for long:
 * - No hold in the window: stock behaviour, a dead broker is detected at 1.5 keepalives as before.
 * - The first re-ping after a PINGRESP is granted on a hold alone; each further one needs reading
 *   to have moved on since the previous re-ping (a held message released). A writer that is stuck
 *   outright therefore still gets the connection closed, one window later than stock.
 * - While reading moves, data is arriving, from the broker or from what the socket had buffered; a
 *   dead broker sends no more, so once that backlog is read the queue empties, the hold ends, and the
 *   next window without a hold times out as usual.
 *
 * Hook points (MQTT.js 5.16, read in build/lib/client.js and KeepaliveManager.js): KeepaliveManager
 * calls `client.sendPing()` and `client.onKeepaliveTimeout()` on the client instance, and every
 * reschedule after the CONNACK goes through `client.reschedulePing(force)` (handlers/index.js: acks
 * with force false, PINGRESP with true). We replace `onKeepaliveTimeout` and wrap `reschedulePing`
 * on each client, and call `sendPing`. test/unit/source/stall-keepalive.test.ts fails if these move.
 */
import type { MqttClient } from 'mqtt';
import { mqtt } from './mqtt-lib.js';
import type { SourceHooks } from './source-types.js';

/** The MqttClient methods this file relies on, by name. */
const HOOKED = ['sendPing', 'onKeepaliveTimeout', 'reschedulePing'] as const;

/** Names of the hooked MqttClient methods that MQTT.js no longer has (empty when all are there). */
export function missingKeepaliveInternals(proto: object = mqtt.MqttClient.prototype): string[] {
  const methods = proto as Record<string, unknown>;
  return HOOKED.filter((name) => typeof methods[name] !== 'function');
}

/** The three members used, as KeepaliveManager and the packet handlers call them. */
export type KeepaliveClient = Pick<MqttClient, 'sendPing' | 'onKeepaliveTimeout' | 'reschedulePing' | 'on'>;

export class StallKeepalive {
  /** Pipelines held by a full queue right now (one per connection at most; old ones may linger). */
  private holds = 0;
  /** Keepalive windows started so far: bumped at every reschedule and connection. */
  private window = 0;
  /** The last window in which reading was held. */
  private heldInWindow = -1;
  /** Holds released so far: reading moved on that many times. */
  private released = 0;
  /** PINGREQs sent instead of a disconnect since the last PINGRESP. */
  private rePings = 0;
  private releasedAtRePing = 0;

  constructor(private readonly hooks: Pick<SourceHooks, 'onRePing' | 'onStockKeepalive'>) {}

  /**
   * Reading stops (the queue is full, the pipeline waits for room) until the returned function is
   * called, which then runs `resume`. Call it once.
   */
  hold(resume: () => void): () => void {
    this.holds++;
    this.heldInWindow = this.window;
    return () => {
      this.holds--;
      this.released++;
      this.heldInWindow = this.window;
      resume();
    };
  }

  /** At a keepalive timeout: true to ping again and wait one more window, false to disconnect. */
  pingAgain(): boolean {
    if (this.holds === 0 && this.heldInWindow !== this.window) return false;
    return this.rePings === 0 || this.released !== this.releasedAtRePing;
  }

  /**
   * Hooks one MQTT.js client (one per source; MQTT.js keeps it across reconnects). If MQTT.js lost a
   * hooked method, says so and leaves the client stock: it then reconnects under overload, as before.
   */
  install(client: KeepaliveClient, proto: object = mqtt.MqttClient.prototype): void {
    const missing = missingKeepaliveInternals(proto);
    if (missing.length > 0) {
      this.hooks.onStockKeepalive?.(missing);
      return;
    }
    const stockTimeout = client.onKeepaliveTimeout.bind(client);
    const reschedule = client.reschedulePing.bind(client);
    client.reschedulePing = (force?: boolean): void => {
      // Counted even when MQTT.js does not reschedule (reschedulePings false): a window that
      // looks shorter only makes us less lenient.
      this.window++;
      reschedule(force);
    };
    client.onKeepaliveTimeout = (): void => {
      if (!this.pingAgain()) {
        stockTimeout();
        return;
      }
      this.rePings++;
      this.releasedAtRePing = this.released;
      client.sendPing();
      client.reschedulePing(true);
      this.hooks.onRePing?.(this.rePings);
    };
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'pingresp') this.rePings = 0;
    });
    client.on('connect', () => {
      // A new connection's KeepaliveManager starts its first window without reschedulePing.
      this.window++;
      this.rePings = 0;
    });
  }
}
