import { describe, expect, it } from 'vitest';
import { formatValue, parseTime } from '../../../src/query/api-params.js';
import { type ApiRequest, handleApi, handleApiJson } from '../../../src/query/api.js';
import { FakeData } from './fake-data.js';

const T0 = Date.UTC(2026, 0, 1);
const data = new FakeData([
  { device: 'kitchen', metric: 'temperature', ts: T0 - 60_000, value: 21.5 },
  { device: 'kitchen', metric: 'temperature', ts: T0, value: 22 },
  { device: 'hall', metric: 'temperature', ts: T0, value: 19 },
  { device: 'hall', metric: 'ENERGY.Total', ts: T0, value: 1234.5 },
]);
const limits = { timeoutMs: 10_000, maxSamples: 100_000 };

function call(
  route: ApiRequest['route'],
  params: Record<string, string | string[]>,
  label?: string,
): unknown {
  const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  return handleApi({ route, params: p, now: T0 + 1000, ...(label ? { label } : {}) }, data, limits);
}

function error(route: ApiRequest['route'], params: Record<string, string | string[]>): string {
  try {
    call(route, params);
  } catch (err) {
    return `${(err as { type: string }).type}: ${(err as Error).message}`;
  }
  throw new Error('no error');
}

describe('Prometheus HTTP API shapes', () => {
  it('/query answers a vector at the given time (or now), a scalar for numbers', () => {
    expect(call('query', { query: 'temperature{device="kitchen"}', time: String(T0 / 1000) })).toEqual({
      resultType: 'vector',
      result: [{ metric: { __name__: 'temperature', device: 'kitchen' }, value: [T0 / 1000, '22'] }],
    });
    expect(call('query', { query: 'energy_total' })).toEqual({
      resultType: 'vector',
      result: [
        {
          metric: { __name__: 'energy_total', device: 'hall', mqlite_metric: 'ENERGY.Total' },
          value: [(T0 + 1000) / 1000, '1234.5'],
        },
      ],
    });
    expect(call('query', { query: '1+1', time: '2026-01-01T00:00:00Z' })).toEqual({
      resultType: 'scalar',
      result: [T0 / 1000, '2'],
    });
  });

  it('/query with a range selector answers the raw readings', () => {
    expect(call('query', { query: 'temperature{device="kitchen"}[5m]', time: String(T0 / 1000) })).toEqual({
      resultType: 'matrix',
      result: [
        {
          metric: { __name__: 'temperature', device: 'kitchen' },
          values: [
            [(T0 - 60_000) / 1000, '21.5'],
            [T0 / 1000, '22'],
          ],
        },
      ],
    });
  });

  it('/query_range answers a matrix, series sorted by labels, steps without a value left out', () => {
    const r = call('query_range', {
      query: 'temperature',
      start: String((T0 - 120_000) / 1000),
      end: String(T0 / 1000),
      step: '60s',
    });
    expect(r).toEqual({
      resultType: 'matrix',
      result: [
        { metric: { __name__: 'temperature', device: 'hall' }, values: [[T0 / 1000, '19']] },
        {
          metric: { __name__: 'temperature', device: 'kitchen' },
          values: [
            [(T0 - 60_000) / 1000, '21.5'],
            [T0 / 1000, '22'],
          ],
        },
      ],
    });
  });

  it('/query_range refuses what Prometheus refuses, with its wording', () => {
    const base = { query: 'temperature', start: '0', end: '100', step: '1' };
    expect(error('query_range', { ...base, step: '0' })).toMatch(
      /^bad_data: zero or negative query resolution step/,
    );
    expect(error('query_range', { ...base, end: '11001' })).toMatch(
      /^bad_data: exceeded maximum resolution of 11,000 points/,
    );
    expect(call('query_range', { ...base, end: '11000' })).toMatchObject({ resultType: 'matrix' });
    expect(error('query_range', { ...base, end: '-1' })).toMatch(
      /end timestamp must not be before start time/,
    );
    expect(error('query_range', { ...base, start: 'yesterday' })).toMatch(
      /invalid parameter "start": cannot parse "yesterday"/,
    );
    expect(error('query_range', { ...base, query: 'temperature[5m]' })).toMatch(
      /invalid expression type "range vector"/,
    );
    expect(error('query', {})).toMatch(/invalid parameter "query": missing/);
  });

  it('/series, /labels and /label/<name>/values list what is stored', () => {
    expect(call('series', { 'match[]': ['{device="hall"}'] })).toEqual([
      { __name__: 'energy_total', device: 'hall', mqlite_metric: 'ENERGY.Total' },
      { __name__: 'temperature', device: 'hall' },
    ]);
    expect(error('series', {})).toMatch(/no match\[\] parameter provided/);
    expect(call('labels', {})).toEqual(['__name__', 'device', 'mqlite_metric']);
    expect(call('label_values', {}, 'device')).toEqual(['hall', 'kitchen']);
    expect(call('label_values', {}, '__name__')).toEqual(['energy_total', 'temperature']);
    expect(call('label_values', { 'match[]': 'energy_total' }, 'device')).toEqual(['hall']);
  });
});

