import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { connectHint, refusedFilters, Telemetry } from '../../src/daemon-telemetry.js';
import { batchOf } from '../../src/lib/message.js';
import { createMetrics } from '../../src/observe/metrics.js';

describe('connectHint', () => {
  it('tells the user which setting fixes a refused connection', () => {
    expect(connectHint('Connection refused: Unacceptable protocol version')).toMatch(/--mqtt-version 4/);
    expect(connectHint('Connection refused: Not authorized')).toMatch(/MQLITE_PASSWORD/);
    expect(connectHint('Connection refused: Bad username or password')).toMatch(/--username/);
    expect(connectHint('connect ECONNREFUSED 127.0.0.1:1883')).toBeUndefined();
  });
});

describe('refusedFilters', () => {
  it('names the filters a SUBACK refused, and why for a shared subscription', () => {
    expect(refusedFilters([1, 1], ['a/#', 'b/#'])).toEqual([]);
    expect(refusedFilters([1, 0x9e, 0x80], ['a/#', '$share/g/b/#', 'c/#'])).toEqual([
      '$share/g/b/# (0x9E: shared subscriptions not supported)',
      'c/# (0x80)',
    ]);
  });
});

describe('Telemetry, recognised duplicates', () => {
  it('counts them, shows them in the summary and warns with a topic at most once per 10 minutes', async () => {
    vi.useFakeTimers();
    try {
      const registry = new Registry();
      const t = new Telemetry(createMetrics(registry, { version: 'test' }));
      const warn = vi.fn();
      const log = { warn, error: vi.fn(), info: vi.fn(), debug: vi.fn() } as never;
      const hooks = t.writerHooks(log, { onStuck: () => {}, onFatal: () => {} });
      const result = (duplicates: number, topic?: string) => ({
        stored: 1,
        duplicates,
        readings: 0,
        deadLetters: {},
        commitSeconds: 0,
        payloadTs: new Float64Array([Date.now()]),
        readingsCapped: 2,
        nonFinite: 1,
        ...(topic === undefined ? {} : { duplicateTopic: topic }),
      });
      hooks.onCommitted(batchOf([]), result(2, 'stat/plug/POWER'));
      hooks.onCommitted(batchOf([]), result(3, 'stat/plug/POWER'));
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toEqual({ topic: 'stat/plug/POWER', duplicates: 2 });
      vi.advanceTimersByTime(10 * 60_000);
      hooks.onCommitted(batchOf([]), result(1, 'tele/x/SENSOR'));
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[1]![0]).toEqual({ topic: 'tele/x/SENSOR', duplicates: 4 });
      expect(t.snapshot({ length: 0, bytes: 0 }, 0).duplicates).toBe(6);
      const text = await registry.metrics();
      expect(text).toContain('mqlite_messages_duplicate_total 6');
      expect(text).toContain('mqlite_readings_dropped_total{reason="over_cap"} 6');
      expect(text).toContain('mqlite_readings_dropped_total{reason="non_finite"} 3');
    } finally {
      vi.useRealTimers();
    }
  });
});
