/**
 * The PromQL subset mqlite evaluates, as a tree. Anything the parser recognises as PromQL but
 * this tree cannot hold is refused with a message naming it (see promql-parse.ts).
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
}

/** Functions over a range vector: `f(selector[range])`. */
export const RANGE_FUNCTIONS = [
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'last_over_time',
  'rate',
  'increase',
] as const;
export type RangeFunction = (typeof RANGE_FUNCTIONS)[number];

export const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** `name{l="v"}`: every matcher, the metric name as a `__name__` matcher. */
export interface VectorSelector {
  readonly kind: 'vector';
  readonly matchers: readonly Matcher[];
}

/** `name{…}[5m]`: only as the argument of a range function, or alone in an instant query. */
export interface MatrixSelector {
  readonly kind: 'matrix';
  readonly matchers: readonly Matcher[];
  readonly rangeMs: number;
}

export interface RangeCall {
  readonly kind: 'call';
  readonly func: RangeFunction;
  readonly arg: MatrixSelector;
}

export interface AggregateExpr {
  readonly kind: 'aggregate';
  readonly op: Aggregation;
  /** `by (…)` keeps these labels; `without (…)` drops them; neither: one group. */
  readonly grouping: { readonly mode: 'by' | 'without'; readonly labels: readonly string[] } | undefined;
  readonly arg: Expr;
}

/** Number literals and arithmetic between them only (Grafana checks a data source with `1+1`). */
export interface NumberLiteral {
  readonly kind: 'number';
  readonly value: number;
}

export interface ScalarArithmetic {
  readonly kind: 'arith';
  readonly op: '+' | '-' | '*' | '/' | '%' | '^';
  readonly left: ScalarExpr;
  readonly right: ScalarExpr;
}

export type ScalarExpr = NumberLiteral | ScalarArithmetic;
export type Expr = VectorSelector | MatrixSelector | RangeCall | AggregateExpr | ScalarExpr;

export function isScalar(e: Expr): e is ScalarExpr {
  return e.kind === 'number' || e.kind === 'arith';
}
