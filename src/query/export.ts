/**
 * `mqlite export`: readings of chosen series over a time range, raw or as 5-minute / 1-hour
 * rollups, as CSV or NDJSON. Reads through its own read-only connection, so it is safe while
 * the daemon writes (WAL: it sees a consistent snapshot per statement and never blocks a commit).
 * Raw readings are read a day at a time and written with backpressure: memory stays flat
 * whatever the range. Names as everywhere else: `metric` as stored, `name` as Prometheus's.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { MqliteError } from '../lib/errors.js';
import { parseTime } from './api-params.js';
import type { QueryData, Rollup, SeriesId } from './data.js';
import { promName } from './names.js';
import { parseDuration } from './promql-lex.js';

export interface ExportOptions {
  readonly devices: readonly string[];
  /** Stored names (`battery.level`) or Prometheus names (`battery_level`). */
  readonly metrics: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly resolution: 'raw' | Rollup;
  readonly format: 'csv' | 'ndjson';
}

export type ExportProgress = (p: { series: number; seriesTotal: number; rows: number }) => void;

const CHUNK_MS = 86_400_000;

/** Writes the export; resolves with the number of rows. */
export async function writeExport(
  data: QueryData,
  opts: ExportOptions,
  out: Writable,
  progress: ExportProgress = () => {},
): Promise<number> {
  const series = selectSeries(data.listSeries(), opts);
  const raw = opts.resolution === 'raw';
  const columns = raw
    ? ['time', 'ts', 'device', 'metric', 'name', 'value']
    : ['time', 'ts', 'device', 'metric', 'name', 'count', 'sum', 'min', 'max', 'avg', 'last'];
  let rows = 0;
  const emit = async (values: (string | number)[]): Promise<void> => {
    const line =
      opts.format === 'csv'
        ? `${values.map(csvField).join(',')}\n`
        : `${JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, values[i]])))}\n`;
    if (!out.write(line)) await once(out, 'drain');
  };
  if (opts.format === 'csv') await emit(columns);
  for (const [i, s] of series.entries()) {
    const name = promName(s.metric);
    if (opts.resolution === 'raw') {
      for (let after = opts.from - 1; after < opts.to; after += CHUNK_MS) {
        const p = data.points(s, after, Math.min(after + CHUNK_MS, opts.to));
        for (let k = 0; k < p.ts.length; k++) {
          const ts = p.ts[k] as number;
          await emit([new Date(ts).toISOString(), ts, s.device, s.metric, name, p.values[k] as number]);
          rows++;
        }
        progress({ series: i + 1, seriesTotal: series.length, rows });
      }
    } else {
      const [b] = data.buckets([s], opts.resolution, opts.from, opts.to, EXPORT_FIELDS);
      if (!b) continue;
      const { count = [], sum = [], min = [], max = [], last = [] } = b.fields;
      for (let k = 0; k < b.start.length; k++) {
        const start = b.start[k] as number;
        const c = count[k] as number;
        const total = sum[k] as number;
        await emit([
          new Date(start).toISOString(),
          start,
          s.device,
          s.metric,
          name,
          c,
          total,
          min[k] as number,
          max[k] as number,
          total / c,
          last[k] as number,
        ]);
        rows++;
      }
      progress({ series: i + 1, seriesTotal: series.length, rows });
    }
  }
  return rows;
}

const EXPORT_FIELDS = ['count', 'sum', 'min', 'max', 'last'] as const;

function selectSeries(all: readonly SeriesId[], opts: ExportOptions): SeriesId[] {
  return all
    .filter((s) => opts.devices.length === 0 || opts.devices.includes(s.device))
    .filter(
      (s) =>
        opts.metrics.length === 0 ||
        opts.metrics.includes(s.metric) ||
        opts.metrics.includes(promName(s.metric)),
    )
    .sort((a, b) => (a.device === b.device ? cmp(a.metric, b.metric) : cmp(a.device, b.device)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A time for --from/--to: RFC 3339, Unix seconds, `now`, or a duration before now (`24h`,
 * `-7d`).
 */
export function parseExportTime(flag: string, v: string, now: number): number {
  if (v === 'now') return now;
  const rel = parseDuration(v.replace(/^-/, ''));
  if (rel !== undefined) return now - rel;
  const t = parseTime(v);
  if (t === undefined)
    throw new MqliteError(
      'MQLITE_USAGE',
      `${flag}: expected RFC 3339 (2026-01-01T00:00:00Z), Unix seconds, "now" or a duration before now ("24h"), got "${v}"`,
    );
  return t;
}
