import { describe, expect, it } from 'vitest';
import { TakeoverDetector } from '../../src/daemon-telemetry.js';

describe('TakeoverDetector (no reason code on the wire)', () => {
  function cycler(d: TakeoverDetector) {
    let t = 0;
    return (livedMs: number, plain = true): number => {
      d.connected(t);
      t += livedMs;
      return d.closed(t, plain);
    };
  }

  it('counts young connections the broker closed plainly, in a row', () => {
    const cycle = cycler(new TakeoverDetector(60_000));
    expect(cycle(100)).toBe(1);
    expect(cycle(4_000)).toBe(2);
    expect(cycle(20_000)).toBe(TakeoverDetector.SUSPECT_AFTER);
  });

  it('a connection that got old, a close with a reason, or an error ends the run', () => {
    const d = new TakeoverDetector(60_000);
    const cycle = cycler(d);
    cycle(100);
    expect(cycle(120_000)).toBe(0);
    cycle(100);
    expect(cycle(100, false)).toBe(0);
    cycle(100);
    d.error();
    expect(cycle(100)).toBe(1);
  });

  it('a close without a CONNACK (refused, unreachable) is not counted', () => {
    expect(new TakeoverDetector(60_000).closed(10, true)).toBe(0);
  });
});
