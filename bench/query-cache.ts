/**
 * `npx tsx bench/query-cache.ts`: CPU of bench:query-load's four queries with and without the query
 * worker's cache of recent readings (src/query/recent-cache.ts), in one process, alternated. A file
 * is written through the sink's write path (--devices devices, 5 readings a message, one message a
 * second each, --history minutes of it first); then each round stores --refresh seconds more and
 * asks every query of the mix once with the cached reader and once with the uncached one, in one read
 * transaction each as the worker does. Prints the median CPU per query (user + system of this
 * thread's process, around the query only) and checks that both answers are the same text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { handleApiJson } from '../src/query/api.js';
import { SqliteReader } from '../src/query/sqlite-reader.js';
import { packBatch } from '../src/sink/protocol.js';
import { SinkStore } from '../src/sink/store.js';
import type { DecodeFn } from '../src/sink/types.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100' },
    history: { type: 'string', default: '20' },
    refresh: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '20' },
    range: { type: 'string', default: '15' },
  },
});
const devices = Number(values.devices);
const refreshS = Number(values.refresh);
const rangeS = Number(values.range) * 60;

const QUERIES = [
  'avg by (device) (avg_over_time(temp[1m]))',
  'max by (device) (max_over_time(hum[1m]))',
  'temp',
  'sum(count_over_time(rssi[1m]))',
];

const decode: DecodeFn = (topic, payload) => {
  const j = JSON.parse(Buffer.from(payload).toString()) as Record<string, number>;
  const readings = Object.entries(j)
    .filter(([k]) => k !== 'ts')
    .map(([metric, value]) => ({ metric, value }));
  return {
    ok: true,
    device: topic.split('/')[1] ?? null,
    text: null,
    ts: j.ts as number,
    tsFromPayload: true,
    identity: null,
    readings,
  };
};

const dir = mkdtempSync(join(tmpdir(), 'mqlite-qcache-bench-'));
const path = join(dir, 'q.db');
const store = SinkStore.open(
  { path, synchronous: 'OFF', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
  decode,
);
let clock = Date.now() - Number(values.history) * 60_000;
let seq = 0;

/** Seconds of messages up to `until`: one a device a second, as the bench's payload. */
function writeUntil(until: number): void {
  while (clock < until) {
    const msgs = [];
    for (let d = 0; d < devices; d++) {
      seq++;
      const body = {
        ts: clock + d,
        seq,
        temp: 18 + (seq % 70) / 10,
        hum: 40 + (seq % 20),
        bat: 3.71,
        rssi: -67,
      };
      msgs.push({
        topic: `bench/dev${d}/state`,
        payload: Buffer.from(JSON.stringify(body)),
        qos: 1 as const,
        retain: false,
        dup: false,
        receivedAt: clock,
        receivedMono: 0,
        settle: () => {},
      });
    }
    store.writeBatch(packBatch(msgs).packed);
    clock += 1000;
  }
  store.flushPending();
}

function cpuMs(fn: () => string): { ms: number; json: string } {
  const c = process.cpuUsage();
  const json = fn();
  const d = process.cpuUsage(c);
  return { ms: (d.user + d.system) / 1000, json };
}

function ask(r: SqliteReader, query: string): string {
  const end = clock / 1000;
  return r.snapshot(() =>
    handleApiJson(
      {
        route: 'query_range',
        params: { query: [query], start: [String(end - rangeS)], end: [String(end)], step: ['15'] },
        now: clock,
      },
      r,
      { timeoutMs: 60_000, maxSamples: 50_000_000 },
    ),
  );
}

writeUntil(Date.now());
const cached = new SqliteReader(path, { cache: { maxBytes: 32 * 1024 ** 2 } });
const plain = new SqliteReader(path);
const times: { cached: number[]; plain: number[]; first: number[] } = { cached: [], plain: [], first: [] };
for (let round = 0; round < Number(values.rounds); round++) {
  writeUntil(clock + refreshS * 1000);
  for (const q of QUERIES) {
    // Alternate which goes first: the OS page cache then favours neither.
    const pair = round % 2 === 0 ? [plain, cached] : [cached, plain];
    const out = pair.map((r) => cpuMs(() => ask(r, q)));
    const [p, c] = round % 2 === 0 ? out : [out[1], out[0]];
    if (p?.json !== c?.json) throw new Error(`answers differ for ${q} in round ${round}`);
    (round === 0 ? times.first : times.cached).push(c?.ms as number);
    times.plain.push(p?.ms as number);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `${devices} devices, ${values.history} min history, a refresh every ${refreshS} s, last ${rangeS / 60} min at 15 s: ` +
    `CPU per query, median of ${times.plain.length}: uncached ${median(times.plain).toFixed(1)} ms, ` +
    `cached ${median(times.cached).toFixed(1)} ms; mean ${mean(times.plain).toFixed(1)} / ${mean(times.cached).toFixed(1)} ms (first round, building: ${times.first.map((t) => t.toFixed(0)).join(' / ')} ms); ` +
    `cache ${JSON.stringify(cached.cacheStats())}; answers identical`,
);
cached.close();
plain.close();
store.close();
rmSync(dir, { recursive: true, force: true });
