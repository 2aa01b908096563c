import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseExportTime, writeExport } from '../../../src/query/export.js';
import { FakeData } from './fake-data.js';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

async function run(data: FakeData, opts: Partial<Parameters<typeof writeExport>[1]>): Promise<string[]> {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (c: Buffer) => chunks.push(c.toString()));
  await writeExport(
    data,
    { devices: [], metrics: [], from: T0, to: T0 + 3 * DAY, resolution: 'raw', format: 'csv', ...opts },
    out,
  );
  return chunks.join('').trimEnd().split('\n');
}

describe('export', () => {
  const data = new FakeData([
    // Three days, across the one-day read chunks, and one reading on each edge of the range.
    ...[0, DAY - 1, DAY, 2 * DAY + 5, 3 * DAY].map((dt, i) => ({
      device: 'kitchen',
      metric: 'battery.level',
      ts: T0 + dt,
      value: 90 + i,
    })),
    { device: 'hall, "north"', metric: 'temperature', ts: T0 + 10, value: 19.5 },
    { device: 'hall, "north"', metric: 'temperature', ts: T0 - 10, value: 1 },
  ]);

  it('writes raw readings as CSV, both edges of the range included, names as the API has them', async () => {
    const lines = await run(data, {});
    expect(lines[0]).toBe('time,ts,device,metric,name,value');
    expect(lines.slice(1)).toEqual([
      `2026-01-01T00:00:00.010Z,${T0 + 10},"hall, ""north""",temperature,temperature,19.5`,
      `2026-01-01T00:00:00.000Z,${T0},kitchen,battery.level,battery_level,90`,
      `2026-01-01T23:59:59.999Z,${T0 + DAY - 1},kitchen,battery.level,battery_level,91`,
      `2026-01-02T00:00:00.000Z,${T0 + DAY},kitchen,battery.level,battery_level,92`,
      `2026-01-03T00:00:00.005Z,${T0 + 2 * DAY + 5},kitchen,battery.level,battery_level,93`,
      `2026-01-04T00:00:00.000Z,${T0 + 3 * DAY},kitchen,battery.level,battery_level,94`,
    ]);
  });

  it('filters by device and by metric, stored or Prometheus name, as NDJSON', async () => {
    const a = await run(data, { metrics: ['battery_level'], format: 'ndjson', to: T0 + DAY });
    const b = await run(data, {
      devices: ['kitchen'],
      metrics: ['battery.level'],
      format: 'ndjson',
      to: T0 + DAY,
    });
    expect(a).toEqual(b);
    expect(a.map((l) => JSON.parse(l))).toEqual([
      {
        time: '2026-01-01T00:00:00.000Z',
        ts: T0,
        device: 'kitchen',
        metric: 'battery.level',
        name: 'battery_level',
        value: 90,
      },
      {
        time: '2026-01-01T23:59:59.999Z',
        ts: T0 + DAY - 1,
        device: 'kitchen',
        metric: 'battery.level',
        name: 'battery_level',
        value: 91,
      },
      {
        time: '2026-01-02T00:00:00.000Z',
        ts: T0 + DAY,
        device: 'kitchen',
        metric: 'battery.level',
        name: 'battery_level',
        value: 92,
      },
    ]);
  });

  it('writes rollup buckets with count, sum, min, max, avg and last', async () => {
    const lines = await run(data, { resolution: '1h', devices: ['kitchen'], to: T0 + DAY + 1 });
    expect(lines).toEqual([
      'time,ts,device,metric,name,count,sum,min,max,avg,last',
      `2026-01-01T00:00:00.000Z,${T0},kitchen,battery.level,battery_level,1,90,90,90,90,90`,
      `2026-01-01T23:00:00.000Z,${T0 + DAY - 3_600_000},kitchen,battery.level,battery_level,1,91,91,91,91,91`,
      `2026-01-02T00:00:00.000Z,${T0 + DAY},kitchen,battery.level,battery_level,1,92,92,92,92,92`,
    ]);
  });

  it('reads times as RFC 3339, Unix seconds, now or a duration before now', () => {
    expect(parseExportTime('--from', '24h', T0)).toBe(T0 - DAY);
    expect(parseExportTime('--from', '-7d', T0)).toBe(T0 - 7 * DAY);
    expect(parseExportTime('--to', 'now', T0)).toBe(T0);
    expect(parseExportTime('--from', '1767225600', 0)).toBe(T0);
    expect(() => parseExportTime('--from', 'yesterday', T0)).toThrow(/--from: expected RFC 3339/);
  });
});
