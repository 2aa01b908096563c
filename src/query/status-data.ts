/**
 * The status page's reads (devices, recent dead letters), run in a query worker on its read-only
 * connection like every other query: never on the event loop, never on the writer's connection.
 * Every read is bounded by a LIMIT or an index range, so a page refreshing every few seconds
 * costs the same on a database of a thousand messages or of ten million.
 */
import type Database from 'better-sqlite3';

/** A gateway with more devices than this is summarised: the page lists the most recently seen. */
export const MAX_DEVICES = 500;
/** Dead letters shown: the most recent ones; the rest stay in the table for `sqlite3`. */
export const MAX_DEAD_LETTERS = 20;
/** Messages per device are counted over this window: an index range, not a full count. */
export const COUNT_WINDOW_MS = 24 * 3_600_000;
/** Sparklines cover the last 6 h in 5 min buckets (72 points): one clustered range of rollup_5m. */
export const SPARK_WINDOW_MS = 6 * 3_600_000;
export const SPARK_STEP_MS = 300_000;
/** Series with a sparkline at most (the most recently updated): ~72 rows each per minute's read. */
export const MAX_SPARK_SERIES = 2_000;
/** Enough of a bad payload to recognise it; the table holds more. */
const PAYLOAD_PREVIEW_CHARS = 120;

export interface DeviceSeries {
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

export interface DeviceRow {
  readonly device: string;
  readonly lastSeen: number;
  /** Messages stored in the last COUNT_WINDOW_MS (by their timestamp). */
  readonly messages24h: number;
  readonly series: readonly DeviceSeries[];
}

export interface DeadLetterRow {
  readonly id: number;
  readonly topic: string;
  readonly reason: string;
  readonly detail: string | null;
  readonly receivedAt: number;
  readonly payloadBytes: number;
  readonly payload: string;
}

/** One series' 5 min averages, oldest first; null where a bucket holds no reading. */
export interface Sparkline {
  readonly device: string;
  readonly metric: string;
  readonly values: readonly (number | null)[];
}

export type StatusJob =
  | { readonly what: 'devices'; readonly now: number }
  | { readonly what: 'sparklines'; readonly now: number }
  | { readonly what: 'dead_letters' };

export type StatusData =
  | { readonly what: 'devices'; readonly devices: readonly DeviceRow[]; readonly truncated: boolean }
  | {
      readonly what: 'sparklines';
      /** Start of the first bucket, ms; bucket k starts at start + k × stepMs. */
      readonly start: number;
      readonly stepMs: number;
      readonly series: readonly Sparkline[];
    }
  | { readonly what: 'dead_letters'; readonly deadLetters: readonly DeadLetterRow[] };

export function statusQuery(db: Database.Database, job: StatusJob): StatusData {
  switch (job.what) {
    case 'devices':
      return devices(db, job.now);
    case 'sparklines':
      return sparklines(db, job.now);
    case 'dead_letters':
      return deadLetters(db);
  }
}

/**
 * From the 5 min rollups (never the raw rows): the table is clustered on (bucket, series_id), so
 * the last 6 h of every series is one contiguous range, ~72 rows per series.
 */
function sparklines(db: Database.Database, now: number): StatusData {
  const last = Math.floor(now / SPARK_STEP_MS) * SPARK_STEP_MS;
  const n = SPARK_WINDOW_MS / SPARK_STEP_MS;
  const start = last - (n - 1) * SPARK_STEP_MS;
  const names = new Map(
    db
      .prepare<[number], { id: number; device: string | null; metric: string }>(
        'SELECT series_id AS id, device, metric FROM latest ORDER BY ts DESC LIMIT ?',
      )
      .all(MAX_SPARK_SERIES)
      .map((r) => [r.id, { device: r.device ?? '', metric: r.metric }]),
  );
  // Raw rows (arrays) of the fewest columns, streamed: the copy to JavaScript is most of this
  // read's cost, and a gateway with many series must not hold all their rows at once.
  const rows = db
    .prepare<[number], [number, number, number]>(
      // The table's own order: the last 6 h of every series is one contiguous range.
      'SELECT series_id, bucket, sum / count FROM rollup_5m WHERE bucket >= ?',
    )
    .raw(true)
    .iterate(start);
  const bySeries = new Map<number, { device: string; metric: string; values: (number | null)[] }>();
  for (const [id, bucket, avg] of rows) {
    const k = (bucket - start) / SPARK_STEP_MS;
    if (k >= n) continue; // a reading stamped in the future
    let s = bySeries.get(id);
    if (!s) {
      const name = names.get(id);
      if (!name) continue;
      s = { ...name, values: new Array<number | null>(n).fill(null) };
      bySeries.set(id, s);
    }
    // Four significant digits: a 20 px high line cannot show more, and the answer stays small.
    s.values[k] = Number(avg.toPrecision(4));
  }
  return { what: 'sparklines', start, stepMs: SPARK_STEP_MS, series: [...bySeries.values()] };
}

function devices(db: Database.Database, now: number): StatusData {
  const latest = db
    .prepare<[], { device: string | null; metric: string; ts: number; value: number }>(
      'SELECT device, metric, ts, value FROM latest ORDER BY device, metric',
    )
    .all();
  const byDevice = new Map<string, DeviceSeries[]>();
  for (const r of latest) {
    const d = r.device ?? '';
    const list = byDevice.get(d) ?? [];
    list.push({ metric: r.metric, ts: r.ts, value: r.value });
    byDevice.set(d, list);
  }
  const count = db.prepare<[string | null, number], { n: number }>(
    'SELECT COUNT(*) AS n FROM messages WHERE device IS ? AND ts > ?',
  );
  const rows = [...byDevice.entries()]
    .map(([device, series]) => ({ device, series, lastSeen: Math.max(...series.map((s) => s.ts)) }))
    .sort((a, b) => b.lastSeen - a.lastSeen || a.device.localeCompare(b.device));
  const shown = rows.slice(0, MAX_DEVICES).map((r) => ({
    ...r,
    messages24h: count.get(r.device === '' ? null : r.device, now - COUNT_WINDOW_MS)?.n ?? 0,
  }));
  return { what: 'devices', devices: shown, truncated: rows.length > MAX_DEVICES };
}

function deadLetters(db: Database.Database): StatusData {
  const rows = db
    .prepare<
      [number],
      {
        id: number;
        topic: string;
        reason: string;
        detail: string | null;
        received_at: number;
        payload_bytes: number;
        payload: Buffer | string | null;
      }
    >(
      `SELECT id, topic, reason, detail, received_at, payload_bytes, payload FROM dead_letters
        ORDER BY id DESC LIMIT ?`,
    )
    .all(MAX_DEAD_LETTERS);
  return {
    what: 'dead_letters',
    deadLetters: rows.map((r) => ({
      id: r.id,
      topic: r.topic,
      reason: r.reason,
      detail: r.detail,
      receivedAt: r.received_at,
      payloadBytes: r.payload_bytes,
      payload: preview(r.payload),
    })),
  };
}

/** Printable text of a payload: invalid UTF-8 shows as U+FFFD, control characters as '·'. */
export function preview(p: Buffer | string | null): string {
  if (p === null) return '';
  const text = typeof p === 'string' ? p : p.toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '·');
  return clean.length > PAYLOAD_PREVIEW_CHARS ? `${clean.slice(0, PAYLOAD_PREVIEW_CHARS)}…` : clean;
}
