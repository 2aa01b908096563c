/**
 * The functions over a window of raw readings, as Prometheus defines them
 * (promql/functions.go); pure, for the evaluator.
 */
import type { RangeFunction } from './promql-ast.js';

/** Value of `fn` over values[lo, hi) (times ts), window (t - rangeMs, t]; undefined: no result. */
export function overWindow(
  fn: RangeFunction,
  ts: readonly number[],
  values: readonly number[],
  lo: number,
  hi: number,
  t: number,
  rangeMs: number,
): number | undefined {
  const n = hi - lo;
  if (n <= 0) return undefined;
  switch (fn) {
    case 'count_over_time':
      return n;
    case 'last_over_time':
      return values[hi - 1];
    case 'sum_over_time':
    case 'avg_over_time': {
      let sum = 0;
      let c = 0; // Kahan compensation, as Prometheus does since 2.47
      for (let i = lo; i < hi; i++) {
        const y = (values[i] as number) - c;
        const s = sum + y;
        c = s - sum - y;
        sum = s;
      }
      return fn === 'sum_over_time' ? sum : sum / n;
    }
    case 'min_over_time':
    case 'max_over_time': {
      let m = values[lo] as number;
      for (let i = lo + 1; i < hi; i++) {
        const v = values[i] as number;
        // NaN is replaced by any number, as in Prometheus.
        if (fn === 'min_over_time' ? v < m || Number.isNaN(m) : v > m || Number.isNaN(m)) m = v;
      }
      return m;
    }
    case 'rate':
    case 'increase':
      return extrapolatedRate(ts, values, lo, hi, t - rangeMs, t, fn === 'rate');
  }
}

/**
 * Prometheus's extrapolatedRate for counters: the increase between the first and last reading
 * (counter resets added back), extrapolated towards the window's edges unless the readings stop
 * more than 1.1 average intervals short of them, and never below zero at the start.
 */
export function extrapolatedRate(
  ts: readonly number[],
  values: readonly number[],
  lo: number,
  hi: number,
  rangeStart: number,
  rangeEnd: number,
  isRate: boolean,
): number | undefined {
  const n = hi - lo;
  if (n < 2) return undefined;
  const first = values[lo] as number;
  let result = (values[hi - 1] as number) - first;
  let prev = first;
  for (let i = lo + 1; i < hi; i++) {
    const v = values[i] as number;
    if (v < prev) result += prev;
    prev = v;
  }
  const firstTs = ts[lo] as number;
  const lastTs = ts[hi - 1] as number;
  let toStart = (firstTs - rangeStart) / 1000;
  let toEnd = (rangeEnd - lastTs) / 1000;
  const sampled = (lastTs - firstTs) / 1000;
  if (sampled <= 0) return undefined;
  const avgGap = sampled / (n - 1);
  const threshold = avgGap * 1.1;
  if (toStart >= threshold) toStart = avgGap / 2;
  if (result > 0 && first >= 0) {
    const toZero = sampled * (first / result);
    if (toZero < toStart) toStart = toZero;
  }
  if (toEnd >= threshold) toEnd = avgGap / 2;
  let factor = (sampled + toStart + toEnd) / sampled;
  if (isRate) factor /= (rangeEnd - rangeStart) / 1000;
  return result * factor;
}

/** First index with ts[i] > t (binary search from lo). */
export function upperBound(ts: readonly number[], t: number, lo = 0): number {
  let a = lo;
  let b = ts.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if ((ts[mid] as number) <= t) a = mid + 1;
    else b = mid;
  }
  return a;
}
