/**
 * Fast path for flat JSON objects, the most common device payload (`{"temperature":21.5,
 * "humidity":40,"ts":1700000000}`: zigbee2mqtt sensors, OwnTracks, the bench, custom firmware):
 * one scan of the text gives the members, their numbers and, for a compact payload, the readings'
 * JSON column text, without JSON.parse's object, flatten's walk, or the sink rebuilding the
 * readings JSON from pieces (issue #11: ~8k fewer of the SQLite worker's ~52k instructions a
 * message; BENCHMARKS.md "Worker CPU, flat branch").
 *
 * It must give exactly what the general path (JSON.parse + flatten.ts + the sink's readingsJson)
 * gives, so it accepts only what it fully understands and answers `undefined` for everything else,
 * which the decoder then decodes the general way (test/unit/decode/flat-json.property.test.ts
 * compares the two on generated payloads and on the real-device corpus). It gives up on:
 * - anything but one object of scalar members with JSON whitespace around tokens: nesting, arrays,
 *   a BOM (the general path strips it), trailing text, invalid JSON (the general path rejects it
 *   with JSON.parse's own message);
 * - keys starting with a digit: JSON.parse's object lists integer-like keys ("0", "17") first, in
 *   numeric order (ECMA-262 §10.1.11.1 OrdinaryOwnPropertyKeys), not in payload order;
 * - a key twice: JSON.parse keeps the last value at the first key's position (§25.5.1);
 * - a backslash, a control character or a surrogate in any string: escapes need decoding, control
 *   characters are invalid JSON, and JSON.stringify escapes lone surrogates in a metric's name (the
 *   decoder's fatal UTF-8 decoding never makes one; the scanner does not rely on that);
 * - numbers with an exponent or more than 15 digits: below that the value is m / 10^k with
 *   m < 10^15 < 2^53 and 10^k exact, one correctly rounded division, which is exactly the
 *   correctly rounded value JSON.parse gives (Clinger's fast path); anything longer is left to it;
 * - more than MAX_MEMBERS members or more readings than the cap (the general path counts the
 *   readings past the cap).
 * Not re-entrant: one scanner per decoder, which runs in one thread, one message at a time.
 */
import type { Reading } from './types.js';

/** Beyond this many members the general path decodes: rare for a device payload, and it bounds the tables. */
const MAX_MEMBERS = 64;
/** Digits of a number the scanner parses itself: m < 10^15 < 2^53 stays exact (see above). */
const MAX_DIGITS = 15;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
/**
 * A fraction 0.000000d… (6 zeros after the point) is below 1e-6, which Number#toString, and so
 * the readings JSON, prints with an exponent (ECMA-262 §6.1.6.1.20): not the payload's text.
 */
const MAX_FRACTION_ZEROS = 5;

const NUMBER = 1;
/** A number whose text is not what String(value) prints ("21.50", "-0", "0.0000001"). */
const NUMBER_OTHER = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;
const STRING = 6;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN = 0x7b;
const CLOSE = 0x7d;

/**
 * A payload's keys as strings, kept per topic by the decoder: a device sends the same keys in the
 * same order every time, so the next payload's keys are compared with these (no string per key,
 * and the readings share the metric strings, whose hashes the rollups' maps have already computed).
 */
export interface FlatShape {
  readonly keys: readonly string[];
  /** Index of the timestamp key, of the id key; -1 when absent. */
  readonly ts: number;
  readonly id: number;
}

/** What the decoder needs of a flat payload, in the scanner's fields after read() (no object per message). */
export class FlatJsonScanner {
  private readonly keyStart = new Int32Array(MAX_MEMBERS);
  private readonly keyEnd = new Int32Array(MAX_MEMBERS);
  private readonly valueStart = new Int32Array(MAX_MEMBERS);
  private readonly valueEnd = new Int32Array(MAX_MEMBERS);
  private readonly kind = new Uint8Array(MAX_MEMBERS);
  private readonly number = new Float64Array(MAX_MEMBERS);
  private members = 0;
  /** Whitespace somewhere between tokens: the members are then not the readings JSON's text. */
  private spaced = false;
  /** One list reused for every message; each message gets a copy of its exact size. */
  private readonly scratch: Reading[] = [];

  /** After read(): the readings, in the general path's order. */
  readings: Reading[] = [];
  /** After read(): exactly readingsJson(readings) (sink/readings-json.ts) when the text had it, else undefined. */
  json: string | undefined = undefined;

  constructor(
    private readonly maxReadings: number,
    private readonly stateOf: (s: string) => number | undefined,
  ) {}

