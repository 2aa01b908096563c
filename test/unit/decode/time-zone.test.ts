import { describe, expect, it } from 'vitest';
import { isKnownZone, wallClockToMs } from '../../../src/decode/time-zone.js';

describe('wallClockToMs', () => {
  it('reads a wall-clock time in an IANA zone, summer and winter', () => {
    expect(wallClockToMs('2024-07-01T14:00:00', 'Europe/Berlin')).toBe(Date.UTC(2024, 6, 1, 12));
    expect(wallClockToMs('2024-01-15T14:00:00', 'Europe/Berlin')).toBe(Date.UTC(2024, 0, 15, 13));
    expect(wallClockToMs('2024-01-15T14:00:00', 'America/New_York')).toBe(Date.UTC(2024, 0, 15, 19));
    expect(wallClockToMs('2024-01-15T14:00:00.250', 'UTC')).toBe(Date.UTC(2024, 0, 15, 14, 0, 0, 250));
    expect(wallClockToMs('2024-01-15 14:00', 'Asia/Kolkata')).toBe(Date.UTC(2024, 0, 15, 8, 30));
  });

  it('resolves the hours around a DST change to real instants', () => {
    // 2024-03-31 02:30 does not exist in Berlin; 2024-10-27 02:30 happens twice.
    const gap = wallClockToMs('2024-03-31T02:30:00', 'Europe/Berlin')!;
    expect([Date.UTC(2024, 2, 31, 0, 30), Date.UTC(2024, 2, 31, 1, 30)]).toContain(gap);
    const overlap = wallClockToMs('2024-10-27T02:30:00', 'Europe/Berlin')!;
    expect([Date.UTC(2024, 9, 27, 0, 30), Date.UTC(2024, 9, 27, 1, 30)]).toContain(overlap);
    expect(wallClockToMs('2024-10-27T03:30:00', 'Europe/Berlin')).toBe(Date.UTC(2024, 9, 27, 2, 30));
  });

  it('leaves strings with an offset, and non-dates, to the caller', () => {
    expect(wallClockToMs('2024-01-15T14:00:00Z', 'Europe/Berlin')).toBeUndefined();
    expect(wallClockToMs('2024-01-15T14:00:00+02:00', 'Europe/Berlin')).toBeUndefined();
    expect(wallClockToMs('yesterday', 'Europe/Berlin')).toBeUndefined();
  });

  it('reads local as this host’s zone, like Date', () => {
    expect(wallClockToMs('2024-01-15T14:00:00', 'local')).toBe(new Date(2024, 0, 15, 14).getTime());
  });

  it('knows zones', () => {
    expect(isKnownZone('local')).toBe(true);
    expect(isKnownZone('Europe/Berlin')).toBe(true);
    expect(isKnownZone('UTC')).toBe(true);
    expect(isKnownZone('Mars/Olympus')).toBe(false);
  });
});
