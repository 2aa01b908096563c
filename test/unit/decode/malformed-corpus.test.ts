/**
 * What real devices and hostile clients send. Each case names the expected reason or readings;
 * none may throw.
 */
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import type { DeadLetterReason, Reading } from '../../../src/decode/types.js';
import { bytes, RECEIVED, settings } from './settings.js';

// 1 MiB rather than the 256 KiB default, so the 100k-deep payloads (600 KB) reach the depth check.
// format json, explicitly: under the default (auto) text, binary and empty payloads are stored.
const JSON_ONLY = [{ filter: '#', format: 'json', tsField: 'ts', tsUnit: 'auto' } as const];
const decode = createDecoder(settings({ maxPayloadBytes: 1024 * 1024, formats: JSON_ONLY }));
const auto = createDecoder(settings({ maxPayloadBytes: 1024 * 1024 }));
const nested = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

const rejected: Array<[string, DeadLetterReason, Uint8Array]> = [
  ['empty payload', 'empty_payload', new Uint8Array(0)],
  ['5 MB payload', 'payload_too_large', new Uint8Array(5 * 1024 * 1024).fill(0x20)],
  ['lone continuation byte', 'invalid_utf8', new Uint8Array([0x7b, 0x80, 0x7d])],
  ['truncated 2-byte sequence', 'invalid_utf8', new Uint8Array([0x22, 0xc3, 0x22])],
  ['overlong encoding of "/"', 'invalid_utf8', new Uint8Array([0xc0, 0xaf])],
  ['UTF-16 surrogate as UTF-8', 'invalid_utf8', new Uint8Array([0xed, 0xa0, 0x80])],
  ['0xFF byte', 'invalid_utf8', new Uint8Array([0xff])],
  ['not JSON', 'invalid_json', bytes('hello')],
  ['whitespace only', 'invalid_json', bytes('   ')],
  ['truncated object', 'invalid_json', bytes('{"a":1')],
  ['trailing comma', 'invalid_json', bytes('{"a":1,}')],
  ['single quotes', 'invalid_json', bytes("{'a':1}")],
  ['NaN literal', 'invalid_json', bytes('{"a":NaN}')],
  ['Infinity literal', 'invalid_json', bytes('{"a":Infinity}')],
  ['bare NaN', 'invalid_json', bytes('NaN')],
  ['two documents', 'invalid_json', bytes('{"a":1}{"b":2}')],
  ['NUL byte', 'invalid_json', new Uint8Array([0x7b, 0x00, 0x7d])],
  ['BOM only', 'invalid_json', bytes('\uFEFF')],
  ['JSON nested 100k deep (arrays)', 'json_too_deep', bytes('['.repeat(100_000) + ']'.repeat(100_000))],
  ['JSON nested 100k deep (objects)', 'json_too_deep', bytes(nested(100_000))],
  ['unclosed 100k deep', 'json_too_deep', bytes('['.repeat(100_000))],
  ['nested 33 deep', 'json_too_deep', bytes(nested(33))],
  ['timestamp a string', 'invalid_timestamp', bytes('{"ts":"yesterday","v":1}')],
  ['timestamp an object', 'invalid_timestamp', bytes('{"ts":{"s":1},"v":1}')],
  ['timestamp 1e400', 'invalid_timestamp', bytes('{"ts":1e400}')],
  ['timestamp numeric string in auto', 'invalid_timestamp', bytes('{"ts":"1700000000"}')],
];

/** Under format auto: what is stored rather than dead-lettered, and what is still refused. */
describe('format auto keeps what it can', () => {
  it.each([
    ['empty payload', new Uint8Array(0), null],
    ['0xFF byte', new Uint8Array([0xff]), null],
    ['not JSON', bytes('hello'), null],
    ['whitespace only', bytes('   '), null],
    ['bare NaN', bytes('NaN'), null],
    ['1001 readings', bytes(JSON.stringify(Array.from({ length: 1001 }, (_, i) => i))), 1],
  ])('%s is stored', (_name, payload, capped) => {
    const r = auto('zigbee2mqtt/kitchen', payload, RECEIVED);
    expect(r.ok).toBe(true);
    if (r.ok && capped !== null) expect(r).toMatchObject({ readingsCapped: capped });
  });

  it.each([
    ['truncated object', '{"a":1', 'invalid_json'],
    ['NaN literal', '{"a":NaN}', 'invalid_json'],
    ['nested 33 deep', nested(33), 'json_too_deep'],
    ['timestamp a string', '{"ts":"yesterday","v":1}', 'invalid_timestamp'],
  ])('%s is still refused', (_name, payload, reason) => {
    expect(auto('a/b', bytes(payload), RECEIVED)).toMatchObject({ ok: false, reason });
  });
});

