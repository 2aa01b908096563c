import { describe, expect, it } from 'vitest';
import { createRuleSelector, defaultRule, validateRules } from '../../../src/decode/format-rules.js';
import type { FormatRule } from '../../../src/decode/types.js';

const rule = (over: Partial<FormatRule> & { filter: string }): FormatRule => ({
  format: 'json',
  tsField: 'ts',
  tsUnit: 'auto',
  ...over,
});

describe('createRuleSelector', () => {
  it('uses the default auto rule when there are no rules or none match', () => {
    expect(createRuleSelector([])('a/b').source).toBe('default');
    const select = createRuleSelector([rule({ filter: 'cam/#', format: 'raw' })]);
    expect(select('a/b').source).toBe('default');
    expect(defaultRule()).toMatchObject({
      format: 'auto',
      tsField: 'ts',
      tsUnit: 'auto',
      idField: undefined,
    });
  });

  it('applies a rule with its own template only where that template matches', () => {
    const select = createRuleSelector([
      rule({ filter: 'z/#', template: 'z/{device#}/availability', format: 'text' }),
      rule({ filter: 'z/#', template: 'z/{device#}' }),
    ]);
    const a = select('z/kitchen/lamp/availability');
    expect(a.format).toBe('text');
    expect(a.deviceOf(a.matchTemplate('z/kitchen/lamp/availability'))).toBe('kitchen/lamp');
    const s = select('z/kitchen/lamp');
    expect(s.format).toBe('json');
    expect(s.deviceOf(s.matchTemplate('z/kitchen/lamp'))).toBe('kitchen/lamp');
  });

  it('names devices and metrics from the captures', () => {
    const r = createRuleSelector([
      rule({ filter: 'o/+/+', template: 'o/{user}/{phone}', device: '{user}/{phone}', metric: 'x.{phone}' }),
    ])('o/jane/pixel');
    const m = r.matchTemplate('o/jane/pixel');
    expect(r.deviceOf(m)).toBe('jane/pixel');
    expect(r.metricOf(m)).toBe('x.pixel');
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
    expect(select('$SYS/broker').source).toBe('default');
  });

  it('answers the same from its cache, past the cache bound, and for long topics', () => {
    const select = createRuleSelector([rule({ filter: 'a/+', format: 'raw' })]);
    const formats = new Set<string>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12_000; i++) formats.add(select(`a/${i}`).format);
    }
    expect([...formats]).toEqual(['raw']);
    expect(select(`a/${'x'.repeat(70_000)}`).format).toBe('raw');
    expect(select(`b/${'x'.repeat(70_000)}`).source).toBe('default');
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
    expect(validateRules([rule({ filter: '#', template: 'a/{x}', device: '{y}' })])).toMatch(
      /^formats\.0\.device: "\{y\}" is not a capture/,
    );
    expect(validateRules([rule({ filter: '#', tsZone: 'Mars/Olympus' })])).toMatch(/^formats\.0\.tsZone/);
    expect(validateRules([rule({ filter: '#', template: 'a/{d#}/#' })])).toMatch(/^formats\.0\.template/);
  });
});
