import { describe, expect, it } from 'vitest';
import { evaluate, type StepSeries } from '../../../src/query/evaluator.js';
import { parsePromql } from '../../../src/query/promql-parse.js';
import { FakeData, type Reading } from './fake-data.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const T0 = Date.UTC(2026, 0, 1); // on an hour boundary
const limits = { deadline: Number.POSITIVE_INFINITY, maxSamples: 1_000_000 };

function at(q: string, t: number, data: FakeData): StepSeries[] {
  const r = evaluate(parsePromql(q), { start: t, end: t, step: 1 }, data, limits);
  if (r.type !== 'steps') throw new Error(`not a vector: ${r.type}`);
  return r.series;
}

function only(q: string, t: number, data: FakeData): number | undefined {
  const s = at(q, t, data);
  expect(s.length).toBeLessThanOrEqual(1);
  return s[0]?.values[0];
}

function every(
  device: string,
  metric: string,
  from: number,
  n: number,
  gap: number,
  value: (i: number) => number,
): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ device, metric, ts: from + i * gap, value: value(i) }));
}

describe('instant selectors', () => {
  const data = new FakeData([
    { device: 'kitchen', metric: 'temperature', ts: T0 - 4 * M, value: 21.5 },
    { device: 'hall', metric: 'temperature', ts: T0 - 5 * M, value: 19 },
    { device: 'kitchen', metric: 'battery.level', ts: T0 - M, value: 97 },
  ]);

  it('take the last reading of the 5-minute lookback (t − 5m, t], like Prometheus 3', () => {
    const s = at('temperature', T0, data);
    expect(s).toEqual([{ labels: { __name__: 'temperature', device: 'kitchen' }, values: [21.5] }]);
    expect(
      at('temperature', T0 - 10 * S, data)
        .map((x) => x.labels.device)
        .sort(),
    ).toEqual(['hall', 'kitchen']);
  });

  it('name a metric that is not a Prometheus name by its mapping, the original kept as a label', () => {
    expect(at('battery_level', T0, data)).toEqual([
      {
        labels: { __name__: 'battery_level', device: 'kitchen', mqlite_metric: 'battery.level' },
        values: [97],
      },
    ]);
    expect(only('{mqlite_metric="battery.level"}', T0, data)).toBe(97);
  });

  it('match labels with anchored regular expressions', () => {
    expect(at('{device=~"kit"}', T0, data)).toEqual([]);
    expect(at('{device=~"kit.*", __name__!~"battery.*"}', T0, data)).toHaveLength(1);
  });
});

describe('functions over a range', () => {
  // A counter every 15 s: 0, 10, 20, … (and a gauge alongside).
  const data = new FakeData([
    ...every('d', 'energy', T0, 20, 15 * S, (i) => i * 10),
    ...every('d', 'temp', T0, 20, 15 * S, (i) => 20 + (i % 4)),
  ]);
  const t = T0 + 60 * S; // window (T0, T0+60s] holds i = 1..4

  it('computes the *_over_time functions over (t − range, t]', () => {
    expect(only('count_over_time(temp[1m])', t, data)).toBe(4);
    expect(only('sum_over_time(temp[1m])', t, data)).toBe(21 + 22 + 23 + 20);
    expect(only('avg_over_time(temp[1m])', t, data)).toBe(21.5);
    expect(only('min_over_time(temp[1m])', t, data)).toBe(20);
    expect(only('max_over_time(temp[1m])', t, data)).toBe(23);
    expect(only('last_over_time(temp[1m])', t, data)).toBe(20);
  });

  it('extrapolates rate and increase as Prometheus does', () => {
    // 4 readings 15 s apart, 30 apart in value: extrapolated over the whole minute.
    expect(only('increase(energy[1m])', t, data)).toBeCloseTo(40, 10);
    expect(only('rate(energy[1m])', t, data)).toBeCloseTo(10 / 15, 10);
  });

  it('adds counter resets back', () => {
    const reset = new FakeData(every('d', 'c', T0, 4, 15 * S, (i) => [100, 110, 5, 15][i] as number));
    // 10 + (110 → 5: reset, +110 - 100 … ) = raw increase 10 + 110 + 5 - 110 + 10 = 25 over 45 s
    const v = only('increase(c[1m])', T0 + 45 * S, reset) as number;
    expect(v).toBeGreaterThan(25);
    expect(v).toBeLessThan(25 * (60 / 45) + 1e-9);
  });

  it('drops the metric name, except for last_over_time', () => {
    expect(at('avg_over_time(temp[1m])', t, data)[0]?.labels).toEqual({ device: 'd' });
    expect(at('last_over_time(temp[1m])', t, data)[0]?.labels).toEqual({ __name__: 'temp', device: 'd' });
  });

  it('refuses two series left with the same labels', () => {
    expect(() => at('avg_over_time({device="d"}[1m])', t, data)).toThrow(/same labelset/);
  });
});

