import { describe, expect, it } from 'vitest';
import { InvalidReadingError, readingsJson } from '../../../src/sink/readings-json.js';

describe('readingsJson', () => {
  it('writes a flat JSON object that JSON.parse reads back exactly', () => {
    const readings = [
      { metric: 'temp', value: 21.5 },
      { metric: 'battery.level', value: 97 },
      { metric: 'we"ird\\name', value: -1e-7 },
      { metric: 'huge', value: 1.2345678901234568e29 },
      { metric: 'zero', value: 0 },
    ];
    const json = readingsJson(readings);
    expect(JSON.parse(json as string)).toEqual(Object.fromEntries(readings.map((r) => [r.metric, r.value])));
  });

  it('is null without readings', () => {
    expect(readingsJson([])).toBeNull();
  });

  it('refuses what JSON cannot hold and a metric named twice', () => {
    expect(() => readingsJson([{ metric: 'v', value: Number.NaN }])).toThrow(InvalidReadingError);
    expect(() => readingsJson([{ metric: 'v', value: Number.POSITIVE_INFINITY }])).toThrow(
      /not a finite number/,
    );
    expect(() =>
      readingsJson([
        { metric: 'a', value: 1 },
        { metric: 'a', value: 2 },
      ]),
    ).toThrow('metric a appears twice in one message');
    const many = Array.from({ length: 40 }, (_, i) => ({ metric: `m${i}`, value: i }));
    expect(readingsJson(many)).not.toBeNull();
    expect(() => readingsJson([...many, { metric: 'm3', value: 0 }])).toThrow('metric m3 appears twice');
  });
});