describe('malformed payloads are rejected with the right reason', () => {
  it.each(rejected)('%s → %s', (_name, reason, payload) => {
    const r = decode('zigbee2mqtt/kitchen', payload, RECEIVED);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(reason);
    expect(r.detail.length).toBeGreaterThan(0);
    expect(r.detail.length).toBeLessThanOrEqual(200);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    expect(r.detail).not.toMatch(/[\u0000-\u001f]/);
  });

  it('refuses 1M levels even when the size limit allows them', () => {
    const big = createDecoder(
      settings({ maxPayloadBytes: 16 * 1024 * 1024, maxJsonDepth: 1000, formats: JSON_ONLY }),
    );
    const r = big('a/b', bytes(nested(1_000_000)), RECEIVED);
    expect(r).toMatchObject({ ok: false, reason: 'json_too_deep' });
  });

  it('gives the parser’s message, shortened, for invalid JSON', () => {
    const r = decode('a/b', bytes(`{"a":x${'y'.repeat(10_000)}\n\u0001}`), RECEIVED);
    expect(r).toMatchObject({ ok: false, reason: 'invalid_json' });
    if (!r.ok) expect(r.detail).toMatch(/Unexpected token/);
  });
});

const accepted: Array<[string, string, Reading[]]> = [
  ['1e400 value skipped', '{"a":1e400,"b":2}', [{ metric: 'b', value: 2 }]],
  ['-1e400 value skipped', '{"a":-1e400}', []],
  ['"NaN" string ignored', '{"a":"NaN","b":"Infinity"}', []],
  ['huge integer', '{"n":123456789012345678901234567890}', [{ metric: 'n', value: 1.2345678901234568e29 }]],
  ['negative zero', '{"z":-0}', [{ metric: 'z', value: -0 }]],
  ['tiny number', '{"t":1e-400}', [{ metric: 't', value: 0 }]],
  ['duplicate keys keep the last', '{"t":1,"t":"x","u":1,"u":2}', [{ metric: 'u', value: 2 }]],
  ['wrong types ignored', '{"s":"21.5","n":null,"o":{},"l":[]}', []],
  ['nested 32 deep is fine', nested(32), [{ metric: Array(32).fill('a').join('.'), value: 1 }]],
  [
    '__proto__ key is plain data',
    '{"__proto__":{"x":1},"constructor":2}',
    [
      { metric: '__proto__.x', value: 1 },
      { metric: 'constructor', value: 2 },
    ],
  ],
  [
    'unicode keys',
    '{"température":20,"温度":21,"😀":1}',
    [
      { metric: 'température', value: 20 },
      { metric: '温度', value: 21 },
      { metric: '😀', value: 1 },
    ],
  ],
];

describe('odd but valid payloads give the right readings', () => {
  it.each(accepted)('%s', (_name, payload, readings) => {
    const r = decode('zigbee2mqtt/kitchen', bytes(payload), RECEIVED);
    expect(r.ok ? r.readings : r).toEqual(readings);
  });
});

describe('odd topics are decoded, never rejected for their name', () => {
  it.each([
    ['quotes', `a/"dev'ice"/x`, `"dev'ice"`],
    ['semicolons', 'a/dev;DROP TABLE readings;/x', 'dev;DROP TABLE readings;'],
    ['unicode', 'maison/cuisine-🌡️/température', 'cuisine-🌡️'],
    ['NUL in topic', 'a/d\u0000v', 'd\u0000v'],
    ['64 KB topic', `a/${'x'.repeat(64 * 1024)}`, 'x'.repeat(64 * 1024)],
    ['$SYS topic', '$SYS/broker/load', 'broker'],
    ['empty topic', '', null],
  ])('%s', (_name, topic, device) => {
    const r = decode(topic, bytes('{"v":1}'), RECEIVED);
    expect(r).toMatchObject({ ok: true, device, readings: [{ metric: 'v', value: 1 }] });
  });

  it('names a bare value from a unicode topic', () => {
    const r = decode('maison/cuisine/température', bytes('21'), RECEIVED);
    expect(r).toMatchObject({ ok: true, readings: [{ metric: 'température', value: 21 }] });
  });
});
