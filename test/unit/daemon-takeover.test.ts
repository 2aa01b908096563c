import { describe, expect, it } from 'vitest';
import { TakeoverDetector } from '../../src/daemon-telemetry.js';

describe('TakeoverDetector (MQTT 3.1.1: no reason code on the wire)', () => {
  it('counts connections closed right after their CONNACK, and resets on one that lived', () => {
    const d = new TakeoverDetector();
    let t = 0;
    const cycle = (livedMs: number): number => {
      d.connected(t);
      t += livedMs;
      return d.closed(t);
    };
    expect(cycle(100)).toBe(1);
    expect(cycle(300)).toBe(2);
    expect(cycle(50)).toBe(TakeoverDetector.SUSPECT_AFTER);
    expect(cycle(60_000)).toBe(0);
    expect(cycle(100)).toBe(1);
  });

  it('a close without a CONNACK (refused, unreachable) is not counted', () => {
    const d = new TakeoverDetector();
    expect(d.closed(10)).toBe(0);
  });
});
