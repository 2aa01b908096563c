/**
 * The parts of evaluation that combine values: aggregation across series (sum/avg/min/max/count
 * by/without), rollup buckets into one window's value, and the check that series left with
 * equal labels do not collide. Pure.
 */
import type { BucketColumns, BucketField } from './data.js';
import type { StepSeries } from './evaluator.js';
import { type Labels, labelsKey } from './names.js';
import type { AggregateExpr, RangeFunction } from './promql-ast.js';
import { QueryError } from './query-error.js';

export type WindowFn = RangeFunction | 'selector';

export function aggregateSeries(inner: readonly StepSeries[], e: AggregateExpr, steps: number): StepSeries[] {
  // One set of columns per group, not an object per group and step (100 series × 720 steps made
  // 72,000 of them).
  const groups = new Map<string, { labels: Labels; acc: Acc }>();
  for (const s of inner) {
    const labels = groupLabels(s.labels, e.grouping);
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) {
      g = { labels, acc: newAcc(steps) };
      groups.set(key, g);
    }
    const { sum, count, min, max } = g.acc;
    for (let k = 0; k < steps; k++) {
      const v = s.values[k];
      if (v === undefined) continue;
      if ((count[k] as number) === 0) {
        sum[k] = v;
        min[k] = v;
        max[k] = v;
      } else {
        sum[k] = (sum[k] as number) + v;
        const lo = min[k] as number;
        const hi = max[k] as number;
        if (v < lo || Number.isNaN(lo)) min[k] = v;
        if (v > hi || Number.isNaN(hi)) max[k] = v;
      }
      count[k] = (count[k] as number) + 1;
    }
  }
  return [...groups.values()].map(({ labels, acc }) => {
    const values: (number | undefined)[] = new Array(steps);
    for (let k = 0; k < steps; k++) {
      const n = acc.count[k] as number;
      values[k] =
        n === 0
          ? undefined
          : e.op === 'sum'
            ? acc.sum[k]
            : e.op === 'avg'
              ? (acc.sum[k] as number) / n
              : e.op === 'count'
                ? n
                : acc[e.op][k];
    }
    return { labels, values };
  });
}

interface Acc {
  readonly sum: Float64Array;
  readonly count: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
}

function newAcc(steps: number): Acc {
  return {
    sum: new Float64Array(steps),
    count: new Float64Array(steps),
    min: new Float64Array(steps),
    max: new Float64Array(steps),
  };
}

/** The bucket fields a window function reads. */
export function fieldsFor(fn: WindowFn): readonly BucketField[] {
  switch (fn) {
    case 'selector':
    case 'last_over_time':
      return ['last'];
    case 'count_over_time':
      return ['count'];
    case 'sum_over_time':
      return ['sum'];
    case 'avg_over_time':
      return ['sum', 'count'];
    case 'min_over_time':
      return ['min'];
    case 'max_over_time':
      return ['max'];
    default:
      return [];
  }
}

/** `fn` over buckets [lo, hi) of columns read with fieldsFor(fn); undefined: no value. */
export function combine(fn: WindowFn, b: BucketColumns, lo: number, hi: number): number | undefined {
  if (hi <= lo) return undefined;
  const f = b.fields;
  switch (fn) {
    case 'selector':
    case 'last_over_time':
      return (f.last as readonly number[])[hi - 1];
    case 'count_over_time':
      return sumOf(f.count as readonly number[], lo, hi);
    case 'sum_over_time':
      return sumOf(f.sum as readonly number[], lo, hi);
    case 'avg_over_time':
      return sumOf(f.sum as readonly number[], lo, hi) / sumOf(f.count as readonly number[], lo, hi);
    case 'min_over_time':
    case 'max_over_time': {
      const xs = (fn === 'min_over_time' ? f.min : f.max) as readonly number[];
      let m = Number.NaN;
      for (let i = lo; i < hi; i++) {
        const x = xs[i] as number;
        // NaN is replaced by any number, as in Prometheus.
        if (Number.isNaN(m) || (fn === 'min_over_time' ? x < m : x > m)) m = x;
      }
      return m;
    }
    default:
      return undefined;
  }
}

function sumOf(xs: readonly number[], lo: number, hi: number): number {
  let s = 0;
  for (let i = lo; i < hi; i++) s += xs[i] as number;
  return s;
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
