import { describe, expect, it } from 'vitest';
import { describeBadTimestamp, timestampMs } from '../../../src/decode/timestamp.js';

const T = 1_700_000_000_000; // 2023-11-14T22:13:20Z

describe('timestampMs, numbers', () => {
  it('reads seconds and milliseconds as told', () => {
    expect(timestampMs(1_700_000_000, 's')).toBe(T);
    expect(timestampMs(1_700_000_000.5, 's')).toBe(T + 500);
    expect(timestampMs(T, 'ms')).toBe(T);
    expect(timestampMs(30, 'ms')).toBe(30);
  });

  it('auto: below 1e11 is seconds, from 1e11 milliseconds', () => {
    expect(timestampMs(1_700_000_000, 'auto')).toBe(T);
    expect(timestampMs(T, 'auto')).toBe(T);
    expect(timestampMs(99_999_999_999, 'auto')).toBe(99_999_999_999_000);
    expect(timestampMs(1e11, 'auto')).toBe(1e11);
    expect(timestampMs(0, 'auto')).toBe(0); // a Pi without RTC: 1970
    expect(timestampMs(4_733_510_400, 'auto')).toBe(Date.UTC(2120, 0, 1)); // 2120 in seconds
  });

  it('rounds to whole milliseconds', () => {
    expect(timestampMs(1.0005, 's')).toBe(1001);
    expect(timestampMs(T + 0.4, 'ms')).toBe(T);
  });

  it('rejects non-finite numbers and overflow', () => {
    expect(timestampMs(Number.POSITIVE_INFINITY, 'auto')).toBeNaN();
    expect(timestampMs(Number.NaN, 'ms')).toBeNaN();
    expect(timestampMs(1e306, 's')).toBeNaN(); // × 1000 overflows
  });

  it('rejects numbers when the unit is iso', () => {
    expect(timestampMs(T, 'iso')).toBeNaN();
  });
});

describe('timestampMs, strings', () => {
  it('parses ISO-8601 in auto and iso', () => {
    for (const unit of ['auto', 'iso'] as const) {
      expect(timestampMs('2023-11-14T22:13:20Z', unit)).toBe(T);
      expect(timestampMs('2023-11-14T22:13:20.000Z', unit)).toBe(T);
      expect(timestampMs('2023-11-14T23:13:20+01:00', unit)).toBe(T);
      expect(timestampMs('2023-11-14', unit)).toBe(Date.UTC(2023, 10, 14));
      expect(timestampMs('1970-01-01T00:00:00Z', unit)).toBe(0);
      expect(timestampMs('2120-01-01T00:00:00Z', unit)).toBe(Date.UTC(2120, 0, 1));
    }
  });

  it('rejects what Date.parse would wrongly accept', () => {
    for (const s of ['1', '2024', '1700000000', 'hello 5', 'Tue Mar 05 2024', '', ' ']) {
      expect(timestampMs(s, 'auto'), s).toBeNaN();
      expect(timestampMs(s, 'iso'), s).toBeNaN();
    }
  });

  it('rejects unparsable and absurdly long ISO-looking strings', () => {
    expect(timestampMs('2023-13-45T99:99:99Z', 'iso')).toBeNaN();
    expect(timestampMs(`2023-11-14T22:13:20Z${' '.repeat(100)}`, 'iso')).toBeNaN();
  });

  it('reads numeric strings only for s and ms', () => {
    expect(timestampMs('1700000000', 's')).toBe(T);
    expect(timestampMs(' 1700000000000 ', 'ms')).toBe(T);
    expect(timestampMs('1.7e9', 's')).toBe(T);
    expect(timestampMs('0x10', 's')).toBeNaN();
    expect(timestampMs('', 's')).toBeNaN();
    expect(timestampMs('12abc', 'ms')).toBeNaN();
    expect(timestampMs('Infinity', 'ms')).toBeNaN();
    expect(timestampMs('2023-11-14T22:13:20Z', 's')).toBeNaN();
    expect(timestampMs('1e400', 'ms')).toBeNaN();
  });
});

describe('timestampMs, wrong types', () => {
  it.each([null, true, false, {}, [], [T], { t: T }, undefined])('rejects %j', (v) => {
    expect(timestampMs(v, 'auto')).toBeNaN();
    expect(timestampMs(v, 'ms')).toBeNaN();
  });
});

describe('describeBadTimestamp', () => {
  it('names the field, the expectation and the value, briefly', () => {
    expect(describeBadTimestamp('ts', 'soon', 'iso')).toBe('ts: expected an ISO-8601 string, got "soon"');
    expect(describeBadTimestamp('meta.t', null, 'ms')).toBe(
      'meta.t: expected milliseconds since epoch, got null',
    );
    expect(describeBadTimestamp('ts', [1], 's')).toContain('an array');
    expect(describeBadTimestamp('ts', 'x'.repeat(1000), 'auto').length).toBeLessThan(120);
  });
});
