/**
 * Tokens of PromQL (the whole language's lexical shape, so that an unsupported construct is
 * recognised and named rather than reported as a syntax error).
 */
import { QueryError } from './query-error.js';

export type TokenKind = 'ident' | 'number' | 'duration' | 'string' | 'op' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Decoded value of a string literal. */
  readonly value?: string;
  readonly pos: number;
}

const OPS = [
  '=~',
  '!~',
  '!=',
  '==',
  '>=',
  '<=',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '<',
  '>',
  '@',
  ':',
];
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const rest = src.slice(i);
    const dur = DURATION.exec(rest);
    if (dur && !/^[a-zA-Z0-9_]/.test(rest.slice(dur[0].length))) {
      out.push({ kind: 'duration', text: dur[0], pos: i });
      i += dur[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      out.push({ kind: 'number', text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const id = IDENT.exec(rest);
    if (id) {
      out.push({ kind: 'ident', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const { value, end } = readString(src, i);
      out.push({ kind: 'string', text: src.slice(i, end), value, pos: i });
      i = end;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw QueryError.parse(i, `unexpected character ${JSON.stringify(c)}`);
    out.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  out.push({ kind: 'eof', text: '', pos: src.length });
  return out;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};

function readString(src: string, start: number): { value: string; end: number } {
  const quote = src[start] as string;
  let i = start + 1;
  let value = '';
  while (i < src.length) {
    const c = src[i] as string;
    if (c === quote) return { value, end: i + 1 };
    if (c === '\\' && quote !== '`') {
      const n = src[i + 1] ?? '';
      const esc = ESCAPES[n];
      if (esc !== undefined) {
        value += esc;
        i += 2;
        continue;
      }
      const hex = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))/.exec(src.slice(i + 1));
      if (hex) {
        value += String.fromCodePoint(Number.parseInt(hex[1] ?? hex[2] ?? hex[3] ?? '', 16));
        i += 1 + hex[0].length;
        continue;
      }
      throw QueryError.parse(i, `unknown escape sequence \\${n}`);
    }
    if (c === '\n' && quote !== '`') break;
    value += c;
    i++;
  }
  throw QueryError.parse(start, 'unterminated quoted string');
}

/** `1h30m` → ms; undefined when not a PromQL duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+(?:ms|s|m|h|d|w|y))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
  }
  return ms;
}
