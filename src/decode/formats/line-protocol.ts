/**
 * InfluxDB line protocol → readings. Written here rather than taken from npm: the format is small
 * and fully specified (InfluxDB "Line protocol" reference, v2), and no maintained npm parser exists
 * (the client libraries only serialize; the parsers found are unmaintained or Go/Rust).
 *
 *   weather,location=us-midwest,host=pi4 temperature=82,rain=0i,ok=t,note="dry" 1465839830100400200
 *
 * - Several lines per payload, `\n` or `\r\n`; blank lines and `#` comments are skipped.
 * - Escapes: `\,` and `\ ` in the measurement; `\,` `\=` `\ ` in tag keys, tag values and field
 *   keys; `\"` and `\\` in quoted string fields. Any other backslash is literal (as InfluxDB does).
 * - Field values: floats (`1`, `-1.5e3`), integers `1i` (int64), unsigned `1u` (uint64), booleans
 *   (`t T true True TRUE f F false False FALSE`) and quoted strings. Numbers and booleans (1/0) are
 *   readings; strings are not (a reading is a number; the payload itself is stored with the message).
 *   Integers beyond ±2^53 become the nearest double, since readings are SQLite REALs; integers
 *   outside int64/uint64 are rejected, as InfluxDB rejects them.
 * - Timestamps: an integer in the configured precision (ns by default), parsed as a BigInt so a
 *   19-digit nanosecond value is not rounded by a double before it is reduced to whole ms (floor).
 * - Names: a reading is `<measurement>.<field>`; tags other than the device tag become path
 *   segments `<key>=<value>` in key order between them (`cpu.cpu=cpu0.usage_idle`), so series that
 *   differ only by a tag stay apart. The device tag (`host` by default) names the device when every
 *   line that has it agrees; when lines disagree it stays in the names and the topic decides.
 * - The same metric twice at the same time: the last wins, as it does in InfluxDB.
 * - A malformed line rejects the whole payload (nothing half-stored), naming the line.
 */
import { type FormatReading, type FormatResult, rejected } from './format-types.js';
import { clip, type Line, LineError, Scanner, TimestampError } from './line-protocol-scanner.js';

export type LineProtocolPrecision = 'ns' | 'us' | 'ms' | 's';

export interface LineProtocolOptions {
  precision: LineProtocolPrecision;
  /** Tag whose value names the device. */
  deviceTag: string;
  maxReadings: number;
}

/** ±8.64e15 ms is the range of a JS Date (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8_640_000_000_000_000n;
/** Timestamp digits below the ms per precision; seconds scale up instead (no fast path). */
const DROP_DIGITS: Record<LineProtocolPrecision, number | undefined> = { ns: 6, us: 3, ms: 0, s: undefined };

/** Builds the parser for these options; the returned function never throws. */
export function createLineProtocolParser(opts: LineProtocolOptions): (text: string) => FormatResult {
  if (opts.deviceTag === '') throw new RangeError('line protocol: deviceTag must not be empty');
  const toMs = msConverter(opts.precision);
  const dropDigits = DROP_DIGITS[opts.precision];
  return (text) => {
    let lines: Line[];
    try {
      lines = new Scanner(text, toMs, dropDigits).lines();
    } catch (err) {
      if (err instanceof LineError) return rejected('invalid_line_protocol', err.message);
      if (err instanceof TimestampError) return rejected('invalid_timestamp', err.message);
      throw err;
    }
    if (lines.length === 0)
      return rejected('invalid_line_protocol', 'no line with data (only blanks or comments)');
    return toReadings(lines, opts);
  };
}

