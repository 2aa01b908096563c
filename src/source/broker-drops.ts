/**
 * The broker's own count of messages it dropped: Mosquitto publishes it, retained, on this $SYS
 * topic every `sys_interval` seconds (10 by default) when it changed. A broker drops a QoS 1/2
 * message for a client whose queue is full (max_queued_messages / max_queued_bytes), for instance
 * mqlite's while it is away or slower than the stream: the message never reaches mqlite, so mqlite
 * cannot count it itself. The count covers every client of the broker since it started, so it
 * says "messages were lost somewhere on this broker", not "mqlite lost them".
 */

export const BROKER_DROPPED_TOPIC = '$SYS/broker/publish/messages/dropped';

/** The payload is the count in decimal ASCII ("1234"); anything else is not a count. */
export function parseDroppedCount(payload: Uint8Array): number | undefined {
  if (payload.length === 0 || payload.length > 20) return undefined;
  let n = 0;
  for (const b of payload) {
    if (b < 0x30 || b > 0x39) return undefined;
    n = n * 10 + (b - 0x30);
  }
  return Number.isSafeInteger(n) ? n : undefined;
}
