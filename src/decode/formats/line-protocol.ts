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

export type LineProtocolPrecision = 'ns' | 'us' | 'ms' | 's';

export interface LineProtocolOptions {
  precision: LineProtocolPrecision;
  /** Tag whose value names the device. */
  deviceTag: string;
  maxReadings: number;
}

/** ±8.64e15 ms is the range of a JS Date (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8_640_000_000_000_000n;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;
const UINT64_MAX = 18_446_744_073_709_551_615n;
/** Up to 15 digits a decimal integer is exact in a double: no BigInt needed for range checks. */
const SAFE_DIGITS = 15;

/** Timestamp digits below the ms per precision; seconds scale up instead (no fast path). */
const DROP_DIGITS: Record<LineProtocolPrecision, number | undefined> = { ns: 6, us: 3, ms: 0, s: undefined };

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;
const HASH = 35;

const BOOLEANS: ReadonlyMap<string, number> = new Map([
  ['t', 1],
  ['T', 1],
  ['true', 1],
  ['True', 1],
  ['TRUE', 1],
  ['f', 0],
  ['F', 0],
  ['false', 0],
  ['False', 0],
  ['FALSE', 0],
]);

interface Line {
  measurement: string;
  /** [key, value] pairs in the order written. */
  tags: [string, string][];
  /** Field keys and values side by side (no pair per field); a value is null for a string field. */
  keys: string[];
  values: (number | null)[];
  /** ms, or undefined without a timestamp. */
  ts: number | undefined;
}

class LineError extends Error {}
class TimestampError extends Error {}

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

/** One pass over the text; throws LineError naming the line on the first malformed one. */
class Scanner {
  private i = 0;
  private lineNo = 0;

  constructor(
    private readonly s: string,
    private readonly toMs: (digits: string) => number,
    /** Digits below the ms in this precision (ns 6, us 3, ms 0); undefined (s): no fast path. */
    private readonly dropDigits: number | undefined,
  ) {}

  lines(): Line[] {
    const out: Line[] = [];
    const { s } = this;
    while (this.i < s.length) {
      this.lineNo++;
      this.skipBlanks();
      const c = s.charCodeAt(this.i);
      if (this.i >= s.length) break;
      if (c === LF || c === CR) {
        this.endOfLine();
        continue;
      }
      if (c === HASH) {
        const nl = s.indexOf('\n', this.i);
        this.i = nl < 0 ? s.length : nl + 1;
        continue;
      }
      out.push(this.line());
    }
    return out;
  }

  private fail(what: string): never {
    throw new LineError(`line ${this.lineNo}: ${what}`);
  }

