/**
 * The data endpoints of Prometheus's HTTP API over QueryData: /api/v1/query, /query_range,
 * /series, /labels, /label/<name>/values. Pure (no I/O beyond QueryData), so it runs in the
 * query worker against SQLite and in unit tests against a fake; its answers are Prometheus's
 * JSON shapes.
 */
import {
  formatTime,
  formatValue,
  type Params,
  param,
  parseDurationParam,
  parseTimeParam,
} from './api-params.js';
import type { QueryData, TimeRange } from './data.js';
import { type EvalResult, evaluate, matchesAll } from './evaluator.js';
import { type Labels, labelsKey, metricType, seriesLabels } from './names.js';
import type { Matcher } from './promql-ast.js';
import { parsePromql } from './promql-parse.js';
import { QueryError } from './query-error.js';

/** Prometheus refuses range queries of more points per series (web/api/v1/api.go). */
export const MAX_POINTS_PER_SERIES = 11_000;

/** The times a JavaScript Date can hold: what parseTime clamps Prometheus's min/max sentinels to. */
const MIN_TIME = -8.64e15;
const MAX_TIME = 8.64e15;

export type DataRoute = 'query' | 'query_range' | 'series' | 'labels' | 'label_values' | 'metadata';

export interface ApiRequest {
  readonly route: DataRoute;
  readonly params: Params;
  /** For label_values: the label name from the path. */
  readonly label?: string;
  /** Date.now() at receipt: the default evaluation time. */
  readonly now: number;
}

export interface ApiLimits {
  readonly timeoutMs: number;
  readonly maxSamples: number;
}

/** The `data` member of a success response. */
export type ApiData = unknown;

/** What an answer came from, for the Mqlite-Resolution response header: raw, 5m or 1h. */
export interface ApiNotes {
  resolution?: string;
}

/** The answer's `data` as Prometheus's JSON shapes (tests, and JSON.stringify of anything but a matrix). */
export function handleApi(...call: ApiCall): ApiData {
  const d = answer(...call);
  return d instanceof Matrix ? d.plain() : d;
}

/**
 * The answer's `data` as JSON text: what the query worker sends. A range query's matrix is
 * written as text point by point, without a [time, "value"] array per point for JSON.stringify to
 * walk (a month at 1 h over 100 series is 72,000 of them).
 */
export function handleApiJson(...call: ApiCall): string {
  const d = answer(...call);
  return d instanceof Matrix ? d.json() : JSON.stringify(d);
}

/** A request, the data it reads, its limits and (written) notes about the answer. */
type ApiCall = [req: ApiRequest, data: QueryData, limits: ApiLimits, notes?: ApiNotes];

function answer(...[req, data, limits, notes = {}]: ApiCall): ApiData | Matrix {
  // The deadline is about time spent (real clock), `now` about which data (the request's clock).
  const deadline = Date.now() + timeoutOf(req.params, limits.timeoutMs);
  const evalLimits = { deadline, maxSamples: limits.maxSamples };
  switch (req.route) {
    case 'query': {
      const expr = parsePromql(required(req.params, 'query'));
      const t = parseTimeParam(req.params, 'time', req.now);
      const r = evaluate(expr, { start: t, end: t, step: 1 }, data, evalLimits);
      if (r.type === 'steps') notes.resolution = r.resolution;
      return instantData(r, t);
    }
    case 'query_range': {
      const expr = parsePromql(required(req.params, 'query'));
      const start = parseTimeParam(req.params, 'start', Number.NaN);
      const end = parseTimeParam(req.params, 'end', Number.NaN);
      if (Number.isNaN(start)) throw new QueryError('bad_data', 'invalid parameter "start": missing');
      if (Number.isNaN(end)) throw new QueryError('bad_data', 'invalid parameter "end": missing');
      if (end < start) throw new QueryError('bad_data', 'end timestamp must not be before start time');
      const step = parseDurationParam(req.params, 'step');
      if (step === undefined) throw new QueryError('bad_data', 'invalid parameter "step": missing');
      if (step <= 0)
        throw new QueryError(
          'bad_data',
          'zero or negative query resolution step widths are not accepted. Try a positive integer',
        );
      if ((end - start) / step > MAX_POINTS_PER_SERIES)
        throw new QueryError(
          'bad_data',
          'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
        );
      if (expr.kind === 'matrix')
        throw new QueryError(
          'bad_data',
          'invalid expression type "range vector" for range query, must be Scalar or instant Vector',
        );
      const r = evaluate(expr, { start, end, step }, data, evalLimits);
      if (r.type === 'steps') notes.resolution = r.resolution;
      return rangeData(r, start, end, step);
    }
    case 'series': {
      const sets = matchSets(req.params, true);
      return sortLabels(selectLabels(data, sets, rangeOf(req.params)));
    }
    case 'labels': {
      const names = new Set<string>();
      for (const l of selectLabels(data, matchSets(req.params, false), rangeOf(req.params)))
        for (const k of Object.keys(l)) names.add(k);
      return [...names].sort();
    }
    case 'metadata': {
      // Grafana shows this beside the metric names.
      const out: Record<string, { type: string; help: string; unit: string }[]> = {};
      for (const l of selectLabels(data, undefined, undefined)) {
        const name = l.__name__ ?? '';
        out[name] ??= [
          { type: metricType(name), help: `mqlite reading ${l.mqlite_metric ?? name}`, unit: '' },
        ];
      }
      return out;
    }
    case 'label_values': {
      const name = req.label ?? '';
      const values = new Set<string>();
      for (const l of selectLabels(data, matchSets(req.params, false), rangeOf(req.params))) {
        const v = l[name];
        if (v !== undefined && v !== '') values.add(v);
      }
      return [...values].sort();
    }
  }
}

