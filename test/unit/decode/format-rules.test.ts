import { describe, expect, it } from 'vitest';
import { createRuleSelector, DEFAULT_RULE, validateRules } from '../../../src/decode/format-rules.js';
import type { FormatRule } from '../../../src/decode/types.js';

const rule = (over: Partial<FormatRule> & { filter: string }): FormatRule => ({
  format: 'json',
  tsField: 'ts',
  tsUnit: 'auto',
  ...over,
});

describe('createRuleSelector', () => {
  it('uses the default json rule when there are no rules or none match', () => {
    expect(createRuleSelector([])('a/b')).toBe(DEFAULT_RULE);
    const select = createRuleSelector([rule({ filter: 'cam/#', format: 'raw' })]);
    expect(select('a/b')).toBe(DEFAULT_RULE);
    expect(DEFAULT_RULE).toMatchObject({ format: 'json', tsField: 'ts', tsUnit: 'auto', idField: undefined });
  });

  it('picks the first matching rule and splits its paths once', () => {
    const select = createRuleSelector([
      rule({ filter: 'tele/+/SENSOR', tsField: 'Time', tsUnit: 'iso' }),
      rule({ filter: 'tele/#', format: 'raw' }),
      rule({ filter: '#', tsField: 'meta.t', tsUnit: 'ms', idField: 'meta.seq' }),
    ]);
    expect(select('tele/plug1/SENSOR')).toMatchObject({ tsField: 'Time', tsUnit: 'iso', tsPath: ['Time'] });
    expect(select('tele/plug1/STATE').format).toBe('raw');
    expect(select('home/x')).toMatchObject({
      tsPath: ['meta', 't'],
      idField: 'meta.seq',
      idPath: ['meta', 'seq'],
    });
    // '#' does not match $-topics [MQTT-4.7.2-1]
    expect(select('$SYS/broker')).toBe(DEFAULT_RULE);
  });

  it('answers the same from its cache, past the cache bound, and for long topics', () => {
    const select = createRuleSelector([rule({ filter: 'a/+', format: 'raw' })]);
    const formats = new Set<string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12_000; i++) formats.add(select(`a/${i}`).format);
    }
    expect([...formats]).toEqual(['raw']);
    expect(select(`a/${'x'.repeat(70_000)}`).format).toBe('raw');
    expect(select(`b/${'x'.repeat(70_000)}`)).toBe(DEFAULT_RULE);
  });

  it('throws at startup on an invalid filter', () => {
    expect(() => createRuleSelector([rule({ filter: 'a/#/b' })])).toThrow(/formats\.0\.filter/);
  });
});

describe('validateRules', () => {
  it('names the rule at fault', () => {
    expect(validateRules([rule({ filter: '#' })])).toBeUndefined();
    expect(validateRules([rule({ filter: '#' }), rule({ filter: 'x+' })])).toMatch(/^formats\.1\.filter/);
    expect(validateRules([rule({ filter: '#', tsField: '' })])).toMatch(/^formats\.0\.tsField/);
    expect(validateRules([rule({ filter: '#', idField: '' })])).toMatch(/^formats\.0\.idField/);
  });
});
