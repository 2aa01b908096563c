import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatBytes, Summary, type SummarySnapshot, summarize } from '../../../src/observe/summary.js';

const zero: SummarySnapshot = {
  received: 0,
  committed: 0,
  queueMessages: 0,
  queueBytes: 0,
  heldAcks: 0,
  deadLetters: 0,
  duplicates: 0,
  dropped: 0,
  commitErrors: 0,
};

function fakeLogger() {
  return { info: vi.fn(), warn: vi.fn() };
}

describe('summarize', () => {
  it('turns cumulative counters into rates and deltas for the interval', () => {
    const next: SummarySnapshot = {
      received: 1200,
      committed: 1100,
      queueMessages: 100,
      queueBytes: 3 * 1024 * 1024,
      heldAcks: 40,
      deadLetters: 3,
      duplicates: 4,
      dropped: 2,
      commitErrors: 1,
    };
    const line = summarize(zero, next, 10);
    expect(line.message).toBe(
      'summary: in 120/s, out 110/s, queue 100 msgs (3.0 MiB), held acks 40, dead letters +3, duplicates +4, drops +2, commit errors +1',
    );
    expect(line.fields).toMatchObject({
      inPerSec: 120,
      outPerSec: 110,
      deadLetters: 3,
      duplicates: 4,
      receivedTotal: 1200,
    });
  });

  it('reports zero rates for a zero-length interval instead of dividing by zero', () => {
    expect(summarize(zero, { ...zero, received: 5 }, 0).fields.inPerSec).toBe(0);
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});

describe('Summary', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('logs one line per interval with rates since the previous line', async () => {
    const logger = fakeLogger();
    let snap: SummarySnapshot = zero;
    let now = 0;
    const s = new Summary({ intervalMs: 60_000 }, { logger, snapshot: () => snap, now: () => now });
    await s.start();
    snap = { ...zero, received: 600, committed: 540, queueMessages: 60, queueBytes: 600, heldAcks: 6 };
    now = 60_000;
    vi.advanceTimersByTime(60_000);
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(logger.info.mock.calls[0]?.[1]).toBe(
      'summary: in 10/s, out 9/s, queue 60 msgs (600 B), held acks 6, dead letters +0, duplicates +0, drops +0, commit errors +0',
    );
    snap = {
      ...snap,
      received: 1200,
      committed: 1200,
      queueMessages: 0,
      queueBytes: 0,
      heldAcks: 0,
      deadLetters: 4,
    };
    now = 120_000;
    vi.advanceTimersByTime(60_000);
    expect(logger.info).toHaveBeenCalledTimes(2);
    expect(logger.info.mock.calls[1]?.[1]).toContain(
      'in 10/s, out 11/s, queue 0 msgs (0 B), held acks 0, dead letters +4',
    );
    await s.stop();
  });

  it('writes a last line on stop, then nothing more; stop is idempotent', async () => {
    const logger = fakeLogger();
    let now = 0;
    const s = new Summary({ intervalMs: 1000 }, { logger, snapshot: () => zero, now: () => now });
    await s.start();
    now = 500;
    await s.stop();
    await s.stop();
    expect(logger.info).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is disabled by an interval of 0', async () => {
    const logger = fakeLogger();
    const s = new Summary({ intervalMs: 0 }, { logger, snapshot: () => zero });
    await s.start();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000_000);
    await s.stop();
    expect(logger.info).not.toHaveBeenCalled();
  });

  it('warns once when the snapshot throws and keeps going', async () => {
    const logger = fakeLogger();
    let fail = true;
    const s = new Summary(
      { intervalMs: 1000 },
      {
        logger,
        snapshot: () => {
          if (fail) throw new Error('boom');
          return zero;
        },
      },
    );
    await s.start();
    vi.advanceTimersByTime(3000);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    fail = false;
    vi.advanceTimersByTime(2000);
    expect(logger.info).toHaveBeenCalledTimes(1);
    await s.stop();
  });

  it('does not keep the process alive', async () => {
    const s = new Summary({ intervalMs: 1000 }, { logger: fakeLogger(), snapshot: () => zero });
    const spy = vi.spyOn(globalThis, 'setInterval');
    await s.start();
    const handle = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(handle.hasRef()).toBe(false);
    spy.mockRestore();
    await s.stop();
  });
});
