import { describe, expect, it } from 'vitest';
import { type FlattenRun, flattenInto, locate } from '../../../src/decode/flatten.js';
import type { Reading } from '../../../src/decode/types.js';

function flatten(
  json: string,
  max = 1000,
  skip: { a?: string[]; b?: string[] } = {},
): Reading[] | 'too many' {
  const root = JSON.parse(json) as object;
  const a = skip.a ? locate(root, skip.a) : undefined;
  const b = skip.b ? locate(root, skip.b) : undefined;
  const run: FlattenRun = {
    out: [],
    n: 0,
    max,
    skipHolderA: a?.holder,
    skipKeyA: a?.key ?? '',
    skipHolderB: b?.holder,
    skipKeyB: b?.key ?? '',
    capped: 0,
    nonFinite: 0,
  };
  return flattenInto(run, root, undefined) ? run.out : 'too many';
}

describe('flattenInto', () => {
  it('turns numeric leaves into readings in document order', () => {
    expect(flatten('{"temperature":21.5,"humidity":40,"linkquality":120}')).toEqual([
      { metric: 'temperature', value: 21.5 },
      { metric: 'humidity', value: 40 },
      { metric: 'linkquality', value: 120 },
    ]);
  });

  it('joins nested keys with dots (a Tasmota SENSOR message)', () => {
    const tasmota =
      '{"Time":"2024-03-05T10:00:00","ENERGY":{"Total":1.5,"Power":{"Now":42}},"DS18B20":{"Id":"01"}}';
    expect(flatten(tasmota)).toEqual([
      { metric: 'ENERGY.Total', value: 1.5 },
      { metric: 'ENERGY.Power.Now', value: 42 },
    ]);
  });

  it('maps booleans to 1 and 0', () => {
    expect(flatten('{"on":true,"off":false}')).toEqual([
      { metric: 'on', value: 1 },
      { metric: 'off', value: 0 },
    ]);
  });

  it('uses array indexes as key segments', () => {
    expect(flatten('{"a":[10,[20,{"b":30}]]}')).toEqual([
      { metric: 'a.0', value: 10 },
      { metric: 'a.1.0', value: 20 },
      { metric: 'a.1.1.b', value: 30 },
    ]);
    expect(flatten('[1,2]')).toEqual([
      { metric: '0', value: 1 },
      { metric: '1', value: 2 },
    ]);
  });

  it('ignores strings, null, empty containers and non-finite numbers', () => {
    expect(flatten('{"s":"21.5","n":null,"o":{},"l":[],"inf":1e400,"ninf":-1e400,"x":1}')).toEqual([
      { metric: 'x', value: 1 },
    ]);
  });

  it('keeps huge integers as the nearest double', () => {
    expect(flatten('{"big":123456789012345678901234567890}')).toEqual([
      { metric: 'big', value: 1.2345678901234568e29 },
    ]);
  });

  it('keeps the last of duplicate keys, as JSON.parse does', () => {
    expect(flatten('{"t":1,"t":2}')).toEqual([{ metric: 't', value: 2 }]);
  });

  it('keeps odd key text as it is', () => {
    expect(flatten('{"":1,"a.b":2,"x":{"":3},"ünï":4,"q\\"k":5}')).toEqual([
      { metric: '', value: 1 },
      { metric: 'a.b', value: 2 },
      { metric: 'x.', value: 3 },
      { metric: 'ünï', value: 4 },
      { metric: 'q"k', value: 5 },
    ]);
  });

  it('skips exactly the located timestamp and id leaves', () => {
    const out = flatten('{"ts":5,"meta":{"id":7,"ts":8},"meta.id":9}', 1000, {
      a: ['ts'],
      b: ['meta', 'id'],
    });
    expect(out).toEqual([
      { metric: 'meta.ts', value: 8 },
      { metric: 'meta.id', value: 9 }, // a literal key "meta.id" is not the path meta → id
    ]);
  });

  it('reports when there are more than max readings, keeping the first max', () => {
    expect(flatten('[1,2,3]', 3)).toHaveLength(3);
    expect(flatten('[1,2,3,4]', 3)).toBe('too many');
    expect(flatten('{"a":[1,2],"b":{"c":3,"d":4}}', 3)).toBe('too many');
    expect(flatten('{"a":[1,2],"s":"x","n":null,"c":3}', 3)).toHaveLength(3);
  });
});

describe('locate', () => {
  const root = JSON.parse('{"a":{"b":[5,{"c":6}]},"n":null}') as unknown;

  it('follows dot paths through objects and arrays', () => {
    expect(locate(root, ['a', 'b', '0'])?.value).toBe(5);
    expect(locate(root, ['a', 'b', '1', 'c'])?.value).toBe(6);
    expect(locate(root, ['n'])?.value).toBeNull();
  });

  it('finds nothing on missing keys or through scalars', () => {
    expect(locate(root, ['x'])).toBeUndefined();
    expect(locate(root, ['a', 'b', '2'])).toBeUndefined();
    expect(locate(root, ['n', 'x'])).toBeUndefined();
    expect(locate(5, ['a'])).toBeUndefined();
  });

  it('never finds inherited properties', () => {
    expect(locate(root, ['constructor'])).toBeUndefined();
    expect(locate(root, ['a', 'toString'])).toBeUndefined();
    expect(locate(JSON.parse('{"__proto__":{"x":1}}'), ['__proto__', 'x'])?.value).toBe(1);
  });
});
