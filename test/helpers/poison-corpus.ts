/**
 * Malformed and awkward inputs, each with what the daemon must do with it under the default
 * settings (limits.maxPayloadBytes 256 KiB, timestamps clamped, template '+/{device}/#'):
 * store it, dead-letter it with a reason, or never see it (refused before the pipeline).
 */

export type Expect =
  | { readonly kind: 'stored'; readonly readings?: Record<string, number> }
  | { readonly kind: 'dead'; readonly reason: string }
  /** Refused before the pipeline: nothing stored, nothing dead-lettered. */
  | { readonly kind: 'refused' };

export interface PoisonCase {
  readonly name: string;
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain?: boolean;
  /** Published on a throwaway QoS 0 connection: the broker may close it (embedded) or drop the message. */
  readonly ownConnection?: boolean;
  /** By mode: the embedded broker and a subscription through Mosquitto (MQTT 5) differ for some. */
  readonly embedded: Expect;
  readonly mosquitto: Expect;
}

const KiB = 1024;
const both = (e: Expect) => ({ embedded: e, mosquitto: e });
const text = (s: string) => Buffer.from(s, 'utf8');

export function poisonCorpus(now: number): PoisonCase[] {
  const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
  return [
    {
      name: 'invalid JSON',
      topic: 'devices/p1/data',
      payload: text('{"v": 1,'),
      ...both({ kind: 'dead', reason: 'invalid_json' }),
    },
    // Format auto stores what it cannot read as bytes, and an empty payload (a Tasmota query,
    // a cleared retained message) as a message without readings: neither is a fault.
    {
      name: 'invalid UTF-8',
      topic: 'devices/p2/data',
      payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      ...both({ kind: 'stored', readings: {} }),
    },
    {
      name: 'empty payload',
      topic: 'devices/p3/data',
      payload: Buffer.alloc(0),
      ...both({ kind: 'stored', readings: {} }),
    },
    // Just over the limit, within the brokers' allowance for headers: it arrives and is dead-lettered with a truncated copy.
    {
      name: '300 KiB payload',
      topic: 'devices/p4/data',
      payload: Buffer.alloc(300 * KiB, 0x61),
      ...both({ kind: 'dead', reason: 'payload_too_large' }),
    },
    // Multi-MB: the embedded broker closes the connection on the packet header (counted); Mosquitto
    // does not send it to us at all (MQTT 5 Maximum Packet Size).
    {
      name: '3 MiB payload',
      topic: 'devices/p5/data',
      payload: Buffer.alloc(3 * KiB * KiB, 0x61),
      ownConnection: true,
      embedded: { kind: 'refused' },
      mosquitto: { kind: 'refused' },
    },
    {
      name: 'JSON nested 5000 deep',
      topic: 'devices/p6/data',
      payload: text(deep),
      ...both({ kind: 'dead', reason: 'json_too_deep' }),
    },
    {
      name: 'NaN',
      topic: 'devices/p7/data',
      payload: text('{"v": NaN}'),
      ...both({ kind: 'dead', reason: 'invalid_json' }),
    },
    {
      name: 'Infinity',
      topic: 'devices/p8/data',
      payload: text('{"v": Infinity}'),
      ...both({ kind: 'dead', reason: 'invalid_json' }),
    },
    // JSON.parse makes 1e400 Infinity: not a reading, the rest of the message is.
    {
      name: '1e400',
      topic: 'devices/p9/data',
      payload: text('{"v": 1e400, "w": 2}'),
      ...both({ kind: 'stored', readings: { w: 2 } }),
    },
    {
      name: 'huge integer',
      topic: 'devices/p10/data',
      payload: text('{"v": 123456789012345678901234567890}'),
      ...both({ kind: 'stored', readings: { v: 1.2345678901234568e29 } }),
    },
    {
      name: 'timestamp of the wrong type',
      topic: 'devices/p11/data',
      payload: text('{"ts": "yesterday", "v": 1}'),
      ...both({ kind: 'dead', reason: 'invalid_timestamp' }),
    },
    {
      name: 'object timestamp',
      topic: 'devices/p12/data',
      payload: text('{"ts": {"s": 1}, "v": 1}'),
      ...both({ kind: 'dead', reason: 'invalid_timestamp' }),
    },
    {
      name: 'string and boolean values',
      topic: 'devices/p13/data',
      payload: text('{"s": "on", "b": true, "x": "cooking"}'),
      ...both({ kind: 'stored', readings: { s: 1, b: 1 } }),
    },
    {
      name: 'bare string',
      topic: 'devices/p14/data',
      payload: text('"hello"'),
      ...both({ kind: 'stored', readings: {} }),
    },
    // ECMA-262 JSON.parse: the last duplicate wins.
    {
      name: 'duplicate keys',
      topic: 'devices/p15/data',
      payload: text('{"v": 1, "v": 2}'),
      ...both({ kind: 'stored', readings: { v: 2 } }),
    },
    // Out of range timestamps are clamped to the receive time by default (a Pi without RTC boots in 1970).
    {
      name: 'timestamp in 1970',
      topic: 'devices/p16/data',
      payload: text('{"ts": 1000, "v": 3}'),
      ...both({ kind: 'stored', readings: { v: 3 } }),
    },
    {
      name: 'timestamp in 2120',
      topic: 'devices/p17/data',
      payload: text(`{"ts": ${Date.UTC(2120, 0, 1) / 1000}, "v": 4}`),
      ...both({ kind: 'stored', readings: { v: 4 } }),
    },
    {
      name: 'topic with quotes',
      topic: `devices/q"uo'te/data`,
      payload: text('{"v": 5}'),
      ...both({ kind: 'stored', readings: { v: 5 } }),
    },
    {
      name: 'topic with semicolons',
      topic: "devices/x'; DROP TABLE messages;--/data",
      payload: text('{"v": 6}'),
      ...both({ kind: 'stored', readings: { v: 6 } }),
    },
    {
      name: 'unicode topic',
      topic: 'devices/温度計🌡️/data',
      payload: text('{"v": 7}'),
      ...both({ kind: 'stored', readings: { v: 7 } }),
    },
    {
      name: 'topic of 60,000 characters',
      topic: `devices/long/${'x'.repeat(60_000)}`,
      payload: text('{"v": 8}'),
      ...both({ kind: 'stored', readings: { v: 8 } }),
    },
    {
      name: 'retained message',
      topic: 'devices/p18/data',
      payload: text(`{"ts": ${now}, "v": 9}`),
      retain: true,
      ...both({ kind: 'stored', readings: { v: 9 } }),
    },
    // Embedded: refused and counted (aedes closes the connection, [MQTT-3.3.5-2]); Mosquitto:
    // '#' does not match topics starting with '$' ([MQTT-4.7.2-1]), so it never reaches us.
    {
      name: '$SYS topic',
      topic: '$SYS/broker/fake',
      payload: text('{"v": 10}'),
      ownConnection: true,
      ...both({ kind: 'refused' }),
    },
  ];
}