  /**
   * Read `text` as a flat object. `shape` is the topic's last shape (or undefined), `tsKey` and
   * `idKey` the rule's timestamp and id keys when they are one segment (a longer path never finds
   * a holder in a flat object: its first segment would hold a scalar). Returns the shape that
   * matched, new or not, or undefined when the general path must decode this payload.
   */
  read(
    text: string,
    shape: FlatShape | undefined,
    tsKey: string | undefined,
    idKey: string | undefined,
  ): FlatShape | undefined {
    if (!this.scan(text)) return undefined;
    let s = shape;
    if (s === undefined || !this.matches(text, s)) {
      s = this.shapeOf(text, tsKey, idKey);
      if (s === undefined) return undefined;
    }
    return this.collect(text, s) ? s : undefined;
  }

  /** The value of member `i` as JSON.parse gives it (the timestamp and id fields). */
  valueAt(text: string, i: number): number | string | boolean | null {
    switch (this.kind[i]) {
      case NUMBER:
      case NUMBER_OTHER:
        return this.number[i]!;
      case TRUE:
        return true;
      case FALSE:
        return false;
      case STRING:
        return text.slice(this.valueStart[i]! + 1, this.valueEnd[i]! - 1);
      default:
        return null;
    }
  }

  /** What the decoder's hasId test makes of member `i`: a finite number or a non-empty string. */
  isId(i: number): boolean {
    const k = this.kind[i];
    // Numbers here are never more than 15 digits: always finite.
    return (
      k === NUMBER || k === NUMBER_OTHER || (k === STRING && this.valueEnd[i]! - this.valueStart[i]! > 2)
    );
  }

  /** Readings and JSON text from the scanned members; false when there are more than the cap. */
  private collect(text: string, s: FlatShape): boolean {
    const out = this.scratch;
    let r = 0;
    // The readings JSON is the payload's own `"key":value` runs when every reading's text is
    // what readingsJson prints: a canonical number, no whitespace (names never need escaping here).
    let verbatim = !this.spaced;
    let json = '{';
    let runStart = -1;
    let last = -2;
    for (let i = 0; i < this.members; i++) {
      if (i === s.ts || i === s.id) continue;
      let value: number;
      const k = this.kind[i];
      if (k === NUMBER) value = this.number[i]!;
      else if (k === NUMBER_OTHER) {
        value = this.number[i]!;
        verbatim = false;
      } else if (k === TRUE || k === FALSE) {
        value = k === TRUE ? 1 : 0;
        verbatim = false;
      } else if (k === STRING) {
        const state = this.stateOf(text.slice(this.valueStart[i]! + 1, this.valueEnd[i]! - 1));
        if (state === undefined) continue; // other strings are not readings
        value = state;
        verbatim = false;
      } else continue; // null
      if (r >= this.maxReadings) return false;
      out[r++] = { metric: s.keys[i]!, value };
      if (verbatim) {
        const start = this.keyStart[i]! - 1;
        if (runStart < 0) runStart = start;
        else if (i !== last + 1) {
          // A skipped member (timestamp, id, null, text) between two readings: end the run there.
          json += `${text.slice(runStart, this.valueEnd[last]!)},`;
          runStart = start;
        }
        last = i;
      }
    }
    this.readings = out.slice(0, r);
    if (!verbatim || r === 0) this.json = undefined;
    else {
      const end = this.valueEnd[last]!;
      // The last reading closes the object: take its '}' too (one concatenation, not two).
      this.json =
        text.charCodeAt(end) === CLOSE
          ? json + text.slice(runStart, end + 1)
          : `${json}${text.slice(runStart, end)}}`;
    }
    return true;
  }

