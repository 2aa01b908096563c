import { describe, expect, it } from 'vitest';
import { parseDroppedCount } from '../../../src/source/broker-drops.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('the broker dropped-messages count ($SYS payload)', () => {
  it("reads Mosquitto's decimal payload", () => {
    expect(parseDroppedCount(bytes('0'))).toBe(0);
    expect(parseDroppedCount(bytes('2108443610279'))).toBe(2108443610279);
  });

  it('refuses anything that is not a plain count', () => {
    for (const s of ['', '-1', '12 ', '1e3', '0x10', 'NaN', '99999999999999999999']) {
      expect(parseDroppedCount(bytes(s)), s).toBeUndefined();
    }
  });
});
