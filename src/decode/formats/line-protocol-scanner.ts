/**
 * The line protocol's syntax (line-protocol.ts has the rules): one pass over the text into lines of
 * measurement, tags, fields and timestamp, with escapes, number forms and their ranges checked.
 * What those lines mean as readings is line-protocol.ts's part.
 */
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;
const UINT64_MAX = 18_446_744_073_709_551_615n;
/** Up to 15 digits a decimal integer is exact in a double: no BigInt needed for range checks. */
const SAFE_DIGITS = 15;

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

export interface Line {
  measurement: string;
  /** [key, value] pairs in the order written. */
  tags: [string, string][];
  /** Field keys and values side by side (no pair per field); a value is null for a string field. */
  keys: string[];
  values: (number | null)[];
  /** ms, or undefined without a timestamp. */
  ts: number | undefined;
}

export class LineError extends Error {}
export class TimestampError extends Error {}

/** One pass over the text; throws LineError naming the line on the first malformed one. */
export class Scanner {
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

export function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