  /** Whether the scanned keys are `s.keys`, in order. */
  private matches(text: string, s: FlatShape): boolean {
    const keys = s.keys;
    if (keys.length !== this.members) return false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const a = this.keyStart[i]!;
      if (this.keyEnd[i]! - a !== key.length || !text.startsWith(key, a)) return false;
    }
    return true;
  }

  /** A new shape from the scanned keys, or undefined when a key appears twice. */
  private shapeOf(text: string, tsKey: string | undefined, idKey: string | undefined): FlatShape | undefined {
    const n = this.members;
    const keys: string[] = new Array(n);
    let ts = -1;
    let id = -1;
    for (let i = 0; i < n; i++) {
      const key = text.slice(this.keyStart[i]!, this.keyEnd[i]!);
      for (let j = 0; j < i; j++) if (keys[j] === key) return undefined;
      keys[i] = key;
      if (key === tsKey) ts = i;
      if (key === idKey) id = i;
    }
    return { keys, ts, id };
  }

  /** Fills the member tables; false on anything the general path must decide. */
  private scan(text: string): boolean {
    const len = text.length;
    let spaced = false;
    let i = 0;
    let c = text.charCodeAt(0);
    while (isSpace(c)) {
      spaced = true;
      c = text.charCodeAt(++i);
    }
    if (c !== OPEN) return false;
    c = text.charCodeAt(++i);
    while (isSpace(c)) {
      spaced = true;
      c = text.charCodeAt(++i);
    }
    let n = 0;
    if (c === CLOSE) i++;
    else {
      for (;;) {
        if (c !== QUOTE || n === MAX_MEMBERS) return false;
        const k0 = ++i;
        c = text.charCodeAt(i);
        if (c >= ZERO && c <= NINE) return false; // maybe an integer-like key: JSON.parse reorders those
        i = stringEnd(text, i);
        if (i < 0) return false;
        this.keyStart[n] = k0;
        this.keyEnd[n] = i;
        c = text.charCodeAt(++i);
        while (isSpace(c)) {
          spaced = true;
          c = text.charCodeAt(++i);
        }
        if (c !== COLON) return false;
        c = text.charCodeAt(++i);
        while (isSpace(c)) {
          spaced = true;
          c = text.charCodeAt(++i);
        }
        this.valueStart[n] = i;
        if (c === QUOTE) {
          const end = stringEnd(text, i + 1);
          if (end < 0) return false;
          this.kind[n] = STRING;
          i = end + 1; // valueEnd is past the closing quote: the member's text ends there
        } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
          i = this.scanNumber(text, i, n);
          if (i < 0) return false;
        } else if (c === 0x74 /* t */ && text.startsWith('true', i)) {
          this.kind[n] = TRUE;
          i += 4;
        } else if (c === 0x66 /* f */ && text.startsWith('false', i)) {
          this.kind[n] = FALSE;
          i += 5;
        } else if (c === 0x6e /* n */ && text.startsWith('null', i)) {
          this.kind[n] = NULL;
          i += 4;
        } else return false; // an object, an array, or not JSON
        this.valueEnd[n] = i;
        n++;
        c = text.charCodeAt(i);
        while (isSpace(c)) {
          spaced = true;
          c = text.charCodeAt(++i);
        }
        if (c === CLOSE) {
          i++;
          break;
        }
        if (c !== COMMA) return false;
        c = text.charCodeAt(++i);
        while (isSpace(c)) {
          spaced = true;
          c = text.charCodeAt(++i);
        }
      }
    }
    // Only whitespace may follow the object.
    for (; i < len; i++) {
      if (!isSpace(text.charCodeAt(i))) return false;
      spaced = true;
    }
    this.members = n;
    this.spaced = spaced;
    return true;
  }

  /**
   * A JSON number at `at` (a '-' or a digit) into member `n`: its end, or -1 when it is not JSON
   * (leading zeros, a bare '-', '1.') or longer than the scanner reads itself (exponent, > 15 digits).
   */
  private scanNumber(text: string, at: number, n: number): number {
    let i = at;
    let c = text.charCodeAt(i);
    const negative = c === MINUS;
    if (negative) c = text.charCodeAt(++i);
    if (c < ZERO || c > NINE) return -1;
    let m = 0;
    let digits = 0;
    const zeroInt = c === ZERO;
    if (zeroInt) {
      c = text.charCodeAt(++i);
      if (c >= ZERO && c <= NINE) return -1; // a leading zero: not JSON
    } else {
      while (c >= ZERO && c <= NINE) {
        m = m * 10 + (c - ZERO);
        digits++;
        c = text.charCodeAt(++i);
      }
    }
    let fraction = 0;
    let canonical = true;
    if (c === DOT) {
      c = text.charCodeAt(++i);
      if (c < ZERO || c > NINE) return -1;
      let zeros = 0;
      while (c >= ZERO && c <= NINE) {
        if (m === 0 && c === ZERO) zeros++;
        m = m * 10 + (c - ZERO);
        digits++;
        fraction++;
        c = text.charCodeAt(++i);
      }
      // "2.50" prints as 2.5; 0.0000001 as 1e-7.
      if (text.charCodeAt(i - 1) === ZERO || (zeroInt && zeros > MAX_FRACTION_ZEROS)) canonical = false;
    }
    if (c === 0x65 /* e */ || c === 0x45 /* E */ || digits > MAX_DIGITS) return -1;
    const magnitude = fraction === 0 ? m : m / POW10[fraction]!;
    // -0 is what JSON.parse gives for "-0"; String(-0) prints "0".
    if (negative && m === 0) canonical = false;
    this.number[n] = negative ? -magnitude : magnitude;
    this.kind[n] = canonical ? NUMBER : NUMBER_OTHER;
    return i;
  }
}

function isSpace(c: number): boolean {
  // JSON's four whitespace characters (RFC 8259 §2); NaN past the end is none of them.
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Index of the closing quote of a string whose text starts at `at`, or -1: at a backslash, a
 * control character (invalid JSON), a surrogate (see the file's comment) or the end of the text.
 */
function stringEnd(text: string, at: number): number {
  const len = text.length;
  for (let i = at; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return -1;
}
