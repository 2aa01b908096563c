/**
 * What the SQLite-side benches (purge, storage, store-write) feed SinkStore directly, without a
 * broker: the bench payload as an InboundMessage, and a decoder for it. One copy, so that the three
 * benches measure the same input and a change to it reaches all of them.
 */
import type { InboundMessage } from '../../src/lib/message.js';
import type { DecodeFn, Reading } from '../../src/sink/types.js';
import { deviceTopic, makePayload } from './payload.js';

/** The bench payload decoded as mqlite's JSON format does: every numeric field but ts; identity = seq. */
export const benchDecode: DecodeFn = (topic, payload) => {
  const text = Buffer.from(payload).toString();
  const j = JSON.parse(text) as Record<string, number>;
  const readings: Reading[] = [];
  for (const k of Object.keys(j)) if (k !== 'ts') readings.push({ metric: k, value: j[k] as number });
  const device = topic.split('/')[1] ?? null;
  return {
    ok: true,
    device,
    text,
    ts: j.ts as number,
    tsFromPayload: true,
    identity: `${device}\0${j.seq}`,
    readings,
  };
};

/** Device `dev`'s message number `seq` (~80-byte payload), received at its own payload time `ts`. */
export function benchMessage(dev: number, seq: number, ts: number): InboundMessage {
  return {
    topic: deviceTopic(dev),
    payload: Buffer.from(makePayload(seq, ts, 80)),
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: ts,
    receivedMono: 0,
    settle: () => undefined,
  };
}
