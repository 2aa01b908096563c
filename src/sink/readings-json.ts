/**
 * A message's readings as the flat JSON object stored in `messages.readings` (schema 2). Pure.
 */
import type { Reading } from './types.js';

/** A reading SQLite could not store faithfully: the message is dead-lettered as insert_failed. */
export class InvalidReadingError extends Error {
  readonly code = 'MQLITE_READING_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReadingError';
  }
}

/** Beyond this many readings a Set is cheaper than comparing every pair for duplicates. */
const PAIRWISE_MAX = 16;

/**
 * `"metric":` per metric name, so that a message's JSON does not quote (JSON.stringify) and join
 * each of its names again: the writer thread saw ~200 B of garbage per message from that alone.
 * Names repeat (a fleet has few), yet come from payloads: bounded, emptied when full.
 */
const KEY_CACHE_MAX = 4096;
/** `"metric":`, for a message's first reading. */
const keys = new Map<string, string>();
/** `,"metric":`, for the others. */
const nextKeys = new Map<string, string>();

function cachedKey(cache: Map<string, string>, before: string, metric: string): string {
  let k = cache.get(metric);
  if (k === undefined) {
    if (cache.size >= KEY_CACHE_MAX) cache.clear();
    k = `${before}${JSON.stringify(metric)}:`;
    cache.set(metric, k);
  }
  return k;
}

/** Reused by every call (the writer thread is single-threaded and readingsJson is not re-entrant). */
const pieces: string[] = [];

/**
 * `{"temp":21.5,"hum":40}`, or null when there are none. Throws InvalidReadingError on a non-finite
 * value (JSON has no NaN/Infinity) or a metric named twice (json_each would expand both, where schema 1
 * refused the second by primary key).
 */
export function readingsJson(readings: readonly Reading[]): string | null {
  const n = readings.length;
  if (n === 0) return null;
  // Pieces joined once: `+=` would build a rope of ~3 strings per reading that binding the INSERT
  // then flattens (~300 B of the writer thread's garbage per message); join writes one flat string.
  const parts = pieces;
  // Set, never emptied: length 0 would drop the backing store, reallocated by the next call.
  parts.length = 2 * n + 2;
  parts[0] = '{';
  for (let i = 0; i < n; i++) {
    const r = readings[i] as Reading;
    if (!Number.isFinite(r.value)) {
      throw new InvalidReadingError(`reading ${r.metric} is not a finite number: ${r.value}`);
    }
    // `,"name":` after the first. Number → JSON: String() prints what JSON.stringify would
    // (shortest round-trip form, "1e+21").
    parts[2 * i + 1] = i === 0 ? cachedKey(keys, '', r.metric) : cachedKey(nextKeys, ',', r.metric);
    parts[2 * i + 2] = String(r.value);
  }
  parts[2 * n + 1] = '}';
  const json = parts.join('');
  if (n > 1) assertUniqueMetrics(readings);
  return json;
}

function assertUniqueMetrics(readings: readonly Reading[]): void {
  const n = readings.length;
  if (n <= PAIRWISE_MAX) {
    for (let i = 1; i < n; i++) {
      const m = (readings[i] as Reading).metric;
      for (let j = 0; j < i; j++) if ((readings[j] as Reading).metric === m) throw duplicate(m);
    }
    return;
  }
  const seen = new Set<string>();
  for (const r of readings) {
    if (seen.has(r.metric)) throw duplicate(r.metric);
    seen.add(r.metric);
  }
}

function duplicate(metric: string): InvalidReadingError {
  return new InvalidReadingError(`metric ${metric} appears twice in one message`);
}