  private line(): Line {
    const measurement = this.name(false, 'measurement');
    const tags: [string, string][] = [];
    while (this.s.charCodeAt(this.i) === COMMA) {
      this.i++;
      const key = this.name(true, 'tag key');
      if (this.s.charCodeAt(this.i) !== EQUALS) this.fail(`tag key "${key}" has no "=value"`);
      this.i++;
      tags.push([key, this.name(true, `value of tag "${key}"`)]);
    }
    if (this.s.charCodeAt(this.i) !== SPACE) this.fail(`"${measurement}" has no fields`);
    this.skipBlanks();
    const keys: string[] = [];
    const values: (number | null)[] = [];
    for (;;) {
      const key = this.name(true, 'field key');
      if (this.s.charCodeAt(this.i) !== EQUALS) this.fail(`field "${key}" has no "=value"`);
      this.i++;
      keys.push(key);
      values.push(this.fieldValue(key));
      if (this.s.charCodeAt(this.i) !== COMMA) break;
      this.i++;
    }
    let ts: number | undefined;
    this.skipBlanks();
    if (!this.atEndOfLine()) {
      const { s } = this;
      const start = this.i;
      let i = start;
      let plain = true; // digits only, no sign
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === LF || c === CR || c === SPACE || c === TAB) break;
        if (c < 48 || c > 57) plain = false;
      }
      this.i = i;
      // Fast path, exact: floored to ms, a non-negative timestamp is its leading digits, read here
      // without a substring; what this does not cover goes through toMs (msConverter).
      const head = i - start - (this.dropDigits ?? 0);
      if (plain && i > start && this.dropDigits !== undefined && head <= SAFE_DIGITS) {
        let ms = 0;
        for (let k = start; k < start + head; k++) ms = ms * 10 + (s.charCodeAt(k) - 48);
        ts = ms;
      } else {
        const digits = s.slice(start, i);
        if (!digitsOnly(digits, true)) this.fail(`timestamp "${clip(digits)}" is not an integer`);
        ts = this.toMs(digits);
      }
      this.skipBlanks();
      if (!this.atEndOfLine()) this.fail('unexpected text after the timestamp');
    }
    this.endOfLine();
    return { measurement, tags, keys, values, ts };
  }

  /** A measurement (`inTag` false: `=` is ordinary) or a tag key/value or field key, unescaped. */
  private name(inTag: boolean, what: string): string {
    const { s } = this;
    const start = this.i;
    const n = s.length;
    let i = start; // a local index: this loop runs once per character
    let escaped = false;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === LF || c === CR || c === SPACE || c === COMMA || (c === EQUALS && inTag)) break;
      // A backslash takes the next character with it (so `\\,` ends the name at the comma), but
      // never a line end: escapes do not continue a line.
      if (c === BACKSLASH && i + 1 < n) {
        const next = s.charCodeAt(i + 1);
        if (next !== LF && next !== CR) {
          escaped = true;
          i++;
        }
      }
    }
    this.i = i;
    const raw = s.slice(start, i);
    if (raw === '') this.fail(`empty ${what}`);
    return escaped ? unescapeName(raw, inTag) : raw;
  }

  private fieldValue(key: string): number | null {
    const fast = this.plainNumber();
    if (fast !== undefined) return fast;
    return this.anyFieldValue(key);
  }

  /**
   * The common field values read in one pass without a substring: `-12`, `21.5`, `.5`, `3i`, `7u`
   * with at most 15 digits. Such a mantissa and 10^(≤ 15) are exact doubles, so one division is the
   * correctly rounded value Number() would give (the classic fast path of decimal conversion).
   * Anything else (exponents, more digits, `+`, booleans, strings, errors): undefined, position kept.
   */
  private plainNumber(): number | undefined {
    const { s } = this;
    let i = this.i;
    let c = s.charCodeAt(i);
    const negative = c === 45;
    if (negative) c = s.charCodeAt(++i);
    let m = 0;
    let digits = 0;
    let frac = 0;
    while (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      c = s.charCodeAt(++i);
    }
    const dot = c === 46;
    if (dot) {
      c = s.charCodeAt(++i);
      while (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        digits++;
        frac++;
        c = s.charCodeAt(++i);
      }
    }
    if (digits === 0 || digits > SAFE_DIGITS) return undefined;
    if (endsValue(c)) {
      this.i = i;
      const v = frac === 0 ? m : m / POW10[frac]!;
      return negative ? -v : v;
    }
    if (dot || !endsValue(s.charCodeAt(i + 1))) return undefined;
    if (c === 105 /* i */ || (c === 117 /* u */ && !negative)) {
      this.i = i + 1;
      return negative ? -m : m;
    }
    return undefined;
  }

  private anyFieldValue(key: string): number | null {
    const { s } = this;
    if (s.charCodeAt(this.i) === QUOTE) {
      // A string field: skip to the closing quote; `\"` and `\\` are its only escapes.
      for (this.i++; this.i < s.length; this.i++) {
        const c = s.charCodeAt(this.i);
        if (c === BACKSLASH) this.i++;
        else if (c === QUOTE) {
          this.i++;
          return null;
        }
      }
      this.fail(`string field "${key}" has no closing quote`);
    }
    const start = this.i;
    const n = s.length;
    let i = start;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === LF || c === CR || c === SPACE || c === COMMA) break;
    }
    this.i = i;
    const token = s.slice(start, i);
    const last = token.charCodeAt(token.length - 1);
    if (last === 105 /* i */ || last === 117 /* u */) {
      const body = token.slice(0, -1);
      const unsigned = last === 117;
      if (!digitsOnly(body, !unsigned)) this.fail(badValue(key, token));
      const digits = body.length - (body.charCodeAt(0) === 45 || body.charCodeAt(0) === 43 ? 1 : 0);
      if (digits > SAFE_DIGITS) {
        const big = BigInt(body);
        if (unsigned ? big > UINT64_MAX : big > INT64_MAX || big < INT64_MIN) {
          this.fail(`field "${key}": ${clip(token)} is outside the ${unsigned ? 'uint64' : 'int64'} range`);
        }
      }
      return Number(body);
    }
    // Numbers start with a digit, a sign or a dot; only other tokens can be booleans.
    const first = token.charCodeAt(0);
    const numeric = (first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46;
    if (!numeric) {
      const bool = BOOLEANS.get(token);
      if (bool !== undefined) return bool;
      this.fail(badValue(key, token));
    }
    if (!isFloat(token)) this.fail(badValue(key, token));
    const value = Number(token);
    if (!Number.isFinite(value)) this.fail(`field "${key}": ${clip(token)} is beyond the range of a double`);
    return value;
  }

  private skipBlanks(): void {
    while (this.atBlank()) this.i++;
  }

  private atBlank(): boolean {
    const c = this.s.charCodeAt(this.i);
    return c === SPACE || c === TAB;
  }

  private atEndOfLine(): boolean {
    const c = this.s.charCodeAt(this.i);
    return Number.isNaN(c) || c === LF || c === CR;
  }

  private endOfLine(): void {
    if (this.s.charCodeAt(this.i) === CR) this.i++;
    if (this.i >= this.s.length) return;
    if (this.s.charCodeAt(this.i) !== LF) this.fail('a carriage return not followed by a newline');
    this.i++;
  }
}

