/**
 * Evaluates the PromQL subset over QueryData at the steps start, start + step, … ≤ end, with
 * Prometheus's semantics: an instant selector takes the last reading in (t − 5 min, t], a range
 * function the readings in (t − range, t] (Prometheus 3's left-open windows).
 *
 * Resolution: when the span read is over 6 h and every window is a whole number of rollup
 * buckets starting on a bucket boundary (start, step and range multiples of 1 h or 5 min, as Grafana's aligned queries are),
 * the window is answered from the 1 h or 5 min rollups instead of the raw readings. Then the
 * window is the buckets [t − range, t): a reading exactly on an edge counts one step earlier than
 * Prometheus would count it. rate and increase always read raw readings (a bucket cannot show a
 * counter reset).
 */
import { aggregateSeries, combine, fieldsFor, mergeSameLabels, type WindowFn } from './aggregate.js';
import type { BucketColumns, QueryData, Rollup, SeriesId } from './data.js';
import { ROLLUP_MS } from './data.js';
import { type Labels, seriesLabels, withoutName } from './names.js';
import type { AggregateExpr, Expr, Matcher, ScalarExpr } from './promql-ast.js';
import { compileRegex } from './promql-parse.js';
import { QueryError } from './query-error.js';
import { overWindow, upperBound } from './window-fns.js';

/** Prometheus's default --query.lookback-delta. */
export const LOOKBACK_MS = 300_000;
/**
 * Spans up to this are read raw, exactly: a few thousand readings per series at a 10 s
 * interval, cheaper than the difference they make. Longer aligned spans read rollups.
 */
export const RAW_SPAN_MS = 6 * 3_600_000;

/** Series whose buckets are read by one call: a bound on what a query loads before its limits are checked. */
const BUCKET_CHUNK = 256;

export interface EvalParams {
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

export interface EvalLimits {
  /** Date.now() past this: the query fails with a timeout. */
  readonly deadline: number;
  /** Readings and buckets loaded per query (Prometheus's --query.max-samples). */
  readonly maxSamples: number;
}

export interface StepSeries {
  readonly labels: Labels;
  /** One per step; undefined where the series has no value. */
  readonly values: (number | undefined)[];
}

export interface RawSeries {
  readonly labels: Labels;
  readonly ts: readonly number[];
  readonly values: readonly number[];
}

export type EvalResult =
  | { readonly type: 'scalar'; readonly value: number }
  | { readonly type: 'steps'; readonly series: StepSeries[]; readonly resolution: string }
  | { readonly type: 'raw'; readonly series: RawSeries[] };

interface Known extends SeriesId {
  readonly labels: Labels;
}

export function evaluate(expr: Expr, p: EvalParams, data: QueryData, limits: EvalLimits): EvalResult {
  return new Evaluation(p, data, limits).run(expr);
}

export function evalScalar(e: ScalarExpr): number {
  if (e.kind === 'number') return e.value;
  const a = evalScalar(e.left);
  const b = evalScalar(e.right);
  switch (e.op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return a ** b;
  }
}

/** Whether a label set satisfies every matcher (a missing label is the empty string). */
export function matchesAll(labels: Labels, matchers: readonly Matcher[]): boolean {
  return matchers.every((m) => matches(labels[m.name] ?? '', m));
}

function matches(v: string, m: Matcher): boolean {
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return compileRegex(m.value).test(v);
    case '!~':
      return !compileRegex(m.value).test(v);
  }
}

class Evaluation {
  private readonly steps: number;
  private samples = 0;
  private known: Known[] | undefined;
  private resolution = 'raw';

  constructor(
    private readonly p: EvalParams,
    private readonly data: QueryData,
    private readonly limits: EvalLimits,
  ) {
    this.steps = Math.floor((p.end - p.start) / p.step) + 1;
  }

  run(expr: Expr): EvalResult {
    switch (expr.kind) {
      case 'number':
      case 'arith':
        return { type: 'scalar', value: evalScalar(expr) };
      case 'matrix':
        return { type: 'raw', series: this.rawRange(expr.matchers, expr.rangeMs) };
      default: {
        const series = this.vector(expr).filter((s) => s.values.some((v) => v !== undefined));
        return { type: 'steps', series, resolution: this.resolution };
      }
    }
  }

  private vector(e: Exclude<Expr, ScalarExpr | { kind: 'matrix' }>): StepSeries[] {
    switch (e.kind) {
      case 'vector':
        return this.windowed('selector', e.matchers, LOOKBACK_MS);
      case 'call':
        return this.windowed(e.func, e.arg.matchers, e.arg.rangeMs);
      case 'aggregate':
        return this.aggregate(e);
    }
  }

  private select(matchers: readonly Matcher[]): Known[] {
    this.known ??= this.data.listSeries().map((s) => ({ ...s, labels: seriesLabels(s.device, s.metric) }));
    return this.known.filter((s) => matchesAll(s.labels, matchers));
  }

  private tick(loaded: number): void {
    this.samples += loaded;
    if (this.samples > this.limits.maxSamples)
      throw new QueryError(
        'execution',
        `query processing would load too many samples into memory in query execution (limit ${this.limits.maxSamples})`,
      );
    if (Date.now() > this.limits.deadline)
      throw new QueryError('timeout', 'query timed out in query execution');
  }