function required(p: Params, name: string): string {
  const v = param(p, name);
  if (v === undefined) throw new QueryError('bad_data', `invalid parameter "${name}": missing`);
  return v;
}

function timeoutOf(p: Params, max: number): number {
  const t = parseDurationParam(p, 'timeout');
  return t === undefined ? max : Math.min(t, max);
}

/** `match[]` selectors; none means every series unless `required`. */
function matchSets(p: Params, needed: boolean): Matcher[][] | undefined {
  const raw = p['match[]'] ?? [];
  if (raw.length === 0) {
    if (needed) throw new QueryError('bad_data', 'no match[] parameter provided');
    return undefined;
  }
  return raw.map((m) => {
    const e = parsePromql(m);
    if (e.kind !== 'vector')
      throw new QueryError('bad_data', `invalid parameter "match[]": ${m} is not a series selector`);
    return [...e.matchers];
  });
}

/**
 * `start`/`end` of the metadata endpoints: series with a reading between them. Absent, they are
 * Prometheus's minTime and maxTime (every series); undefined when both are absent.
 */
function rangeOf(p: Params): TimeRange | undefined {
  if (param(p, 'start') === undefined && param(p, 'end') === undefined) return undefined;
  const start = parseTimeParam(p, 'start', MIN_TIME);
  const end = parseTimeParam(p, 'end', MAX_TIME);
  if (end < start) throw new QueryError('bad_data', 'end timestamp must not be before start time');
  return { start, end };
}

function selectLabels(
  data: QueryData,
  sets: Matcher[][] | undefined,
  range: TimeRange | undefined,
): Labels[] {
  const all = data.listSeries(range).map((s) => seriesLabels(s.device, s.metric));
  if (!sets) return all;
  return all.filter((l) => sets.some((ms) => matchesAll(l, ms)));
}

function sortLabels(ls: Labels[]): Labels[] {
  return ls
    .map((l) => ({ l, k: labelsKey(l) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.l);
}

function instantData(r: EvalResult, t: number): ApiData {
  switch (r.type) {
    case 'scalar':
      return { resultType: 'scalar', result: [formatTime(t), formatValue(r.value)] };
    case 'raw':
      return {
        resultType: 'matrix',
        result: sortBy(r.series).map((s) => ({
          metric: s.labels,
          values: s.ts.map((ts, i) => [formatTime(ts), formatValue(s.values[i] as number)]),
        })),
      };
    case 'steps':
      return {
        resultType: 'vector',
        result: sortBy(r.series).map((s) => ({
          metric: s.labels,
          value: [formatTime(t), formatValue(s.values[0] as number)],
        })),
      };
  }
}

function rangeData(r: EvalResult, start: number, end: number, step: number): Matrix {
  if (r.type === 'raw') throw new QueryError('internal', 'range vector in a range query');
  if (r.type === 'scalar') {
    // A number over a range is a matrix of one series with no labels, as in Prometheus.
    const values: number[] = [];
    for (let t = start; t <= end; t += step) values.push(r.value);
    return new Matrix([{ labels: {}, values }], start, step);
  }
  return new Matrix(sortBy(r.series), start, step);
}

/** A range query's answer: series with a value (or none) per step from start. */
class Matrix {
  constructor(
    private readonly series: readonly { labels: Labels; values: readonly (number | undefined)[] }[],
    private readonly start: number,
    private readonly step: number,
  ) {}

  plain(): ApiData {
    return {
      resultType: 'matrix',
      result: this.series.map((s) => {
        const values: [number, string][] = [];
        s.values.forEach((v, k) => {
          if (v !== undefined) values.push([formatTime(this.start + k * this.step), formatValue(v)]);
        });
        return { metric: s.labels, values };
      }),
    };
  }

  /** The same as JSON.stringify(plain()): times are JSON numbers, values strings needing no escape. */
  json(): string {
    const parts = this.series.map((s) => {
      let pts = '';
      s.values.forEach((v, k) => {
        if (v === undefined) return;
        pts += `${pts === '' ? '' : ','}[${formatTime(this.start + k * this.step)},"${formatValue(v)}"]`;
      });
      return `{"metric":${JSON.stringify(s.labels)},"values":[${pts}]}`;
    });
    return `{"resultType":"matrix","result":[${parts.join(',')}]}`;
  }
}

function sortBy<T extends { labels: Labels }>(xs: readonly T[]): T[] {
  return xs
    .map((x) => ({ x, k: labelsKey(x.labels) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((y) => y.x);
}
