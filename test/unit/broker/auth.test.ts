import { describe, expect, it } from 'vitest';
import { assertSecure, isLoopback, makeAuthDecision } from '../../../src/broker/auth.js';
import { hashPassword } from '../../../src/broker/password.js';
import { MqliteError } from '../../../src/lib/errors.js';

const users = [{ username: 'dev', passwordHash: hashPassword('pw') }];
const pw = (s: string) => Buffer.from(s);

describe('isLoopback', () => {
  it('knows the loopback spellings', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '128.0.0.1'])
      expect(isLoopback(h)).toBe(false);
  });
});

describe('assertSecure', () => {
  it('refuses a non-loopback listener without users or anonymous opt-in', () => {
    expect(() => assertSecure({ host: '0.0.0.0', allowAnonymous: false, users: [] })).toThrow(MqliteError);
    try {
      assertSecure({ host: '0.0.0.0', allowAnonymous: false, users: [] });
    } catch (err) {
      expect((err as MqliteError).code).toBe('MQLITE_BROKER_INSECURE');
    }
  });

  it('accepts loopback, users, or an explicit anonymous opt-in', () => {
    expect(() => assertSecure({ host: '127.0.0.1', allowAnonymous: false, users: [] })).not.toThrow();
    expect(() => assertSecure({ host: '0.0.0.0', allowAnonymous: false, users })).not.toThrow();
    expect(() => assertSecure({ host: '0.0.0.0', allowAnonymous: true, users: [] })).not.toThrow();
  });
});

describe('makeAuthDecision', () => {
  it('loopback without users: everyone local may connect', async () => {
    const decide = makeAuthDecision({ host: '127.0.0.1', allowAnonymous: false, users: [] });
    expect(await decide(undefined, undefined)).toBe(true);
    expect(await decide('any', pw('thing'))).toBe(true);
  });

  it('with users: only a right password, and no anonymous unless allowed', async () => {
    const decide = makeAuthDecision({ host: '0.0.0.0', allowAnonymous: false, users });
    expect(await decide('dev', pw('pw'))).toBe(true);
    expect(await decide('dev', pw('nope'))).toBe(false);
    expect(await decide('dev', undefined)).toBe(false);
    expect(await decide('ghost', pw('pw'))).toBe(false);
    expect(await decide(undefined, undefined)).toBe(false);
  });

  it('with users and allowAnonymous: clients without a user name get in, named ones still need the password', async () => {
    const decide = makeAuthDecision({ host: '0.0.0.0', allowAnonymous: true, users });
    expect(await decide(undefined, undefined)).toBe(true);
    expect(await decide('dev', pw('nope'))).toBe(false);
  });
});