  private rawRange(matchers: readonly Matcher[], rangeMs: number): RawSeries[] {
    const out: RawSeries[] = [];
    for (const s of this.select(matchers)) {
      const pts = this.data.points(s, this.p.end - rangeMs, this.p.end);
      this.tick(pts.ts.length);
      if (pts.ts.length > 0) out.push({ labels: s.labels, ts: pts.ts, values: pts.values });
    }
    return out;
  }

  private pickRollup(fn: WindowFn, windowMs: number): Rollup | undefined {
    if (fn === 'rate' || fn === 'increase') return undefined;
    const { start, end, step } = this.p;
    if (end - start + windowMs <= RAW_SPAN_MS) return undefined;
    for (const r of ['1h', '5m'] as const) {
      const b = ROLLUP_MS[r];
      if (windowMs % b === 0 && start % b === 0 && (this.steps === 1 || step % b === 0)) return r;
    }
    return undefined;
  }

  private windowed(fn: WindowFn, matchers: readonly Matcher[], windowMs: number): StepSeries[] {
    const rollup = this.pickRollup(fn, windowMs);
    if (rollup) this.resolution = rollup;
    const out: StepSeries[] = [];
    const latest = this.latestFor(fn);
    const t = this.p.end;
    const selected = this.select(matchers);
    // The latest reading answers an instant "last value" exactly when it is not after t: no
    // reading can lie between it and t. (Dashboards' "current value" panels ask just that.)
    const fromLatest = (s: Known) => {
      const l = latest?.get(`${s.device}\u0000${s.metric}`);
      return l && l.ts <= t ? l : undefined;
    };
    const buckets = rollup
      ? this.loadBuckets(
          fn,
          selected.filter((s) => !fromLatest(s)),
          rollup,
          windowMs,
        )
      : undefined;
    for (const s of selected) {
      const l = fromLatest(s);
      const b = buckets?.get(s);
      const values = l
        ? [l.ts > t - windowMs ? l.value : undefined]
        : b
          ? this.fromBuckets(fn, b, windowMs)
          : this.fromRaw(fn, s, windowMs);
      // Prometheus drops the metric name from a function's result, except last_over_time's.
      const keep = fn === 'selector' || fn === 'last_over_time';
      out.push({ labels: keep ? s.labels : withoutName(s.labels), values });
    }
    return mergeSameLabels(out, this.steps);
  }

  /** Buckets of many series, BUCKET_CHUNK at a time: the limits are checked between chunks. */
  private loadBuckets(
    fn: WindowFn,
    series: readonly Known[],
    rollup: Rollup,
    windowMs: number,
  ): Map<Known, BucketColumns> {
    const { start, end } = this.p;
    const out = new Map<Known, BucketColumns>();
    for (let i = 0; i < series.length; i += BUCKET_CHUNK) {
      const chunk = series.slice(i, i + BUCKET_CHUNK);
      const cols = this.data.buckets(chunk, rollup, start - windowMs, end, fieldsFor(fn));
      let n = 0;
      chunk.forEach((s, k) => {
        const c = cols[k] as BucketColumns;
        n += c.start.length;
        out.set(s, c);
      });
      this.tick(n);
    }
    return out;
  }

  /** For an instant selector or last_over_time, the latest reading of every series. */
  private latestFor(fn: WindowFn): Map<string, { ts: number; value: number }> | undefined {
    if (this.steps !== 1 || (fn !== 'selector' && fn !== 'last_over_time')) return undefined;
    const rows = this.data.latest();
    this.tick(rows.length);
    return new Map(rows.map((r) => [`${r.device}\u0000${r.metric}`, r]));
  }

  private fromRaw(fn: WindowFn, s: SeriesId, windowMs: number): (number | undefined)[] {
    const { start, end, step } = this.p;
    const { ts, values } = this.data.points(s, start - windowMs, end);
    this.tick(ts.length);
    const out: (number | undefined)[] = new Array(this.steps);
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < this.steps; k++) {
      const t = start + k * step;
      hi = upperBound(ts, t, hi);
      lo = upperBound(ts, t - windowMs, lo);
      out[k] =
        fn === 'selector'
          ? hi > lo
            ? values[hi - 1]
            : undefined
          : overWindow(fn, ts, values, lo, hi, t, windowMs);
    }
    return out;
  }

  private fromBuckets(fn: WindowFn, buckets: BucketColumns, windowMs: number): (number | undefined)[] {
    const { start, step } = this.p;
    const starts = buckets.start;
    const out: (number | undefined)[] = new Array(this.steps);
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < this.steps; k++) {
      const t = start + k * step;
      while (hi < starts.length && (starts[hi] as number) < t) hi++;
      while (lo < hi && (starts[lo] as number) < t - windowMs) lo++;
      out[k] = combine(fn, buckets, lo, hi);
    }
    return out;
  }

  private aggregate(e: AggregateExpr): StepSeries[] {
    return aggregateSeries(
      this.vector(e.arg as Exclude<Expr, ScalarExpr | { kind: 'matrix' }>),
      e,
      this.steps,
    );
  }
}