describe('aggregations', () => {
  const data = new FakeData([
    { device: 'a', metric: 'temp', ts: T0, value: 1 },
    { device: 'b', metric: 'temp', ts: T0, value: 3 },
    { device: 'b', metric: 'hum', ts: T0, value: 50 },
  ]);
  it('sum, avg, min, max, count, by and without', () => {
    expect(only('sum(temp)', T0, data)).toBe(4);
    expect(only('avg(temp)', T0, data)).toBe(2);
    expect(only('min(temp)', T0, data)).toBe(1);
    expect(only('max(temp)', T0, data)).toBe(3);
    expect(only('count({device=~".+"})', T0, data)).toBe(3);
    expect(at('sum by (device) ({device=~".+"})', T0, data)).toEqual([
      { labels: { device: 'a' }, values: [1] },
      { labels: { device: 'b' }, values: [53] },
    ]);
    expect(at('max without (device) (temp)', T0, data)).toEqual([{ labels: {}, values: [3] }]);
  });
});

describe('range evaluation', () => {
  const data = new FakeData(every('d', 'temp', T0 + 17 * S, 24 * 60, M, (i) => i)); // a reading a minute, off the hour

  it('evaluates at start, start + step, … ≤ end, whatever their alignment', () => {
    const start = T0 + 7 * M + 3 * S;
    const r = evaluate(parsePromql('temp'), { start, end: start + 10 * M, step: 150 * S }, data, limits);
    expect(r.type === 'steps' && r.series[0]?.values).toEqual([6, 9, 11, 14, 16]);
    expect(r.type === 'steps' && r.resolution).toBe('raw');
  });

  it('answers aligned windows from the rollups, with the raw answer when no reading sits on an edge', () => {
    for (const [q, res] of [
      ['avg_over_time(temp[1h])', '1h'],
      ['max_over_time(temp[10m])', '5m'],
      ['count_over_time(temp[2h])', '1h'],
      ['temp', '5m'],
    ] as const) {
      const p = { start: T0 + 2 * H, end: T0 + 20 * H, step: H }; // a span over RAW_SPAN_MS
      const fromRollups = evaluate(parsePromql(q), p, data, limits);
      expect(fromRollups.type === 'steps' && fromRollups.resolution).toBe(res);
      const raw = evaluate(parsePromql(q), { ...p, start: p.start + 1, end: p.end + 1 }, data, limits);
      expect(raw.type === 'steps' && raw.resolution).toBe('raw');
      expect(fromRollups.type === 'steps' && fromRollups.series[0]?.values).toEqual(
        raw.type === 'steps' && raw.series[0]?.values,
      );
    }
  });

  it('reads raw readings for rate, which a bucket cannot answer', () => {
    const r = evaluate(
      parsePromql('rate(temp[1h])'),
      { start: T0 + 2 * H, end: T0 + 4 * H, step: H },
      data,
      limits,
    );
    expect(r.type === 'steps' && r.resolution).toBe('raw');
  });

  it('stops at the sample limit and at the deadline', () => {
    const p = { start: T0, end: T0 + 24 * H, step: 7 * M };
    expect(() => evaluate(parsePromql('temp'), p, data, { ...limits, maxSamples: 100 })).toThrow(
      /too many samples/,
    );
    expect(() => evaluate(parsePromql('temp'), p, data, { ...limits, deadline: Date.now() - 1 })).toThrow(
      /timed out/,
    );
  });
});

describe('instant last values', () => {
  it('come from the latest table when it is not after t, from the readings otherwise, with one answer', () => {
    const data = new FakeData([
      { device: 'a', metric: 'temp', ts: T0 - 2 * M, value: 1 },
      { device: 'a', metric: 'temp', ts: T0 + M, value: 2 },
      { device: 'b', metric: 'temp', ts: T0 - 10 * M, value: 3 },
    ]);
    // At T0 + 2m both latest readings are not after t: no raw read; b is older than the lookback.
    data.calls.length = 0;
    expect(at('temp', T0 + 2 * M, data)).toEqual([
      { labels: { __name__: 'temp', device: 'a' }, values: [2] },
    ]);
    expect(data.calls).toEqual([]);
    // At T0, a's latest is after t: its readings answer (the one at T0 - 2m).
    expect(at('temp', T0, data)).toEqual([{ labels: { __name__: 'temp', device: 'a' }, values: [1] }]);
    expect(data.calls).toEqual(['points a/temp']);
    expect(only('last_over_time(temp{device="b"}[15m])', T0, data)).toBe(3);
  });
});