/** Powers of ten exact as doubles, for plainNumber's fraction digits. */
const POW10 = Array.from({ length: SAFE_DIGITS + 1 }, (_, k) => 10 ** k);

/** What ends a field value: a line end, a space, a comma, or the end of the text (NaN). */
function endsValue(c: number): boolean {
  return c === LF || c === CR || c === SPACE || c === COMMA || Number.isNaN(c);
}

/** Remove the backslash before an escapable character; other backslashes are literal. */
function unescapeName(raw: string, inTag: boolean): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < raw.length) {
      const next = raw.charCodeAt(i + 1);
      if (next === COMMA || next === SPACE || (inTag && next === EQUALS)) {
        out += raw[i + 1];
        i++;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}

/** `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?` without a regex: this runs for every float field. */
function isFloat(s: string): boolean {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 45 || c === 43) c = s.charCodeAt(++i);
  let digits = 0;
  while (c >= 48 && c <= 57) {
    digits++;
    c = s.charCodeAt(++i);
  }
  if (c === 46) {
    c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57) {
      digits++;
      c = s.charCodeAt(++i);
    }
  }
  if (digits === 0) return false;
  if (c === 101 || c === 69) {
    c = s.charCodeAt(++i);
    if (c === 45 || c === 43) c = s.charCodeAt(++i);
    let exp = 0;
    while (c >= 48 && c <= 57) {
      exp++;
      c = s.charCodeAt(++i);
    }
    if (exp === 0) return false;
  }
  return i === n;
}

/** `[+-]?\d+` (sign only when `signed`), without a regex: this runs for every integer field. */
function digitsOnly(s: string, signed: boolean): boolean {
  let i = 0;
  const c0 = s.charCodeAt(0);
  if (signed && (c0 === 45 || c0 === 43)) i = 1;
  if (i >= s.length) return false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function badValue(key: string, token: string): string {
  return `field "${key}": ${token === '' ? 'no value' : `"${clip(token)}"`} is not a float, an integer (1i), an unsigned (1u), a boolean or a quoted string`;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
