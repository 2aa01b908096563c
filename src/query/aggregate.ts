/**
 * The parts of evaluation that combine values: aggregation across series (sum/avg/min/max/count
 * by/without), rollup buckets into one window's value, and the check that series left with
 * equal labels do not collide. Pure.
 */
import type { Bucket } from './data.js';
import type { StepSeries } from './evaluator.js';
import { type Labels, labelsKey } from './names.js';
import type { AggregateExpr, RangeFunction } from './promql-ast.js';
import { QueryError } from './query-error.js';

export type WindowFn = RangeFunction | 'selector';

export function aggregateSeries(inner: readonly StepSeries[], e: AggregateExpr, steps: number): StepSeries[] {
  const groups = new Map<string, { labels: Labels; acc: Acc[] }>();
  for (const s of inner) {
    const labels = groupLabels(s.labels, e.grouping);
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) {
      g = { labels, acc: [] };
      groups.set(key, g);
    }
    for (let k = 0; k < steps; k++) {
      const v = s.values[k];
      if (v === undefined) continue;
      const a = g.acc[k];
      if (!a) g.acc[k] = { sum: v, count: 1, min: v, max: v };
      else {
        a.sum += v;
        a.count++;
        if (v < a.min || Number.isNaN(a.min)) a.min = v;
        if (v > a.max || Number.isNaN(a.max)) a.max = v;
      }
    }
  }
  return [...groups.values()].map((g) => ({
    labels: g.labels,
    values: Array.from({ length: steps }, (_, k) => {
      const a = g.acc[k];
      if (!a) return undefined;
      return e.op === 'sum' ? a.sum : e.op === 'avg' ? a.sum / a.count : e.op === 'count' ? a.count : a[e.op];
    }),
  }));
}

interface Acc {
  sum: number;
  count: number;
  min: number;
  max: number;
}

export function combine(fn: WindowFn, b: readonly Bucket[], lo: number, hi: number): number | undefined {
  if (hi <= lo) return undefined;
  const last = b[hi - 1] as Bucket;
  if (fn === 'selector' || fn === 'last_over_time') return last.last;
  let count = 0;
  let sum = 0;
  let min = Number.NaN;
  let max = Number.NaN;
  for (let i = lo; i < hi; i++) {
    const x = b[i] as Bucket;
    count += x.count;
    sum += x.sum;
    if (x.min < min || Number.isNaN(min)) min = x.min;
    if (x.max > max || Number.isNaN(max)) max = x.max;
  }
  switch (fn) {
    case 'count_over_time':
      return count;
    case 'sum_over_time':
      return sum;
    case 'avg_over_time':
      return sum / count;
    case 'min_over_time':
      return min;
    case 'max_over_time':
      return max;
    default:
      return undefined;
  }
}

function groupLabels(labels: Labels, grouping: AggregateExpr['grouping']): Labels {
  const out: Record<string, string> = {};
  if (!grouping) return out;
  if (grouping.mode === 'by') {
    for (const l of grouping.labels) {
      const v = labels[l];
      if (v !== undefined && v !== '') out[l] = v;
    }
    return out;
  }
  for (const [k, v] of Object.entries(labels)) {
    if (k !== '__name__' && !grouping.labels.includes(k)) out[k] = v;
  }
  return out;
}

/** Series left with equal labels (names dropped) must not both have a value at one step. */
export function mergeSameLabels(series: StepSeries[], steps: number): StepSeries[] {
  const byKey = new Map<string, StepSeries>();
  for (const s of series) {
    const key = labelsKey(s.labels);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, s);
      continue;
    }
    for (let k = 0; k < steps; k++) {
      if (s.values[k] === undefined) continue;
      if (seen.values[k] !== undefined)
        throw new QueryError('execution', 'vector cannot contain metrics with the same labelset');
      seen.values[k] = s.values[k];
    }
  }
  return [...byKey.values()];
}
