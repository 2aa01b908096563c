/**
 * Pure: a batch → what PostgreSQL is sent. Two shapes, measured against each other in
 * bench/forward.ts (BENCHMARKS.md "Forwarding"): COPY text rows for a staging table, or one array
 * per column for `INSERT … SELECT FROM unnest(…)`. Times travel as integer ms and become
 * timestamptz in SQL (pg-schema.ts), so no float rounding or time-zone parsing is involved.
 */
import type { OutboxBatch, OutboxMessage } from './types.js';

/** A payload as PostgreSQL columns: text when it is text PostgreSQL accepts, else bytes. */
export function payloadColumns(p: OutboxMessage['payload']): { text: string | null; raw: Uint8Array | null } {
  if (p === null) return { text: null, raw: null };
  // PostgreSQL text cannot hold U+0000: such a payload goes as its UTF-8 bytes.
  if (typeof p === 'string')
    return p.includes('\0') ? { text: null, raw: Buffer.from(p) } : { text: p, raw: null };
  return { text: null, raw: p };
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A value in COPY's text format (postgresql.org/docs/15/sql-copy.html, "Text Format"). */
export function copyText(v: string | null): string {
  if (v === null) return '\\N';
  return NEEDS_ESCAPE.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c] as string) : v;
}

/** bytea in hex form; COPY unescapes the doubled backslash. */
export function copyBytes(v: Uint8Array | null): string {
  if (v === null) return '\\N';
  return `\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
}

const bool = (n: number): string => (n ? 't' : 'f');

/** Columns of the message staging table, in COPY order (pg-schema.ts STAGE_MESSAGES). */
export function copyMessages(batch: OutboxBatch): string {
  const lines: string[] = [];
  for (const m of batch.messages) {
    const p = payloadColumns(m.payload);
    lines.push(
      `${m.id}\t${m.ts}\t${m.receivedAt}\t${copyText(m.topic)}\t${copyText(m.device)}\t${copyText(p.text)}\t${copyBytes(p.raw)}\t${m.qos}\t${bool(m.retain)}\t${bool(m.dup)}\t${copyText(m.readings)}\n`,
    );
  }
  return lines.join('');
}

/**
 * Rows for COPY straight into the messages table (pg-schema.ts COPY_DIRECT_MESSAGES): the source
 * on every row and times as ISO-8601 UTC text, since there is no SELECT to convert them.
 */
export function copyDirectMessages(batch: OutboxBatch, source: string): string {
  const src = copyText(source);
  const lines: string[] = [];
  for (const m of batch.messages) {
    const p = payloadColumns(m.payload);
    lines.push(
      `${src}\t${m.id}\t${iso(m.ts)}\t${iso(m.receivedAt)}\t${copyText(m.topic)}\t${copyText(m.device)}\t${copyText(p.text)}\t${copyBytes(p.raw)}\t${m.qos}\t${bool(m.retain)}\t${bool(m.dup)}\t${copyText(m.readings)}\n`,
    );
  }
  return lines.join('');
}

export function copyDirectReadings(batch: OutboxBatch, source: string): string {
  const src = copyText(source);
  const lines: string[] = [];
  for (const r of batch.readingsAt) {
    lines.push(
      `${src}\t${r.messageId}\t${copyText(r.device)}\t${copyText(r.metric)}\t${iso(r.ts)}\t${floatText(r.value)}\n`,
    );
  }
  return lines.join('');
}

/** ms since epoch → timestamptz input; out of Date's range (±8.64e15 ms) cannot come from the sink. */
function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Columns of the readings staging table, in COPY order (pg-schema.ts STAGE_READINGS). */
export function copyReadings(batch: OutboxBatch): string {
  const lines: string[] = [];
  for (const r of batch.readingsAt) {
    lines.push(
      `${r.messageId}\t${copyText(r.device)}\t${copyText(r.metric)}\t${r.ts}\t${floatText(r.value)}\n`,
    );
  }
  return lines.join('');
}

/** Shortest text that reads back as the same double (JS and PostgreSQL both round-trip it). */
function floatText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  return String(v);
}

/** The same batch as one array per column, for the unnest method. */
export function messageArrays(batch: OutboxBatch): unknown[] {
  const n = batch.messages.length;
  const id: number[] = new Array(n);
  const ts: number[] = new Array(n);
  const received: number[] = new Array(n);
  const topic: string[] = new Array(n);
  const device: (string | null)[] = new Array(n);
  const text: (string | null)[] = new Array(n);
  const raw: (Buffer | null)[] = new Array(n);
  const qos: number[] = new Array(n);
  const retain: boolean[] = new Array(n);
  const dup: boolean[] = new Array(n);
  const readings: (string | null)[] = new Array(n);
  batch.messages.forEach((m, i) => {
    const p = payloadColumns(m.payload);
    id[i] = m.id;
    ts[i] = m.ts;
    received[i] = m.receivedAt;
    topic[i] = m.topic;
    device[i] = m.device;
    text[i] = p.text;
    raw[i] = p.raw === null ? null : Buffer.from(p.raw.buffer, p.raw.byteOffset, p.raw.byteLength);
    qos[i] = m.qos;
    retain[i] = m.retain !== 0;
    dup[i] = m.dup !== 0;
    readings[i] = m.readings;
  });
  return [id, ts, received, topic, device, text, raw, qos, retain, dup, readings];
}

export function readingArrays(batch: OutboxBatch): unknown[] {
  const r = batch.readingsAt;
  return [
    r.map((x) => x.messageId),
    r.map((x) => x.device),
    r.map((x) => x.metric),
    r.map((x) => x.ts),
    r.map((x) => x.value),
  ];
}
