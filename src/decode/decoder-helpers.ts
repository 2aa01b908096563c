/**
 * The decoder's small pure helpers: dead-letter details, settings checks, metric names for bare
 * values, the format-auto JSON sniff, binary identities. Split from decoder.ts to keep it readable.
 */
import { isKnownZone } from './time-zone.js';
import type { DeadLetterReason, DecodeSettings, Rejected } from './types.js';

const MAX_DETAIL_CHARS = 200;

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what we strip
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;
/** ±8.64e15 ms is the range of a JS Date (ECMA-262 §21.4.1.1); toISOString throws outside it. */
const MAX_DATE_MS = 8.64e15;

export function reject(reason: DeadLetterReason, detail: string): Rejected {
  // Parser messages quote the payload, which may hold control characters or be long.
  let d = detail.replace(CONTROL_CHARS, '?');
  if (d.length > MAX_DETAIL_CHARS) d = `${d.slice(0, MAX_DETAIL_CHARS - 1)}…`;
  return { ok: false, reason, detail: d };
}

export function checkSettings(s: DecodeSettings): void {
  const whole = (name: string, v: number, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min)
      throw new RangeError(`decode settings: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  whole('maxPayloadBytes', s.maxPayloadBytes, 0);
  whole('maxJsonDepth', s.maxJsonDepth, 1);
  whole('maxReadingsPerMessage', s.maxReadingsPerMessage, 1);
  whole('maxFutureMs', s.maxFutureMs, 0);
  whole('maxPastMs', s.maxPastMs, 0);
  if (s.timeZone !== undefined && !isKnownZone(s.timeZone))
    throw new RangeError(`decode settings: unknown time zone "${s.timeZone}"`);
}

/** Metric for a bare value when the rule names none: the topic levels after the device, joined with '.'. */
export function scalarMetric(topic: string, deviceEnd: number): string {
  if (deviceEnd < 0 || deviceEnd >= topic.length) return 'value';
  const levels = topic.slice(deviceEnd + 1).split('/');
  let metric = '';
  for (const level of levels) {
    if (level === '') continue;
    metric = metric === '' ? level : `${metric}.${level}`;
  }
  return metric === '' ? 'value' : metric;
}

export function showMs(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms`;
}

/**
 * For format auto: whether the text is meant as JSON. An object, an array or a quoted string;
 * bare numbers and words are read as text (the same readings, and `ON` is not JSON at all).
 * Broken JSON that starts like JSON is dead-lettered as invalid_json: it is a fault to see.
 */
export function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // BOM and JSON whitespace
    if (c === 0xfeff || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b /* { */ || c === 0x5b /* [ */ || c === 0x22 /* " */;
  }
  return false;
}

/** Bytes as a string of the same length (one char per byte): a cheap, exact identity for binary payloads. */
export function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** JSON.parse that answers undefined instead of throwing (documents need not be JSON). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined;
  }
}