function msConverter(precision: LineProtocolPrecision): (digits: string) => number {
  const perMs = precision === 'ns' ? 1_000_000n : precision === 'us' ? 1000n : 1n;
  const scale = precision === 's' ? 1000n : 1n;
  const dropDigits = precision === 'ns' ? 6 : precision === 'us' ? 3 : 0;
  return (digits) => {
    // Fast path, exact: a non-negative decimal floored to ms is its leading digits; up to 16 of
    // them are exact in a double (< 2^53) and within the date range check below.
    if (digits.charCodeAt(0) !== 45 /* - */ && precision !== 's') {
      const head = digits.length - dropDigits;
      const ms = head <= 0 ? 0 : Number(dropDigits === 0 ? digits : digits.slice(0, head));
      if (head <= 15) return ms;
    }
    const raw = BigInt(digits);
    let ms = (raw * scale) / perMs;
    // BigInt division truncates toward zero; a time before 1970 with a sub-ms part floors one lower.
    if (raw < 0n && ms * perMs !== raw * scale) ms -= 1n;
    if (ms > MAX_DATE_MS || ms < -MAX_DATE_MS) {
      throw new TimestampError(`timestamp ${clip(digits)} (${precision}) is outside the range of a date`);
    }
    return Number(ms);
  };
}

function toReadings(lines: Line[], opts: LineProtocolOptions): FormatResult {
  const { deviceTag, maxReadings } = opts;
  // The device: the tag's value when every line carrying it agrees.
  let device: string | null = null;
  let agreed = true;
  for (const line of lines) {
    const { tags } = line;
    for (let t = 0; t < tags.length; t++) {
      if (tags[t]![0] !== deviceTag) continue;
      const v = tags[t]![1];
      if (device === null) device = v;
      else if (device !== v) agreed = false;
    }
  }
  if (!agreed || device === '') device = null;
  const dropTag = device === null ? undefined : deviceTag;

  let ts: number | undefined;
  for (let i = 0; i < lines.length && ts === undefined; i++) ts = lines[i]!.ts;
  const readings: FormatReading[] = [];
  let capped = false;
  for (const line of lines) {
    const prefix = metricPrefix(line, dropTag);
    // A reading at the message's own time carries none: the decoder then has nothing to settle.
    const own = line.ts === ts ? undefined : line.ts;
    const { keys, values } = line;
    for (let f = 0; f < keys.length; f++) {
      const value = values[f]!;
      if (value === null) continue;
      if (readings.length >= maxReadings) {
        capped = true;
        continue;
      }
      const metric = `${prefix}.${keys[f]!}`;
      readings.push(own === undefined ? { metric, value } : { metric, value, ts: own });
    }
  }
  // One line with distinct field keys (the common case) cannot repeat a metric: skip the check.
  const unique = lines.length === 1 && distinctKeys(lines[0]!.keys);
  return { ok: true, readings: unique ? readings : lastWins(readings), device, capped, ts };
}

/** Whether no field key repeats (pairwise: a line has a handful of fields). */
function distinctKeys(keys: string[]): boolean {
  if (keys.length > 16) return false;
  for (let i = 1; i < keys.length; i++) {
    for (let j = 0; j < i; j++) if (keys[i] === keys[j]) return false;
  }
  return true;
}

/** The same metric at the same time twice: keep the last value, in the first one's place. */
function lastWins(readings: FormatReading[]): FormatReading[] {
  const at = new Map<string, number>();
  const out: FormatReading[] = [];
  for (const r of readings) {
    const key = r.ts === undefined ? r.metric : `${r.metric}\u0000${r.ts}`;
    const i = at.get(key);
    if (i === undefined) {
      at.set(key, out.length);
      out.push(r);
    } else {
      out[i]!.value = r.value;
    }
  }
  return out;
}

function metricPrefix(line: Line, dropTag: string | undefined): string {
  const { tags } = line;
  if (tags.length === 0 || (tags.length === 1 && tags[0]![0] === dropTag)) return line.measurement;
  const kept = tags.filter(([k]) => k !== dropTag);
  // Writers should send tags sorted (the reference says so); sort only when one did not.
  for (let i = 1; i < kept.length; i++) {
    if (kept[i - 1]![0] > kept[i]![0]) {
      kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      break;
    }
  }
  let prefix = line.measurement;
  for (const [k, v] of kept) prefix = `${prefix}.${k}=${v}`;
  return prefix;
}
