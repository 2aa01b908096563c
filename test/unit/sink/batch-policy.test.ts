import { describe, expect, it } from 'vitest';
import { decideFlush, flushAtFor } from '../../../src/sink/batch-policy.js';

const settings = { flushAt: 100, maxDelayMs: 10 };

describe('decideFlush', () => {
  it('is idle with nothing pending', () => {
    expect(decideFlush(settings, 0, undefined, 1000)).toEqual({ kind: 'idle' });
  });

  it('flushes at once when the pending count reaches flushAt, however young', () => {
    expect(decideFlush(settings, 100, 1000, 1000)).toEqual({ kind: 'flush' });
    expect(decideFlush(settings, 250, 1000, 1000)).toEqual({ kind: 'flush' });
  });

  it('waits out the rest of maxDelayMs below flushAt', () => {
    expect(decideFlush(settings, 1, 1000, 1000)).toEqual({ kind: 'wait', ms: 10 });
    expect(decideFlush(settings, 99, 1000, 1007)).toEqual({ kind: 'wait', ms: 3 });
  });

  it('flushes once the oldest pending message is maxDelayMs old', () => {
    expect(decideFlush(settings, 1, 1000, 1010)).toEqual({ kind: 'flush' });
    expect(decideFlush(settings, 1, 1000, 5000)).toEqual({ kind: 'flush' });
  });

  it('flushes every message at once with maxDelayMs 0', () => {
    expect(decideFlush({ flushAt: 100, maxDelayMs: 0 }, 1, 1000, 1000)).toEqual({ kind: 'flush' });
  });
});

describe('flushAtFor', () => {
  it('is the smaller of maxBatch and the broker window', () => {
    expect(flushAtFor(1000, 100)).toBe(100);
    expect(flushAtFor(1000, 65_535)).toBe(1000);
    expect(flushAtFor(1000)).toBe(1000);
    expect(flushAtFor(1000, 0)).toBe(1);
  });
});
