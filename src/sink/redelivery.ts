/**
 * Recognising a redelivered copy of a message that carries no identity (no payload timestamp, no
 * id): `ON` … `ON` on stat/plug/POWER are two real events, so equal bytes alone prove nothing.
 * A copy is recognised only when the transport marks it as one and the original is found:
 *
 * - DUP=1 ([MQTT-3.3.1-1]: a sender re-delivering a PUBLISH sets DUP) and an identical message
 *   (same device, topic and payload bytes) is among the device's latest `lookback` messages stored
 *   within `windowMs` before this one arrived;
 * - RETAIN=1, in subscriber mode only (a broker re-sends its retained message on each new
 *   subscription, and flags only those copies: live deliveries carry RETAIN=0 [MQTT-3.3.1-9]), and
 *   the latest message stored on that topic, among the device's latest `lookback`, is identical.
 *   In embedded mode RETAIN=1 is the device asking the broker to keep the message, not a copy.
 *
 * The lookup walks messages(device, ts) backwards from the newest row, reading at most `lookback`
 * rows, and only for those flagged messages: the common case (DUP=0, RETAIN=0) costs nothing, and
 * nothing is indexed per message. It reads the database, so it holds across a crash: what the
 * killed process committed is there for the redelivery after the restart, and within one batch the
 * transaction sees its own earlier rows.
 *
 * Limits, documented in the README: a device that resends without DUP (MQTT.js
 * https://github.com/mqttjs/MQTT.js/issues/692, esp-mqtt for QoS 1) gets no such recognition, and
 * a redelivery arriving more than `windowMs` after its original is stored again. Mosquitto sets
 * DUP on the messages it redelivers to mqlite's persistent session.
 */
import type Database from 'better-sqlite3';

export interface RedeliverySettings {
  /** How long after the original a DUP copy is still recognised. */
  readonly windowMs: number;
  /** How many of the device's latest messages are compared, at most. */
  readonly lookback: number;
  /** Whether RETAIN=1 marks a copy: true when subscribed to a broker, false for the embedded one. */
  readonly retainedCopies: boolean;
}

export const DEFAULT_REDELIVERY: RedeliverySettings = {
  windowMs: 3_600_000,
  lookback: 1000,
  retainedCopies: true,
};

export class RedeliveryCheck {
  private readonly find: Database.Statement<unknown[], unknown>;
  private readonly latestOnTopic: Database.Statement<unknown[], unknown>;

  constructor(
    db: Database.Database,
    private readonly settings: RedeliverySettings,
  ) {
    // `device IS ?` (device may be NULL) still uses messages_device_ts; the inner LIMIT bounds
    // the rows read, the outer filter compares topic and bytes (TEXT with TEXT, BLOB with BLOB).
    this.find = db
      .prepare(
        `SELECT 1 FROM (SELECT topic, payload FROM messages
                         WHERE device IS ? AND ts >= ? ORDER BY ts DESC LIMIT ?)
          WHERE topic = ? AND payload = ? LIMIT 1`,
      )
      .pluck();
    this.latestOnTopic = db
      .prepare(
        `SELECT payload FROM (SELECT id, topic, payload, ts FROM messages
                               WHERE device IS ? ORDER BY ts DESC LIMIT ?)
          WHERE topic = ? ORDER BY ts DESC, id DESC LIMIT 1`,
      )
      .pluck();
  }

  /** Whether this DUP or retained message is a copy of one already stored. */
  isCopy(
    device: string | null,
    topic: string,
    payload: string | Buffer,
    receivedAt: number,
    dup: boolean,
    retain: boolean,
  ): boolean {
    if (this.settings.lookback === 0) return false;
    if (
      dup &&
      this.find.get(device, receivedAt - this.settings.windowMs, this.settings.lookback, topic, payload) !==
        undefined
    ) {
      return true;
    }
    if (!retain || !this.settings.retainedCopies) return false;
    // A retained copy repeats the topic's last state, however old: compare with that one only.
    const latest = this.latestOnTopic.get(device, this.settings.lookback, topic);
    if (latest === undefined) return false;
    return typeof payload === 'string'
      ? latest === payload
      : Buffer.isBuffer(latest) && Buffer.compare(latest, payload) === 0;
  }
}
