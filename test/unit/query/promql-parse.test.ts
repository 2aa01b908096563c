import { describe, expect, it } from 'vitest';
import { parsePromql } from '../../../src/query/promql-parse.js';

function error(q: string): string {
  try {
    parsePromql(q);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`parsed: ${q}`);
}

describe('PromQL subset parser', () => {
  it('reads selectors with every matcher kind, the name as __name__', () => {
    expect(parsePromql('temperature{device="kitchen", room!="x", mqlite_metric=~"a.*", b!~\'c\'}')).toEqual({
      kind: 'vector',
      matchers: [
        { name: '__name__', op: '=', value: 'temperature' },
        { name: 'device', op: '=', value: 'kitchen' },
        { name: 'room', op: '!=', value: 'x' },
        { name: 'mqlite_metric', op: '=~', value: 'a.*' },
        { name: 'b', op: '!~', value: 'c' },
      ],
    });
    expect(parsePromql('{__name__="x"}')).toEqual({
      kind: 'vector',
      matchers: [{ name: '__name__', op: '=', value: 'x' }],
    });
    expect(parsePromql('{"battery.level"}')).toEqual({
      kind: 'vector',
      matchers: [{ name: '__name__', op: '=', value: 'battery.level' }],
    });
  });

  it('reads range functions and aggregations with by/without before or after', () => {
    expect(parsePromql('avg_over_time(t[1h30m])')).toEqual({
      kind: 'call',
      func: 'avg_over_time',
      arg: { kind: 'matrix', matchers: [{ name: '__name__', op: '=', value: 't' }], rangeMs: 5_400_000 },
    });
    const a = parsePromql('sum by (device) (rate(c[5m]))');
    const b = parsePromql('sum(rate(c[5m])) by (device)');
    expect(a).toEqual(b);
    expect(a).toMatchObject({ kind: 'aggregate', op: 'sum', grouping: { mode: 'by', labels: ['device'] } });
    expect(parsePromql('max without (device) (x)')).toMatchObject({
      grouping: { mode: 'without', labels: ['device'] },
    });
  });

  it('evaluates number arithmetic only (Grafana tests a data source with 1+1)', () => {
    expect(parsePromql('1+1')).toMatchObject({ kind: 'arith', op: '+' });
    expect(parsePromql('2 * (3 - -1)')).toMatchObject({ kind: 'arith', op: '*' });
  });

  it('names what is unsupported rather than reporting a syntax error', () => {
    expect(error('x + y')).toMatch(/binary operator "\+" on vectors is not supported/);
    expect(error('histogram_quantile(0.9, x)')).toMatch(/function "histogram_quantile" is not supported/);
    expect(error('topk(3, x)')).toMatch(/aggregation "topk" is not supported/);
    expect(error('x offset 5m')).toMatch(/offset modifier is not supported/);
    expect(error('x @ 100')).toMatch(/@ modifier is not supported/);
    expect(error('rate(x[5m:1m])')).toMatch(/subquery is not supported/);
    expect(error('x and y')).toMatch(/set operator "and" is not supported/);
    expect(error('x > 1')).toMatch(/comparison operator ">" is not supported/);
  });

  it('refuses malformed queries with the position', () => {
    expect(error('rate(x)')).toMatch(
      /expected type range vector in call to function "rate", got instant vector/,
    );
    expect(error('sum(x[5m])')).toMatch(
      /expected type instant vector in aggregation expression, got range vector/,
    );
    expect(error('x{device="a"')).toMatch(/parse error at char 13/);
    expect(error('{device=""}')).toMatch(/at least one non-empty matcher/);
    expect(error('x{a=~"("}')).toMatch(/invalid regular expression/);
    expect(error('')).toMatch(/empty query/);
    expect(error('x[0s]')).toMatch(/greater than zero/);
  });
});
