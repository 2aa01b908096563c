import { describe, expect, it } from 'vitest';
import { identityKey } from '../../../src/sink/identity-hash.js';

describe('identityKey', () => {
  it('is pinned: stored identities must hash the same after an upgrade', () => {
    // Changing these values needs a migration that rewrites messages.identity.
    expect(identityKey('id:devA\0m-1')).toBe(6601296856551314110n);
    expect(identityKey('')).toBe(5227514475777527171n);
    expect(identityKey('ts:t/x\u00001700000000000')).toBe(-3962263491020450139n);
    expect(identityKey('é😀')).toBe(-9078854739831091122n);
  });

  it('stays within SQLite INTEGER (signed 64-bit) and uses both halves', () => {
    let negative = 0;
    let highBits = 0n;
    for (let i = 0; i < 1000; i++) {
      const k = identityKey(`id:dev-${i % 7}\0${i}`);
      expect(k).toBe(BigInt.asIntN(64, k));
      if (k < 0n) negative++;
      highBits |= BigInt.asUintN(64, k) >> 32n;
    }
    expect(negative).toBeGreaterThan(400);
    expect(negative).toBeLessThan(600);
    expect(highBits).toBe(0xffffffffn);
  });

  it('gives no collisions over 200k identities shaped like a fleet sequence', () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 200_000; i++)
      seen.add(identityKey(`id:dev-${String(i % 100).padStart(4, '0')}\0${i}`));
    expect(seen.size).toBe(200_000);
  });
});
