/**
 * Payload timestamps → ms since epoch. Invalid input gives NaN rather than throwing or
 * allocating a result object: this runs once per message.
 */
import { wallClockToMs } from './time-zone.js';
import type { FormatRule } from './types.js';

export type TsUnit = FormatRule['tsUnit'];

/**
 * Below this a number in 'auto' is seconds, at or above it milliseconds: 1e11 s is the year
 * 5138, 1e11 ms is March 1973, so neither real unit is mistaken for the other after 1973.
 */
export const AUTO_SECONDS_BELOW = 1e11;

/** A plain decimal number as text, for 's'/'ms' units: no hex, exponents-only or empty strings. */
const NUMERIC_TEXT = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
/**
 * An ISO-8601 calendar date first. Date.parse alone accepts far too much in V8:
 * Date.parse('1') is 2001-01-01 and Date.parse('hello 5') is a date in 2001.
 * Strings without an offset are read in the server's time zone (ECMAScript Date.parse rules).
 */
const ISO_START = /^[+-]?\d{4,6}-\d{2}-\d{2}/;
/** Longest ISO-8601 form worth parsing ("+275760-09-13T00:00:00.000000000+00:00" is 39). */
const MAX_ISO_CHARS = 64;

function fromNumber(n: number, unit: TsUnit): number {
  if (!Number.isFinite(n)) return Number.NaN;
  let ms: number;
  if (unit === 's') ms = n * 1000;
  else if (unit === 'ms') ms = n;
  else if (unit === 'auto') ms = n < AUTO_SECONDS_BELOW ? n * 1000 : n;
  else return Number.NaN; // 'iso' promises a string
  // Rows hold whole milliseconds; n * 1000 of a huge finite number can overflow to Infinity.
  ms = Math.round(ms);
  return Number.isFinite(ms) ? ms : Number.NaN;
}

/**
 * ms since epoch, or NaN when `value` is not a timestamp in `unit`. Never throws. An ISO string
 * without an offset is wall-clock time in `zone` ('local', the default: the host's zone).
 */
export function timestampMs(value: unknown, unit: TsUnit, zone = 'local'): number {
  if (typeof value === 'number') return fromNumber(value, unit);
  if (typeof value !== 'string') return Number.NaN;
  if (unit === 's' || unit === 'ms') {
    return NUMERIC_TEXT.test(value) ? fromNumber(Number(value), unit) : Number.NaN;
  }
  if (value.length > MAX_ISO_CHARS || !ISO_START.test(value)) return Number.NaN;
  if (zone !== 'local') {
    const wall = wallClockToMs(value, zone);
    if (wall !== undefined) return wall;
  }
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : Number.NaN;
}

/** What was wrong, for a dead letter's detail. Only called on the failure path. */
export function describeBadTimestamp(field: string, value: unknown, unit: TsUnit): string {
  const expected =
    unit === 's'
      ? 'seconds since epoch'
      : unit === 'ms'
        ? 'milliseconds since epoch'
        : unit === 'iso'
          ? 'an ISO-8601 string'
          : 'epoch seconds/milliseconds or an ISO-8601 string';
  return `${field}: expected ${expected}, got ${show(value)}`;
}

function show(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
