/**
 * Recursive-descent parser for mqlite's PromQL subset. Hand-written rather than built on
 * @prometheus-io/lezer-promql: the subset is a page of grammar, and lezer's tree gives error nodes
 * without messages, so naming what is unsupported would take a tree walk as long as this file.
 * It still knows the shape of the whole language (operators, offset, @, subqueries, every
 * function and aggregation name) to answer "X is not supported" instead of a syntax error.
 */
import {
  AGGREGATIONS,
  type Aggregation,
  type Expr,
  isScalar,
  type MatchOp,
  type Matcher,
  RANGE_FUNCTIONS,
  type RangeFunction,
} from './promql-ast.js';
import { parseDuration, type Token, tokenize } from './promql-lex.js';
import { QueryError } from './query-error.js';

/** Prometheus aggregations mqlite does not evaluate: named as unsupported, not as unknown. */
const OTHER_AGGREGATIONS = new Set([
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
  'limitk',
  'limit_ratio',
]);
const SET_OPERATORS = new Set(['and', 'or', 'unless']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parsePromql(src: string): Expr {
  if (src.trim() === '') throw new QueryError('bad_data', 'empty query');
  const p = new Parser(tokenize(src));
  const e = p.expr();
  p.expectEnd();
  return e;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: readonly Token[]) {}

  private get t(): Token {
    return this.toks[this.i] as Token;
  }
  private next(): Token {
    const t = this.t;
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isOp(text: string): boolean {
    return this.t.kind === 'op' && this.t.text === text;
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) throw QueryError.parse(this.t.pos, `expected "${text}", got ${describe(this.t)}`);
    this.next();
  }

  expectEnd(): void {
    if (this.t.kind !== 'eof') this.refuseTrailing();
  }

  private refuseTrailing(): never {
    const t = this.t;
    if (t.kind === 'ident' && t.text === 'offset') throw QueryError.unsupported('the offset modifier');
    if (t.kind === 'ident' && SET_OPERATORS.has(t.text))
      throw QueryError.unsupported(`the set operator "${t.text}"`);
    if (t.kind === 'op' && t.text === '@') throw QueryError.unsupported('the @ modifier');
    if (t.kind === 'op' && ['==', '!=', '>', '<', '>=', '<='].includes(t.text))
      throw QueryError.unsupported(`the comparison operator "${t.text}"`);
    throw QueryError.parse(t.pos, `unexpected ${describe(t)}`);
  }

  expr(): Expr {
    return this.binary(0);
  }

  /** Arithmetic by precedence; only between scalars (numbers), since vector matching is not supported. */
  private binary(level: number): Expr {
    const levels = [['+', '-'], ['*', '/', '%'], ['^']] as const;
    const ops = levels[level];
    if (!ops) return this.unary();
    let left = this.binary(level + 1);
    while (this.t.kind === 'op' && (ops as readonly string[]).includes(this.t.text)) {
      const op = this.next().text as '+' | '-' | '*' | '/' | '%' | '^';
      // ^ is right-associative.
      const right = op === '^' ? this.binary(level) : this.binary(level + 1);
      if (!isScalar(left) || !isScalar(right))
        throw QueryError.unsupported(`the binary operator "${op}" on vectors`);
      left = { kind: 'arith', op, left, right };
      if (op === '^') break;
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const sign = this.next().text;
      const e = this.unary();
      if (!isScalar(e)) throw QueryError.unsupported(`unary "${sign}" on a vector`);
      return sign === '-' ? { kind: 'arith', op: '*', left: { kind: 'number', value: -1 }, right: e } : e;
    }
    return this.postfix(this.primary());
  }

  /** `[range]` after a selector; subqueries, offset and @ are named and refused. */
  private postfix(e: Expr): Expr {
    let out = e;
    if (this.isOp('[')) {
      const open = this.next();
      const d = this.t;
      if (d.kind !== 'duration')
        throw QueryError.parse(d.pos, `expected a duration such as 5m, got ${describe(d)}`);
      this.next();
      // `[5m:1m]`: the lexer reads `:1m` as a name (names may hold colons).
      if (this.isOp(':') || (this.t.kind === 'ident' && this.t.text.startsWith(':')))
        throw QueryError.unsupported('a subquery');
      this.expectOp(']');
      if (out.kind !== 'vector') throw QueryError.parse(open.pos, 'ranges only allowed for vector selectors');
      const rangeMs = parseDuration(d.text) ?? 0;
      if (rangeMs <= 0) throw QueryError.parse(d.pos, 'range must be greater than zero');
      out = { kind: 'matrix', matchers: out.matchers, rangeMs };
    }
    if (this.t.kind === 'ident' && this.t.text === 'offset')
      throw QueryError.unsupported('the offset modifier');
    if (this.isOp('@')) throw QueryError.unsupported('the @ modifier');
    return out;
  }

  private primary(): Expr {
    const t = this.t;
    if (t.kind === 'number') {
      this.next();
      return { kind: 'number', value: Number(t.text) };
    }
    if (t.kind === 'duration') throw QueryError.unsupported(`a duration literal (${t.text}) as a number`);
    if (t.kind === 'string') throw QueryError.unsupported('a string literal as an expression');
    if (this.isOp('(')) {
      this.next();
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    if (this.isOp('{')) return { kind: 'vector', matchers: this.matchers([]) };
    if (t.kind !== 'ident') throw QueryError.parse(t.pos, `unexpected ${describe(t)}`);
    const name = t.text;
    const lower = name.toLowerCase();
    if (lower === 'inf' || lower === 'nan') {
      this.next();
      return { kind: 'number', value: lower === 'inf' ? Number.POSITIVE_INFINITY : Number.NaN };
    }
    if ((AGGREGATIONS as readonly string[]).includes(name)) return this.aggregate(name as Aggregation);
    if (OTHER_AGGREGATIONS.has(name)) throw QueryError.unsupported(`the aggregation "${name}"`);
    this.next();
    if (this.isOp('(')) return this.call(name);
    const nameMatcher: Matcher = { name: '__name__', op: '=', value: name };
    if (this.isOp('{')) return { kind: 'vector', matchers: this.matchers([nameMatcher]) };
    return { kind: 'vector', matchers: [nameMatcher] };
  }

  private call(name: string): Expr {
    if (!(RANGE_FUNCTIONS as readonly string[]).includes(name))
      throw QueryError.unsupported(`the function "${name}"`);
    this.expectOp('(');
    const arg = this.expr();
    if (this.isOp(',')) throw QueryError.parse(this.t.pos, `function "${name}" takes one argument`);
    this.expectOp(')');
    if (arg.kind !== 'matrix')
      throw new QueryError(
        'bad_data',
        `expected type range vector in call to function "${name}", got ${typeName(arg)}`,
      );
    return { kind: 'call', func: name as RangeFunction, arg };
  }

  /** `sum by (a) (x)` or `sum (x) by (a)`. */
  private aggregate(op: Aggregation): Expr {
    this.next();
    let grouping = this.grouping();
    this.expectOp('(');
    const arg = this.expr();
    if (this.isOp(',')) throw QueryError.parse(this.t.pos, `aggregation "${op}" takes one argument`);
    this.expectOp(')');
    grouping ??= this.grouping();
    if (arg.kind === 'matrix' || isScalar(arg))
      throw new QueryError(
        'bad_data',
        `expected type instant vector in aggregation expression, got ${typeName(arg)}`,
      );
    return { kind: 'aggregate', op, grouping, arg };
  }

  private grouping(): { mode: 'by' | 'without'; labels: string[] } | undefined {
    const t = this.t;
    if (t.kind !== 'ident' || (t.text !== 'by' && t.text !== 'without')) return undefined;
    this.next();
    this.expectOp('(');
    const labels: string[] = [];
    while (!this.isOp(')')) {
      const l = this.next();
      if (l.kind !== 'ident' || !LABEL_NAME.test(l.text))
        throw QueryError.parse(l.pos, `expected a label name, got ${describe(l)}`);
      labels.push(l.text);
      if (!this.isOp(',')) break;
      this.next();
    }
    this.expectOp(')');
    return { mode: t.text as 'by' | 'without', labels };
  }

  private matchers(initial: Matcher[]): Matcher[] {
    this.expectOp('{');
    const out = [...initial];
    while (!this.isOp('}')) {
      const l = this.next();
      // Prometheus 3 also accepts quoted label names ("my.label"="x"), and a lone quoted name.
      const name = l.kind === 'string' ? (l.value ?? '') : l.text;
      if (l.kind !== 'ident' && l.kind !== 'string')
        throw QueryError.parse(l.pos, `expected a label matcher, got ${describe(l)}`);
      if (l.kind === 'string' && (this.isOp(',') || this.isOp('}'))) {
        out.push({ name: '__name__', op: '=', value: name });
      } else {
        const opTok = this.next();
        if (opTok.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(opTok.text))
          throw QueryError.parse(
            opTok.pos,
            `expected a matching operator (=, !=, =~, !~), got ${describe(opTok)}`,
          );
        const v = this.next();
        if (v.kind !== 'string')
          throw QueryError.parse(v.pos, `expected a quoted label value, got ${describe(v)}`);
        out.push({ name, op: opTok.text as MatchOp, value: v.value ?? '' });
      }
      if (!this.isOp(',')) break;
      this.next();
    }
    this.expectOp('}');
    checkSelector(out);
    return out;
  }
}

function checkSelector(ms: readonly Matcher[]): void {
  const names = ms.filter((m) => m.name === '__name__' && m.op === '=');
  if (names.length > 1) throw new QueryError('bad_data', 'metric name must not be set twice');
  for (const m of ms) {
    if (m.op === '=~' || m.op === '!~') compileRegex(m.value);
  }
  // Prometheus: a selector must not match every series (it would load the whole database).
  if (!ms.some((m) => !matchesEmpty(m)))
    throw new QueryError('bad_data', 'vector selector must contain at least one non-empty matcher');
}

function matchesEmpty(m: Matcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return compileRegex(m.value).test('');
    case '!~':
      return !compileRegex(m.value).test('');
  }
}

/** Compiled regexes by source: a selector is matched against every series, once per query. */
const REGEX_CACHE = new Map<string, RegExp>();
const REGEX_CACHE_MAX = 256;

/** Prometheus anchors label regexes at both ends (RE2 syntax; JavaScript's covers the common part). */
export function compileRegex(src: string): RegExp {
  const cached = REGEX_CACHE.get(src);
  if (cached) return cached;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${src})$`, 's');
  } catch (err) {
    throw new QueryError(
      'bad_data',
      `invalid regular expression ${JSON.stringify(src)}: ${(err as Error).message}`,
    );
  }
  if (REGEX_CACHE.size >= REGEX_CACHE_MAX) REGEX_CACHE.clear();
  REGEX_CACHE.set(src, re);
  return re;
}

function typeName(e: Expr): string {
  if (e.kind === 'matrix') return 'range vector';
  if (isScalar(e)) return 'scalar';
  return 'instant vector';
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of input';
  return `${t.kind === 'op' ? '' : `${t.kind} `}"${t.text}"`;
}
