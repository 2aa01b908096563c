import { describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from '../../../src/decode/json-depth.js';
import { bytes } from './settings.js';

const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);

describe('jsonDepthExceeds', () => {
  it('counts arrays and objects', () => {
    expect(jsonDepthExceeds(bytes(deep(3)), 3)).toBe(false);
    expect(jsonDepthExceeds(bytes(deep(4)), 3)).toBe(true);
    expect(jsonDepthExceeds(bytes('{"a":{"b":{"c":1}}}'), 3)).toBe(false);
    expect(jsonDepthExceeds(bytes('{"a":{"b":{"c":[1]}}}'), 3)).toBe(true);
  });

  it('measures the deepest point, not the total', () => {
    expect(jsonDepthExceeds(bytes('[[1],[2],[3],[[4]]]'), 3)).toBe(false);
    expect(jsonDepthExceeds(bytes('[[1],[2],[3],[[[4]]]]'), 3)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonDepthExceeds(bytes(`{"a":"${'[{'.repeat(50)}"}`), 1)).toBe(false);
    expect(jsonDepthExceeds(bytes(`{"a":"\\"[[[[\\\\"}`), 1)).toBe(false);
    expect(jsonDepthExceeds(bytes(`{"a\\\\":[[1]]}`), 2)).toBe(true); // string ended at the unescaped quote
  });

  it('is not fooled by unbalanced closers', () => {
    expect(jsonDepthExceeds(bytes(`]]]]]]${deep(3)}`), 2)).toBe(true);
  });

  it('handles 100k levels without recursion', () => {
    expect(jsonDepthExceeds(bytes(deep(100_000)), 32)).toBe(true);
    expect(jsonDepthExceeds(bytes('{'.repeat(100_000)), 32)).toBe(true);
  });

  it('sees multi-byte UTF-8 as string content', () => {
    expect(jsonDepthExceeds(bytes('{"ü[":"€{{{"}'), 1)).toBe(false);
  });
});
