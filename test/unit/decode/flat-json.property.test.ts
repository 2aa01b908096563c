/**
 * The flat-JSON fast path (src/decode/flat-json.ts) gives exactly what the general path gives
 * (JSON.parse + flatten + the sink's readingsJson): for generated flat and near-flat payloads
 * (awkward keys and numbers, whitespace, escapes, duplicates, nesting, timestamps and ids of every
 * type) under several rules and the presets, and for the real-device corpus.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import { PRESET_NAMES, presetRules } from '../../../src/decode/presets/index.js';
import type { DecodeResult, DecodeSettings, FormatRule } from '../../../src/decode/types.js';
import { readingsJson } from '../../../src/sink/readings-json.js';
import { allMessages } from '../../fixtures/devices/index.js';
import { bytes, RECEIVED, settings } from './settings.js';

const rules: FormatRule[] = [
  { filter: 'bench/#', format: 'json', tsField: 'ts', tsUnit: 'auto', idField: 'seq' },
  { filter: 'iso/#', format: 'json', tsField: 'time', tsUnit: 'iso', idField: 'id' },
  { filter: 'sec/#', format: 'auto', tsField: 'ts', tsUnit: 's', idField: 'ts' },
  { filter: 'ms/#', format: 'json', tsField: 'ts', tsUnit: 'ms', idField: 'meta.id' },
  { filter: 'deep/#', format: 'json', tsField: 'meta.t', tsUnit: 'auto' },
  { filter: 'named/#', format: 'json', tsField: 'ts', tsUnit: 'auto', metric: '{device}' },
  { filter: 'part/#', format: 'json', tsField: 'ts', tsUnit: 'auto', readingsField: 'p' },
  { filter: 'zone/#', format: 'json', tsField: 'Time', tsUnit: 'iso', tsZone: 'Europe/Berlin' },
  ...presetRules(PRESET_NAMES),
];

/** Pairs of decoders, fast path on and off, over the settings that change what it must do. */
const variants: Partial<DecodeSettings>[] = [
  {},
  { formats: rules },
  { formats: rules, outOfRange: 'keep', maxReadingsPerMessage: 3 },
  { formats: rules, outOfRange: 'dead-letter', timeZone: 'America/New_York' },
  { formats: rules, stateWords: { on: ['An', 'yes'], off: ['Aus', 'no'] }, maxPastMs: 1000, maxFutureMs: 0 },
];
const pairs = variants.map((v) => {
  const s = settings(v);
  return { fast: createDecoder(s), general: createDecoder(s, { flatJson: false }) };
});

let verbatim = 0;
/** The same result, and the readings JSON the fast path hands over is what the sink would build. */
function assertSame(fast: DecodeResult, general: DecodeResult): void {
  if (!fast.ok || fast.readingsJson === undefined) {
    // toStrictEqual tells -0 from 0 and a missing key from an undefined one.
    const { readingsJson: _, ...rest } = fast.ok ? fast : { ...fast, readingsJson: undefined };
    expect(rest).toStrictEqual(general);
    return;
  }
  verbatim++;
  expect(general.ok).toBe(true);
  if (!general.ok) return;
  expect(fast.readingsJson).toBe(readingsJson(general.readings));
  const { readingsJson: _, ...rest } = fast;
  expect(rest).toStrictEqual(general);
}

const space = fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n', '  ', '\u00a0', '\u000b');

