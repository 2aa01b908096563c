import { describe, expect, it } from 'vitest';
import { LoginThrottle, type ThrottlePolicy } from '../../../src/broker/login-throttle.js';

const policy: ThrottlePolicy = {
  freeFailures: 3,
  baseMs: 1000,
  capMs: 8000,
  forgetMs: 60_000,
  maxEntries: 3,
  maxPending: 2,
};

function fail(t: LoginThrottle, address: string): void {
  expect(t.begin(address).allowed).toBe(true);
  t.end(address, false);
}

describe('LoginThrottle', () => {
  it('lets the free failures through, then makes the address wait, doubling up to the cap', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) fail(t, 'a');
    for (let i = 0; i < 6; i++) {
      const v = t.begin('a');
      expect(v.allowed).toBe(false);
      const wait = v.allowed ? 0 : v.retryInMs;
      waits.push(wait);
      now += wait;
      fail(t, 'a');
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(t.begin('b').allowed).toBe(true); // other addresses are not affected
  });

  it('one success forgets the address', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    for (let i = 0; i < 3; i++) fail(t, 'a');
    now += 1000;
    expect(t.begin('a').allowed).toBe(true);
    t.end('a', true);
    for (let i = 0; i < 3; i++) fail(t, 'a'); // three free failures again
    expect(t.begin('a').allowed).toBe(false);
  });

  it('forgets an address quiet for forgetMs', () => {
    let now = 0;
    const t = new LoginThrottle(policy, () => now);
    for (let i = 0; i < 4; i++) {
      now += 10_000;
      if (t.begin('a').allowed) t.end('a', false);
    }
    expect(t.begin('a').allowed).toBe(false);
    now += 60_000;
    expect(t.begin('a').allowed).toBe(true);
  });

  it('refuses a third check in flight from one address', () => {
    const t = new LoginThrottle(policy, () => 0);
    expect(t.begin('a').allowed).toBe(true);
    expect(t.begin('a').allowed).toBe(true);
    expect(t.begin('a')).toEqual({ allowed: false, retryInMs: 0 });
    t.end('a', false);
    expect(t.begin('a').allowed).toBe(true);
  });

  it('stays bounded: a spray of addresses evicts the quietest', () => {
    const t = new LoginThrottle(policy, () => 0);
    for (let i = 0; i < 100; i++) fail(t, `10.0.0.${i}`);
    expect(t.size).toBe(3);
  });
});
