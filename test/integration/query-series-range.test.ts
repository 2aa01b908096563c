/**
 * /series, /labels and /label/<name>/values with start/end, over a real schema-2 file written by
 * the sink's own write path (SinkStore: latest and rollups as the daemon keeps them) and read by
 * the query worker's code (SqliteReader + handleApi): a series is listed when it has a reading in
 * [start, end], as Prometheus lists series with samples there; without start/end every series is.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiRequest, handleApi } from '../../src/query/api.js';
import { SqliteReader } from '../../src/query/sqlite-reader.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { DecodeFn } from '../../src/sink/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { message } from './sink-fixture.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

/** Payload {ts, r: [[metric, value]]} on topic x/<device>. */
const decode: DecodeFn = (topic, payload) => {
  const j = JSON.parse(Buffer.from(payload).toString()) as { ts: number; r: [string, number][] };
  const readings = j.r.map(([metric, value]) => ({ metric, value }));
  return {
    ok: true,
    device: topic.split('/')[1] ?? null,
    text: null,
    ts: j.ts,
    tsFromPayload: true,
    identity: null,
    readings,
  };
};

// early: only in the first 10 minutes. middle: at T0+3h. gappy: at T0+10min and T0+5h, nothing
// between (its latest is after the middle range, and no bucket there holds a reading).
const history: [string, string, number][] = [
  ['early', 'temp', T0],
  ['early', 'temp', T0 + 600_000],
  ['middle', 'hum', T0 + 3 * H],
  ['gappy', 'temp', T0 + 600_000],
  ['gappy', 'temp', T0 + 5 * H],
];

let cleanup: () => void;
let reader: SqliteReader;

beforeAll(() => {
  const tmp = tmpDir('mqlite-series-range-');
  cleanup = tmp.cleanup;
  const path = join(tmp.dir, 's.db');
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
    decode,
  );
  store.writeBatch(packBatch(history.map(([d, m, ts]) => message(`x/${d}`, { ts, r: [[m, 1]] }))).packed);
  store.close();
  reader = new SqliteReader(path);
});
afterAll(() => {
  reader.close();
  cleanup();
});

function call(route: ApiRequest['route'], params: Record<string, string>, label?: string): unknown {
  const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]]));
  return handleApi({ route, params: p, now: T0 + 6 * H, ...(label ? { label } : {}) }, reader, {
    timeoutMs: 10_000,
    maxSamples: 100_000,
  });
}

const sec = (ms: number) => String(ms / 1000);
const devices = (r: unknown) => (r as { device: string }[]).map((l) => l.device).sort();

describe('metadata endpoints over a time range', () => {
  it('without start/end list every series stored', () => {
    expect(devices(call('series', { 'match[]': '{device!=""}' }))).toEqual(['early', 'gappy', 'middle']);
    expect(call('label_values', {}, 'device')).toEqual(['early', 'gappy', 'middle']);
    expect(call('labels', {})).toEqual(['__name__', 'device']);
  });

  it('list only series with a reading between start and end', () => {
    const middle = { start: sec(T0 + 2 * H), end: sec(T0 + 4 * H) };
    expect(devices(call('series', { 'match[]': '{device!=""}', ...middle }))).toEqual(['middle']);
    expect(call('label_values', middle, 'device')).toEqual(['middle']);
    expect(call('label_values', middle, '__name__')).toEqual(['hum']);
    // The range's edges count (Prometheus's are inclusive); RFC 3339 works as for every time.
    const edge = { start: new Date(T0 + 5 * H).toISOString(), end: new Date(T0 + 5 * H).toISOString() };
    expect(call('label_values', edge, 'device')).toEqual(['gappy']);
    const first = { start: sec(T0 - H), end: sec(T0 + 600_000) };
    expect(call('label_values', first, 'device')).toEqual(['early', 'gappy']);
  });

  it('default a missing start to the beginning and a missing end to the end of time', () => {
    expect(call('label_values', { start: sec(T0 + 4 * H) }, 'device')).toEqual(['gappy']);
    expect(call('label_values', { end: sec(T0 + H) }, 'device')).toEqual(['early', 'gappy']);
    expect(call('label_values', { start: sec(T0 + 7 * H) }, 'device')).toEqual([]);
    expect(call('labels', { start: sec(T0 + 7 * H) })).toEqual([]);
  });

  it('refuse an end before the start, as Prometheus does', () => {
    expect(() => call('series', { 'match[]': 'temp', start: sec(T0 + H), end: sec(T0) })).toThrow(
      /end timestamp must not be before start time/,
    );
  });
});