/** Number texts, valid JSON or nearly: signs, leading zeros, trailing zeros, exponents, many digits. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc
    .tuple(
      fc.constantFrom('', '', '-', '+'),
      fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,17}$/), fc.stringMatching(/^0[0-9]{1,3}$/)),
      fc.oneof(
        fc.constant(''),
        fc.constant('.'),
        fc.stringMatching(/^\.[0-9]{1,17}$/),
        fc.stringMatching(/^\.0{4,8}[1-9]{1,3}$/),
      ),
      fc.oneof(fc.constant(''), fc.constant(''), fc.constant(''), fc.stringMatching(/^[eE][+-]?[0-9]{1,3}$/)),
    )
    .map(([s, i, f, e]) => s + i + f + e),
  fc.constantFrom(
    '-0',
    '-0.0',
    '0.0',
    '21.50',
    '0.000001',
    '0.0000001',
    '1e400',
    '-',
    '1.',
    '.5',
    '0x10',
    'NaN',
  ),
);

const stringText = fc
  .oneof(
    fc.constantFrom('ON', 'off', ' Online ', 'OPEN', 'hello', '', 'true', '21.5', 'An', 'AUS', 'no'),
    fc.string({ maxLength: 10 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
  )
  .map((s) => JSON.stringify(s));

/** Payload times around RECEIVED in every unit and shape, some out of range. */
const timeText = fc.oneof(
  fc.integer({ min: RECEIVED - 400_000_000, max: RECEIVED + 400_000 }).map(String),
  fc.integer({ min: RECEIVED / 1000 - 400_000, max: RECEIVED / 1000 + 400 }).map(String),
  fc.double({ min: RECEIVED / 1000 - 10, max: RECEIVED / 1000 + 10, noNaN: true }).map(String),
  fc
    .integer({ min: -5000, max: 5000 })
    .map((d) => JSON.stringify(new Date(RECEIVED + d * 1000).toISOString())),
  fc.constantFrom(
    '"2023-11-14T23:13:20"',
    '"2023-11-14T17:13:19"',
    '"1700000000"',
    '"1700000000000"',
    '"soon"',
  ),
  fc.constantFrom('true', 'null', '{}', '[]', '1e12', '1700000000000000000', '-1'),
);

const valueText = fc.oneof(
  { weight: 6, arbitrary: numberText },
  { weight: 2, arbitrary: stringText },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', 'True', 'nul') },
  { weight: 1, arbitrary: fc.constantFrom('{}', '[]', '{"a":1}', '[1,2]', '{"t":1700000000}') },
);

/** Keys: common names, ones JSON.parse treats specially, ones the scanner gives up on. */
const keyText = fc.oneof(
  fc
    .constantFrom(
      'ts',
      'seq',
      'id',
      'time',
      'Time',
      'temperature',
      'humidity',
      'battery',
      'meta',
      'p',
      'state',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      '',
      'a.b',
      'é',
      'température',
      '😀',
      '0',
      '1',
      '17',
      '01',
      '-1',
      '1a',
      '4294967295',
      'x y',
      'ON',
      '\u2028',
      'a"b',
      'a\\b',
      '\u0001',
      '\u007f',
    )
    .map((k) => JSON.stringify(k)),
  fc.string({ maxLength: 6 }).map((k) => JSON.stringify(k)),
  // Escaped spellings of plain keys: the same key to JSON.parse, not to the scanner.
  fc.constantFrom('"\\u0074s"', '"t\\u0065mp"', '"\\/"', '"a\\nb"'),
);

const member = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('"ts"', '"time"', '"Time"', '"seq"', '"id"'), timeText) },
  { weight: 4, arbitrary: fc.tuple(keyText, valueText) },
);

const flatPayload = fc
  .tuple(
    fc.array(fc.tuple(member, space, space, space), { maxLength: 12 }),
    space,
    fc.constantFrom('', '', '', '', '\ufeff', ',', 'x', ']'),
    fc.boolean(),
  )
  .map(([members, outer, odd, oddAtEnd]) => {
    let body = members.map(([[k, v], a, b, c]) => `${a}${k}${b}:${c}${v}`).join(',');
    if (body === '' && members.length > 0) body = ' ';
    const text = `${outer}{${body}${outer}}${outer}`;
    if (odd === '') return text;
    return oddAtEnd ? text.slice(0, -1) + odd : odd + text;
  });

/** Compact device-like payloads, the fast path's own ground: plain keys, numbers, a time and an id. */
const plainKey = fc.oneof(
  fc.constantFrom('temperature', 'humidity', 'battery', 'linkquality', 'rssi', 'voltage', 'state'),
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,10}$/),
);
const plainValue = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -1e6, max: 1e12 }).map(String) },
  { weight: 8, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((d) => JSON.stringify(d)) },
  { weight: 4, arbitrary: fc.integer({ min: -99999, max: 99999 }).map((n) => (n / 100).toFixed(2)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('true', 'false', 'null', '"ON"', '"off"', '"text"', '-0', '-0.0', '1.10'),
  },
  // Around 1e-6, where Number#toString switches to an exponent.
  { weight: 1, arbitrary: fc.stringMatching(/^-?0\.0{4,7}[1-9]{1,4}$/) },
);
const compactPayload = fc
  .tuple(
    fc.array(fc.tuple(plainKey, plainValue), { maxLength: 10 }),
    fc.option(fc.tuple(fc.constantFrom('ts', 'time', 'Time'), timeText), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('seq', 'id'), fc.oneof(fc.nat().map(String), stringText)), {
      nil: undefined,
    }),
    fc.nat(),
    fc.nat(),
  )
  .map(([members, time, id, at1, at2]) => {
    const all = members.map(([k, v]) => `${JSON.stringify(k)}:${v}`);
    if (time !== undefined) all.splice(at1 % (all.length + 1), 0, `"${time[0]}":${time[1]}`);
    if (id !== undefined) all.splice(at2 % (all.length + 1), 0, `"${id[0]}":${id[1]}`);
    return `{${all.join(',')}}`;
  });

