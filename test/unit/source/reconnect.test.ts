import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('ReconnectBackoff: when a session resets it', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Three failed attempts, then a CONNACK: the backoff stands at its fourth step. */
  function afterThreeFailures(onReset = () => {}) {
    const b = new ReconnectBackoff(settings, () => 0.999999, onReset);
    b.next();
    b.next();
    b.next();
    b.connected();
    return b;
  }

  it('a committed message on the new connection resets at once, and says so', () => {
    let resets = 0;
    const b = afterThreeFailures(() => resets++);
    b.proven();
    expect(resets).toBe(1);
    expect(b.next()).toEqual({ delayMs: 99, attempt: 0 });
  });

  it('short blips with traffic in between never climb past the first step', () => {
    const b = new ReconnectBackoff(
      settings,
      () => 0.999999,
      () => b.next(),
    );
    const delays: number[] = [];
    delays.push(b.next().delayMs); // armed at start
    for (let blip = 0; blip < 5; blip++) {
      delays.push(b.next().delayMs); // MQTT.js 'reconnect': the period for the retry after it
      b.connected();
      vi.advanceTimersByTime(100); // up 0.1 s, a message committed
      b.proven();
      b.closed();
    }
    expect(Math.max(...delays)).toBeLessThanOrEqual(199);
  });

  it('a CONNACK alone resets only after stableMs of staying up', () => {
    let resets = 0;
    const b = afterThreeFailures(() => resets++);
    vi.advanceTimersByTime(settings.stableMs - 1);
    expect(resets).toBe(0);
    vi.advanceTimersByTime(1);
    expect(resets).toBe(1);
    expect(b.next().attempt).toBe(0);
  });

  it('a connection that closes before proving itself keeps the backoff growing (a broker dropping us at once)', () => {
    let resets = 0;
    const b = afterThreeFailures(() => resets++);
    vi.advanceTimersByTime(50);
    b.closed();
    vi.advanceTimersByTime(settings.stableMs * 2);
    expect(resets).toBe(0);
    expect(b.next()).toEqual({ delayMs: 799, attempt: 3 });
  });

  it('a commit while already at the base step resets nothing', () => {
    let resets = 0;
    const b = new ReconnectBackoff(
      settings,
      () => 0.5,
      () => resets++,
    );
    b.next();
    b.connected();
    b.proven();
    expect(resets).toBe(0);
    vi.advanceTimersByTime(settings.stableMs);
    expect(resets).toBe(0); // the stable timer was cleared by the proof
  });
});
