/**
 * Pure: a batch → what PostgreSQL is sent. Two shapes, measured against each other in
 * bench/forward.ts (BENCHMARKS.md "Forwarding"): COPY text rows for a staging table, or one array
 * per column for `INSERT … SELECT FROM unnest(…)`. Times travel as integer ms and become
 * timestamptz in SQL (pg-schema.ts), so no float rounding or time-zone parsing is involved.
 */
import { M, type OutboxBatch, type OutboxMessage, R } from './types.js';

/** A payload as PostgreSQL columns: text when it is text PostgreSQL accepts, else bytes. */
export function payloadColumns(p: OutboxMessage[typeof M.payload]): {
  text: string | null;
  raw: Uint8Array | null;
} {
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
    const p = payloadColumns(m[M.payload]);
    lines.push(
      `${m[M.id]}\t${m[M.ts]}\t${m[M.receivedAt]}\t${copyText(m[M.topic])}\t${copyText(m[M.device])}\t${copyText(p.text)}\t${copyBytes(p.raw)}\t${m[M.qos]}\t${bool(m[M.retain])}\t${bool(m[M.dup])}\t${copyText(m[M.readings])}\n`,
    );
  }
  return lines.join('');
}

/** Columns of the readings staging table, in COPY order (pg-schema.ts STAGE_READINGS). */
export function copyReadings(batch: OutboxBatch): string {
  const lines: string[] = [];
  for (const r of batch.readingsAt) {
    lines.push(
      `${r[R.messageId]}\t${copyText(r[R.device])}\t${copyText(r[R.metric])}\t${r[R.ts]}\t${floatText(r[R.value])}\n`,
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
    const p = payloadColumns(m[M.payload]);
    id[i] = m[M.id];
    ts[i] = m[M.ts];
    received[i] = m[M.receivedAt];
    topic[i] = m[M.topic];
    device[i] = m[M.device];
    text[i] = p.text;
    raw[i] = p.raw === null ? null : Buffer.from(p.raw.buffer, p.raw.byteOffset, p.raw.byteLength);
    qos[i] = m[M.qos];
    retain[i] = m[M.retain] !== 0;
    dup[i] = m[M.dup] !== 0;
    readings[i] = m[M.readings];
  });
  return [id, ts, received, topic, device, text, raw, qos, retain, dup, readings];
}

export function readingArrays(batch: OutboxBatch): unknown[] {
  const r = batch.readingsAt;
  return [
    r.map((x) => x[R.messageId]),
    r.map((x) => x[R.device]),
    r.map((x) => x[R.metric]),
    r.map((x) => x[R.ts]),
    r.map((x) => x[R.value]),
  ];
}
