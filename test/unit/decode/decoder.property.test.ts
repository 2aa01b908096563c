/** For any topic and any bytes, the decoder returns a well-formed result and never throws. */
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import { PRESET_NAMES, presetRules } from '../../../src/decode/presets/index.js';
import { DEAD_LETTER_REASONS, type DecodeResult, type FormatRule } from '../../../src/decode/types.js';
import { bytes, RECEIVED, settings } from './settings.js';

const reasons = new Set<string>(DEAD_LETTER_REASONS);

function assertWellFormed(r: DecodeResult): void {
  if (!r.ok) {
    expect(reasons.has(r.reason)).toBe(true);
    expect(typeof r.detail).toBe('string');
    expect(r.detail.length).toBeLessThanOrEqual(200);
    // The decoder's last-resort catch would hide a throw as a rejection: make it visible.
    expect(r.detail).not.toMatch(/^decoder error:/);
    return;
  }
  expect(Number.isFinite(r.ts)).toBe(true);
  expect(typeof r.tsFromPayload).toBe('boolean');
  expect(r.device === null || (typeof r.device === 'string' && r.device !== '')).toBe(true);
  expect(r.text === null || typeof r.text === 'string').toBe(true);
  expect(r.identity === null || typeof r.identity === 'string').toBe(true);
  expect(Array.isArray(r.readings)).toBe(true);
  for (const reading of r.readings) {
    expect(typeof reading.metric).toBe('string');
    expect(Number.isFinite(reading.value)).toBe(true);
    if (reading.ts !== undefined) expect(Number.isFinite(reading.ts)).toBe(true);
  }
}

const rules: FormatRule[] = [
  { filter: 'raw/#', format: 'raw', tsField: 'ts', tsUnit: 'auto' },
  { filter: 'iso/#', format: 'json', tsField: 'time', tsUnit: 'iso', idField: 'id' },
  { filter: 'ms/+/#', format: 'json', tsField: 'meta.t', tsUnit: 'ms', idField: 'meta.id' },
  { filter: 'lp/#', format: 'line-protocol', tsField: 'ts', tsUnit: 'auto', precision: 'ms' },
  { filter: 'cbor/#', format: 'cbor', tsField: 'ts', tsUnit: 'auto', idField: 'id' },
  { filter: 'mp/#', format: 'msgpack', tsField: 'ts', tsUnit: 'auto' },
  { filter: 'spBv1.0/#', format: 'sparkplug', tsField: 'ts', tsUnit: 'auto' },
  { filter: 'doc/#', format: 'document', tsField: 'ts', tsUnit: 'auto' },
  { filter: 'txt/#', format: 'text', tsField: 'ts', tsUnit: 'auto' },
  {
    filter: 'z/#',
    format: 'auto',
    tsField: 'ts',
    tsUnit: 'auto',
    template: 'z/{device#}/x',
    metric: '{device}',
  },
  ...presetRules(PRESET_NAMES),
];

const decoders = (['clamp', 'keep', 'dead-letter'] as const).map((outOfRange) =>
  createDecoder(
    settings({
      formats: rules,
      outOfRange,
      maxPayloadBytes: 4096,
      maxJsonDepth: 8,
      maxReadingsPerMessage: 20,
    }),
  ),
);

const topic = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc
    .constantFrom(
      'raw/',
      'iso/',
      'ms/x/',
      'a/',
      '$SYS/',
      '',
      'lp/',
      'cbor/',
      'mp/',
      'spBv1.0/G/NDATA/',
      'spBv1.0/',
      'doc/',
      'txt/',
      'z/',
      'zigbee2mqtt/',
      'owntracks/u/',
      'homeassistant/sensor/',
      'tele/',
      'shellies/',
    )
    .chain((p) => fc.string({ maxLength: 30 }).map((s) => p + s)),
);

/** JSON-ish text gets much further into the decoder than random bytes do. */
const jsonish = fc
  .oneof(
    fc.jsonValue({ maxDepth: 10 }),
    fc.record(
      {
        ts: fc.oneof(
          fc.double(),
          fc.integer(),
          fc.string(),
          fc.constant(null),
          fc.boolean(),
          fc.jsonValue({ maxDepth: 2 }),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        time: fc.oneof(
          fc.string(),
          fc.jsonValue({ maxDepth: 2 }),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        id: fc.oneof(fc.string(), fc.double(), fc.boolean()),
        meta: fc.record({ t: fc.double(), id: fc.integer() }, { requiredKeys: [] }),
        v: fc.jsonValue({ maxDepth: 3 }),
      },
      { requiredKeys: [] },
    ),
  )
  .map((v) => JSON.stringify(v) ?? 'null')
  .chain((s) => fc.constantFrom(s, s.replace(/\d{3}/, '1e400'), s.slice(0, Math.floor(s.length / 2))))
  .map(bytes);

/** Line protocol-ish text: the characters that matter to its grammar. */
const lineish = fc
  .string({
    maxLength: 200,
    unit: fc.constantFrom('m', ',', '=', ' ', '"', '\\', '\n', '1', 'i', 'u', 't', '.', '-', '#', '9'),
  })
  .map(bytes);

/** JSON values as CBOR and MessagePack (the binary formats read them as documents). */
const cborEncoder = new Encoder({ useRecords: false });
const binaryDocs = fc
  .tuple(fc.jsonValue({ maxDepth: 10 }), fc.boolean())
  .map(([v, asCbor]) => new Uint8Array(asCbor ? cborEncoder.encode(v) : pack(v)));

const payload = fc.oneof(fc.uint8Array({ maxLength: 5000 }), jsonish, lineish, binaryDocs);

const receivedAt = fc.oneof(fc.constant(RECEIVED), fc.integer({ min: 0, max: 8.64e15 }));

describe('decoder property', () => {
  it('never throws and always returns a well-formed result', () => {
    fc.assert(
      fc.property(topic, payload, receivedAt, fc.nat(2), (t, p, at, which) => {
        assertWellFormed(decoders[which]!(t, p, at));
      }),
      { numRuns: 3000 },
    );
  });
});
