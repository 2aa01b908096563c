/**
 * A database file written by the real sink (SinkStore, in this process, no worker): the outbox
 * the forwarder reads. Messages are JSON with readings; every 50th also has a reading of its own
 * time (→ readings_at), every 97th a binary payload, every 89th a payload with U+0000 in it, so
 * each path of the row encoding is crossed.
 */
import type { InboundMessage } from '../../src/lib/message.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { DecodeFn, Reading } from '../../src/sink/types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

const decode: DecodeFn = (topic, payload, receivedAt) => {
  const device = topic.split('/')[1] ?? null;
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return {
      ok: true,
      device,
      text: null,
      ts: receivedAt,
      tsFromPayload: false,
      identity: null,
      readings: [],
    };
  }
  const j = JSON.parse(text.replace(/\0/g, '')) as { ts: number; seq: number; v: number; apart?: number };
  const readings: Reading[] = [{ metric: 'v', value: j.v }];
  if (j.apart !== undefined) readings.push({ metric: 'old', value: j.v, ts: j.apart });
  return {
    ok: true,
    device,
    text,
    ts: j.ts,
    tsFromPayload: true,
    identity: `${device}\0${j.seq}`,
    readings,
  };
};

function inbound(seq: number, t0: number): InboundMessage {
  const ts = t0 + seq * 10;
  let payload: Buffer;
  if (seq % 97 === 0) payload = Buffer.from([0xff, 0xfe, seq & 0xff, 0x00, 0x80]);
  else {
    const body = { ts, seq, v: (seq % 1000) / 10, ...(seq % 50 === 0 ? { apart: ts - 3_600_000 } : {}) };
    const text = JSON.stringify(seq % 83 === 0 ? { ...body, s: 'back\\slash' } : body);
    // U+0000 is not text to PostgreSQL; tab and newline (JSON whitespace) need COPY escapes.
    payload = Buffer.from(seq % 89 === 0 ? `${text}\0` : seq % 83 === 0 ? `${text}\t\n` : text);
  }
  return {
    topic: `sensors/dev${seq % 20}/state`,
    payload,
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: ts,
    receivedMono: 0,
    settle: () => undefined,
  };
}

/**
 * Appends messages seq = from … from + count − 1 to the file (created if new), message seq at
 * t0 + 10·seq ms. The default t0, a day ago, is inside the default retention (30 days).
 */
export function writeOutbox(path: string, from: number, count: number, t0 = Date.now() - 86_400_000): void {
  const batch = 5000;
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
    decode,
  );
  try {
    for (let at = from; at < from + count; at += batch) {
      const msgs: InboundMessage[] = [];
      for (let s = at; s < Math.min(from + count, at + batch); s++) msgs.push(inbound(s, t0));
      store.writeBatch(packBatch(msgs).packed);
    }
  } finally {
    store.close();
  }
}
