/** Any text: never throws, well-formed result. Any well-formed lines: read back exactly. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLineProtocolParser } from '../../../../src/decode/formats/line-protocol.js';
import { DEAD_LETTER_REASONS } from '../../../../src/decode/types.js';

const parse = createLineProtocolParser({ precision: 'ns', deviceTag: 'host', maxReadings: 50 });
const reasons = new Set<string>(DEAD_LETTER_REASONS);

const escapeMeasurement = (s: string) => s.replace(/[, ]/g, (c) => `\\${c}`);
const escapeKey = (s: string) => s.replace(/[,= ]/g, (c) => `\\${c}`);

// Names without backslashes or line ends (those have no escape), not starting with '#'.
const name = fc
  .string({
    minLength: 1,
    maxLength: 8,
    unit: fc.constantFrom('a', 'b', 'Z', '_', ',', '=', ' ', '"', 'é', '1'),
  })
  .filter((s) => !s.startsWith('#'));

const line = fc.record({
  measurement: name,
  tags: fc.uniqueArray(fc.tuple(name, name), { maxLength: 3, selector: ([k]) => k }),
  fields: fc.uniqueArray(
    fc.tuple(name, fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer())),
    {
      minLength: 1,
      maxLength: 4,
      selector: ([k]) => k,
    },
  ),
  ts: fc.bigInt({ min: -(10n ** 18n), max: 9_000_000_000_000_000_000n }),
});

describe('line protocol property', () => {
  it('never throws and returns a well-formed result for any text', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({
        maxLength: 300,
        unit: fc.constantFrom('m', ',', '=', ' ', '"', '\\', '\n', '\r', '1', 'i', 'u', 't', '.', '-', '#'),
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parse(t);
        if (!r.ok) {
          expect(reasons.has(r.reason)).toBe(true);
          expect(r.detail.length).toBeGreaterThan(0);
          return;
        }
        expect(r.readings.length).toBeLessThanOrEqual(50);
        for (const x of r.readings) {
          expect(typeof x.metric).toBe('string');
          expect(Number.isFinite(x.value)).toBe(true);
          if (x.ts !== undefined) expect(Number.isSafeInteger(x.ts)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reads back what a correct writer escaped', () => {
    fc.assert(
      fc.property(line, (l) => {
        // The device tag is not among generated names ('host' cannot be spelled from the alphabet).
        const tags = l.tags.map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`).join('');
        const fields = l.fields
          .map(
            ([k, v]) =>
              `${escapeKey(k)}=${Number.isSafeInteger(v) && !Object.is(v, -0) ? `${v}i` : String(v)}`,
          )
          .join(',');
        const r = parse(`${escapeMeasurement(l.measurement)}${tags} ${fields} ${l.ts}`);
        if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
        const sorted = [...l.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const prefix = [l.measurement, ...sorted.map(([k, v]) => `${k}=${v}`)].join('.');
        const ms = Number(l.ts / 1_000_000n - (l.ts < 0n && l.ts % 1_000_000n !== 0n ? 1n : 0n));
        // One line: its time is the message's, so no reading carries a time of its own.
        expect(r.ts).toBe(ms);
        expect(r.readings).toEqual(
          l.fields.map(([k, v]) => ({ metric: `${prefix}.${k}`, value: v === 0 ? 0 : v })),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a decimal field exactly as Number() does, and a timestamp as its exact ms floor', () => {
    // Short decimals take the one-pass path, long ones the substring path: both must agree with Number().
    const digits = (min: number, max: number) =>
      fc.string({ minLength: min, maxLength: max, unit: fc.constantFrom(...'0123456789') });
    const decimal = fc
      .tuple(fc.constantFrom('', '-', '+'), digits(0, 18), fc.constantFrom('', '.'), digits(0, 18))
      .map(([sign, a, dot, b]) => `${sign}${a}${dot}${dot === '' ? '' : b}`)
      .filter((t) => /\d/.test(t));
    fc.assert(
      fc.property(decimal, fc.constantFrom('', 'i', 'u'), digits(1, 19), (token, suffix, ts) => {
        const r = parse(`m v=${token}${suffix} ${ts}`);
        const integer = /^[+-]?\d+$/.test(token);
        // The existing rules: i takes a sign and the int64 range, u no sign and the uint64 range.
        const expectOk =
          suffix === '' ||
          (suffix === 'i' && integer && BigInt(token) >= -(2n ** 63n) && BigInt(token) < 2n ** 63n) ||
          (suffix === 'u' && /^\d+$/.test(token) && BigInt(token) < 2n ** 64n);
        if (!expectOk) {
          expect(r.ok).toBe(false);
          return;
        }
        if (!r.ok) throw new Error(`${token}${suffix}: ${r.reason}: ${r.detail}`);
        expect(r.readings[0]!.value).toBe(Number(token));
        expect(r.ts).toBe(Number(BigInt(ts) / 1_000_000n));
      }),
      { numRuns: 5000 },
    );
  });
});
