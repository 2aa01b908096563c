import { describe, expect, it } from 'vitest';
import { identityKey, messageIdentityKey, ODD_IDENTITY_MASK } from '../../../src/sink/identity-hash.js';

describe('identityKey', () => {
  it('is pinned: stored identities must hash the same after an upgrade', () => {
    // Changing these values needs a migration that rewrites messages.identity.
    expect(identityKey('id:devA\0m-1', false)).toBe(6601296856551314110n);
    expect(identityKey('', false)).toBe(5227514475777527170n);
    // Odd (ts from the payload): the low 47 bits of the 64-bit key since schema 4
    // (-3962263491020450139n before it; the v4 migration rewrites the newest rows the same way).
    expect(identityKey('ts:t/x\u00001700000000000', true)).toBe(59756135454373n);
    expect(identityKey('ts:t/x\u00001700000000000', true)).toBe(-3962263491020450139n & ODD_IDENTITY_MASK);
    expect(identityKey('é😀', false)).toBe(-9078854739831091122n);
  });

  it('hashes a message by topic and identity body as the one string p:<topic>\\0<body>', () => {
    // What the store stores for a decoded message: the same key as the joined string always had.
    const cases: [string, string][] = [
      ['bench/dev-0001/telemetry', '{"ts":1796270712004,"seq":0,"temp":18.0}'],
      ['tele/kitchen/SENSOR', '{"Time":"2024-01-01T00:00:00","ENERGY":{"Power":5}}'],
      ['', ''],
      ['a/b', 'é😀\u0000x'],
    ];
    for (const [topic, body] of cases) {
      for (const fromPayload of [true, false]) {
        expect(messageIdentityKey(topic, body, fromPayload)).toBe(
          identityKey(`p:${topic}\0${body}`, fromPayload),
        );
      }
    }
    // Pinned like identityKey: this key is stored data.
    expect(messageIdentityKey('a/dev', '{"seq":42,"v":1}', false)).toBe(
      identityKey('p:a/dev\u0000{"seq":42,"v":1}', false),
    );
  });

  it('is odd exactly when ts came from the payload (the index that key goes to)', () => {
    for (const s of ['', 'id:a\0b', 'ts:x\u00001']) {
      expect(identityKey(s, true) & 1n).toBe(1n);
      expect(identityKey(s, false) & 1n).toBe(0n);
      expect(identityKey(s, true) >> 1n).toBe((identityKey(s, false) & ODD_IDENTITY_MASK) >> 1n);
    }
  });

  it('stays within SQLite INTEGER (signed 64-bit) and uses both halves', () => {
    let negative = 0;
    let highBits = 0n;
    for (let i = 0; i < 1000; i++) {
      const k = identityKey(`id:dev-${i % 7}\0${i}`, false);
      expect(k).toBe(BigInt.asIntN(64, k));
      if (k < 0n) negative++;
      highBits |= BigInt.asUintN(64, k) >> 32n;
      // Odd keys fit SQLite's 6-byte integer: positive and below 2^47.
      const odd = identityKey(`id:dev-${i % 7}\0${i}`, true);
      expect(odd > 0n && odd <= ODD_IDENTITY_MASK).toBe(true);
    }
    expect(negative).toBeGreaterThan(400);
    expect(negative).toBeLessThan(600);
    expect(highBits).toBe(0xffffffffn);
  });

  it('gives no collisions over 200k identities shaped like a fleet sequence', () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 200_000; i++)
      seen.add(identityKey(`id:dev-${String(i % 100).padStart(4, '0')}\0${i}`, true));
    expect(seen.size).toBe(200_000);
  });
});
