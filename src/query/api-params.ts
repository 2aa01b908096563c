/**
 * Parameters of Prometheus's HTTP API (web/api/v1/api.go): times as Unix seconds (fractions
 * allowed) or RFC 3339, durations as seconds or PromQL durations, and its error wording.
 */
import { parseDuration } from './promql-lex.js';
import { QueryError } from './query-error.js';

export type Params = Readonly<Record<string, readonly string[]>>;

/** The first value of a parameter; empty strings count as absent, as in Go's FormValue. */
export function param(p: Params, name: string): string | undefined {
  const v = p[name]?.[0];
  return v === undefined || v === '' ? undefined : v;
}

export function parseTimeParam(p: Params, name: string, fallback: number): number {
  const v = param(p, name);
  if (v === undefined) return fallback;
  const ms = parseTime(v);
  if (ms === undefined)
    throw new QueryError('bad_data', `invalid parameter "${name}": cannot parse "${v}" to a valid timestamp`);
  return ms;
}

export function parseTime(v: string): number | undefined {
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(v)) {
    const ms = Math.round(Number(v) * 1000);
    return Number.isFinite(ms) ? ms : undefined;
  }
  // RFC 3339 only (Date.parse alone would take "March 7" too); clients' "min/max time" sentinels
  // (year 0001 or ±292 million) clamp to what a JavaScript Date can hold.
  if (!/^[+-]?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(v)) return undefined;
  const ms = Date.parse(v);
  if (Number.isFinite(ms)) return ms;
  return v.startsWith('-') ? -8.64e15 : 8.64e15;
}

export function parseDurationParam(p: Params, name: string): number | undefined {
  const v = param(p, name);
  if (v === undefined) return undefined;
  let ms: number | undefined;
  if (/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(v)) ms = Math.round(Number(v) * 1000);
  else ms = parseDuration(v);
  if (ms === undefined || !Number.isFinite(ms))
    throw new QueryError('bad_data', `invalid parameter "${name}": cannot parse "${v}" to a valid duration`);
  return ms;
}

/** Prometheus's JSON sample value: Go's strconv.FormatFloat(v, 'f', -1, 64). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  const s = String(v);
  // Most values print without an exponent: skip the regex for them (72,000 points a query).
  if (!s.includes('e')) return s;
  const e = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!e) return s;
  const [, sign = '', lead = '', frac = '', expText = '0'] = e;
  const digits = lead + frac;
  const exp = Number(expText);
  if (exp >= 0) return sign + digits.padEnd(exp + 1, '0');
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** Prometheus's JSON timestamp: seconds, a number with up to millisecond fractions. */
export function formatTime(ms: number): number {
  return ms / 1000;
}