describe('the JSON text the query worker sends', () => {
  it('is JSON.stringify of the answer, for matrices written point by point too', () => {
    const range = { start: String((T0 - 120_000) / 1000), end: String(T0 / 1000), step: '30' };
    const odd = new FakeData([
      { device: 'a', metric: 'x', ts: T0 - 60_000, value: Number.NaN },
      { device: 'a', metric: 'x', ts: T0 - 30_000, value: Number.POSITIVE_INFINITY },
      { device: 'b', metric: 'x', ts: T0, value: 1e-7 },
      { device: 'b "quoted"', metric: 'x', ts: T0, value: -2.5e21 },
    ]);
    for (const [query, d] of [
      ['temperature', data],
      ['avg by (device) (avg_over_time(temperature[1m]))', data],
      ['1+1', data],
      ['x', odd],
      ['query_that_matches_nothing', data],
    ] as const) {
      const req: ApiRequest = {
        route: 'query_range',
        params: Object.fromEntries(Object.entries({ query, ...range }).map(([k, v]) => [k, [v]])),
        now: T0,
      };
      const text = handleApiJson(req, d, limits);
      expect(text, query).toBe(JSON.stringify(handleApi(req, d, limits)));
      expect(JSON.parse(text).resultType, query).toBe('matrix');
    }
  });
});

describe('parameter and value formats', () => {
  it('reads Unix seconds and RFC 3339', () => {
    expect(parseTime('1767225600.5')).toBe(T0 + 500);
    expect(parseTime('2026-01-01T01:00:00+01:00')).toBe(T0);
    expect(parseTime('January 1')).toBeUndefined();
  });
  it('writes values as Go does', () => {
    expect(formatValue(1e21)).toBe('1000000000000000000000');
    expect(formatValue(1.5e-7)).toBe('0.00000015');
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe('+Inf');
    expect(formatValue(Number.NaN)).toBe('NaN');
    expect(formatValue(-0.25)).toBe('-0.25');
  });
});

describe('metric names', () => {
  it('map to snake_case Prometheus names, reversibly through mqlite_metric', async () => {
    const { promName, seriesLabels, storedMetric } = await import('../../../src/query/names.js');
    expect(promName('temperature')).toBe('temperature');
    expect(promName('battery.level')).toBe('battery_level');
    expect(promName('ENERGY.TotalStartTime')).toBe('energy_total_start_time');
    expect(promName('1wire')).toBe('_1wire');
    expect(promName('a:b--c')).toBe('a_b_c');
    for (const m of ['temperature', 'battery.level', 'ENERGY.Total', 'x y', 'äöü']) {
      expect(storedMetric(seriesLabels('d', m))).toBe(m);
    }
  });
});
