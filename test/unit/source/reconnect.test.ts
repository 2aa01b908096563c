import { describe, expect, it } from 'vitest';
import { MIN_RECONNECT_MS, ReconnectBackoff } from '../../../src/source/reconnect.js';

const settings = { baseMs: 100, factor: 2, capMs: 1000, stableMs: 60_000 };

describe('ReconnectBackoff', () => {
  it('grows exponentially up to the cap (random at its maximum)', () => {
    const b = new ReconnectBackoff(settings, () => 0.999999);
    const delays = Array.from({ length: 7 }, () => b.next().delayMs);
    expect(delays).toEqual([99, 199, 399, 799, 999, 999, 999]);
  });

  it('numbers the attempts from 0', () => {
    const b = new ReconnectBackoff(settings, () => 0.5);
    expect([b.next(), b.next(), b.next()].map((r) => r.attempt)).toEqual([0, 1, 2]);
  });

  it('applies full jitter: the delay is random * the exponential step', () => {
    const rolls = [0.5, 0.25, 0.1];
    const b = new ReconnectBackoff(settings, () => rolls.shift() ?? 0);
    expect([b.next().delayMs, b.next().delayMs, b.next().delayMs]).toEqual([50, 50, 40]);
  });

  it('never yields 0, which MQTT.js reads as "do not reconnect"', () => {
    const b = new ReconnectBackoff(settings, () => 0);
    expect(b.next().delayMs).toBe(MIN_RECONNECT_MS);
    expect(MIN_RECONNECT_MS).toBeGreaterThan(0);
  });

  it('reset starts again from the base delay', () => {
    const b = new ReconnectBackoff(settings, () => 0.999999);
    b.next();
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toEqual({ delayMs: 99, attempt: 0 });
  });
});