/** Flat payloads whose keys repeat across messages, as a device's do (the per-topic shape cache). */
const device = fc.constantFrom(
  'bench/d1/t',
  'bench/d2/t',
  'iso/d/x',
  'sec/d/x',
  'ms/d/x',
  'deep/d/x',
  'named/d/x',
  'part/d/x',
  'zone/d/x',
  'other/d/x',
  'zigbee2mqtt/kitchen/sensor',
  'tele/tasmota/SENSOR',
  'shellies/s1/status',
  'x/status/switch:0',
  'node/sensor/t/state',
  'owntracks/u/phone',
);

describe('flat JSON fast path', () => {
  it('gives exactly what the general path gives, for generated payloads', () => {
    verbatim = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(device, fc.oneof(compactPayload, flatPayload)), { minLength: 1, maxLength: 8 }),
        fc.nat(pairs.length - 1),
        (messages, which) => {
          const { fast, general } = pairs[which]!;
          for (const [topic, text] of messages) {
            const p = bytes(text);
            assertSame(fast(topic, p, RECEIVED), general(topic, p, RECEIVED));
          }
        },
      ),
      { numRuns: 4000 },
    );
    // The property is about the fast path: it must have been taken, with its JSON, often enough.
    expect(verbatim).toBeGreaterThan(500);
  });

  it('keeps shapes per topic: a payload with the keys of another does not inherit its metrics', () => {
    const { fast, general } = pairs[1]!;
    const seq = [
      '{"ts":1700000000000,"seq":1,"a":1,"b":2}',
      '{"ts":1700000000000,"seq":1,"b":1,"a":2}',
      '{"tt":1700000000000,"seq":1,"a":1,"b":2}',
      '{"ts":1700000000000,"sez":1,"a":1,"b":2}',
      '{"ts":1700000000000,"seq":1,"a":1,"a":2}',
      '{"ts":1700000000000,"seq":1,"a":1}',
      '{"ts":1700000000000,"seq":1,"a":1,"b":2}',
    ];
    for (const topic of ['bench/d/t', 'other/d/t'])
      for (const t of seq) assertSame(fast(topic, bytes(t), RECEIVED), general(topic, bytes(t), RECEIVED));
  });

  it('hands over the readings JSON for the common compact payload, and leaves it to the sink otherwise', () => {
    const { fast } = pairs[1]!;
    const json = (t: string) => {
      const r = fast('bench/d/t', bytes(t), RECEIVED);
      return r.ok ? r.readingsJson : r.reason;
    };
    expect(json('{"ts":1700000000000,"seq":7,"temp":21.5,"hum":40,"bat":3.71,"rssi":-67}')).toBe(
      '{"temp":21.5,"hum":40,"bat":3.71,"rssi":-67}',
    );
    expect(json('{"temp":21.5,"ts":1700000000000,"hum":40,"seq":7}')).toBe('{"temp":21.5,"hum":40}');
    expect(json('{"temp":21.50,"ts":1700000000000}')).toBeUndefined();
    expect(json('{"temp": 21.5}')).toBeUndefined();
    expect(json('{"ts":1700000000000}')).toBeUndefined();
  });

  it('gives exactly what the general path gives for the real-device corpus', () => {
    const zone = 'Europe/Berlin';
    const s = settings({ formats: presetRules(PRESET_NAMES), timeZone: zone });
    const fast = createDecoder(s);
    const general = createDecoder(s, { flatJson: false });
    let handed = 0;
    // Twice: the second pass meets each topic's cached shape.
    for (let pass = 0; pass < 2; pass++) {
      for (const m of allMessages({ base: RECEIVED - 3000, zone })) {
        const f = fast(m.topic, bytes(m.payload), RECEIVED);
        assertSame(f, general(m.topic, bytes(m.payload), RECEIVED));
        if (f.ok && f.readingsJson !== undefined) handed++;
      }
    }
    expect(handed).toBeGreaterThan(0);
  });
});
