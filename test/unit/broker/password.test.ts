import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  isPasswordHash,
  verifyPassword,
  verifyPasswordAsync,
} from '../../../src/broker/password.js';

describe('password hashes', () => {
  const hash = hashPassword('s3cret');

  it('has the documented shape and a fresh salt each time', () => {
    expect(hash).toMatch(/^scrypt:[0-9a-f]{32}:[0-9a-f]{64}$/);
    expect(hashPassword('s3cret')).not.toBe(hash);
    expect(isPasswordHash(hash)).toBe(true);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    expect(verifyPassword('s3cret', hash)).toBe(true);
    expect(verifyPassword('s3cret ', hash)).toBe(false);
    expect(verifyPassword('', hash)).toBe(false);
    expect(await verifyPasswordAsync('s3cret', hash)).toBe(true);
    expect(await verifyPasswordAsync('wrong', hash)).toBe(false);
  });

  it('refuses malformed hashes instead of throwing', async () => {
    for (const bad of [
      '',
      'scrypt',
      'bcrypt:00:00',
      'scrypt:zz:00',
      `scrypt:${'0'.repeat(32)}:abcd`,
      hash.slice(0, -1),
    ]) {
      expect(isPasswordHash(bad)).toBe(false);
      expect(verifyPassword('s3cret', bad)).toBe(false);
      expect(await verifyPasswordAsync('s3cret', bad)).toBe(false);
    }
  });
});
