/** Any bytes: never throws, a JSON-shaped tree or a known reason. Any JSON value: read back as itself. */
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createCborDecoder } from '../../../../src/decode/formats/cbor.js';
import { createMsgpackDecoder } from '../../../../src/decode/formats/msgpack.js';
import { DEAD_LETTER_REASONS } from '../../../../src/decode/types.js';

const reasons = new Set<string>(DEAD_LETTER_REASONS);
const cbor = createCborDecoder({ maxDepth: 8 });
const msgpack = createMsgpackDecoder({ maxDepth: 8 });
const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true });

/** Only what JSON.parse can produce (plus non-finite numbers), nested at most 8 deep. */
function assertJsonShaped(v: unknown, depth = 0): void {
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return;
  expect(typeof v).toBe('object');
  expect(depth).toBeLessThan(8);
  if (Array.isArray(v)) {
    for (const x of v) assertJsonShaped(x, depth + 1);
    return;
  }
  expect([null, Object.prototype]).toContain(Object.getPrototypeOf(v));
  for (const k of Object.keys(v as object)) assertJsonShaped((v as Record<string, unknown>)[k], depth + 1);
}

describe.each([
  ['cbor', cbor, (v: unknown) => new Uint8Array(cborEncoder.encode(v))],
  ['msgpack', msgpack, (v: unknown) => new Uint8Array(pack(v))],
] as const)('%s property', (_, decode, encode) => {
  it('never throws; returns a JSON-shaped tree or a known reason', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // Valid documents, then corrupted: gets past the first byte far more often than noise.
      fc.tuple(fc.jsonValue({ maxDepth: 10 }), fc.nat(), fc.nat(255)).map(([v, at, b]) => {
        const out = encode(v);
        if (out.length > 0) out[at % out.length] = b;
        return out;
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const r = decode(b);
        if (r.ok) assertJsonShaped(r.value);
        else expect(reasons.has(r.reason)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads any JSON value back as itself', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const r = decode(encode(v));
        if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
        // -0 and 0 are one reading; JSON.stringify does not tell them apart either.
        expect(JSON.stringify(r.value)).toBe(JSON.stringify(v));
      }),
      { numRuns: 1000 },
    );
  });
});
