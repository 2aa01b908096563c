/**
 * `npm run bench:query -- --db <file>`: the query API's answers on a storage-bench history
 * (`npm run bench:storage -- --keep` prints where it kept v2.db: 100 devices × 5 metrics over
 * 30 days), through the same code the query worker runs (handleApiJson over SqliteReader):
 *   - one series' last 24 h raw (query_range, 1 min step);
 *   - one series over 30 days at 1 h (avg_over_time from the 1 h rollups);
 *   - /label/device/values, /series for one device, an instant query over every series.
 * Median wall and CPU time of --runs runs each, JSON serialisation included (target: under 20 ms).
 */
import { parseArgs } from 'node:util';
import { type ApiRequest, handleApiJson } from '../src/query/api.js';
import { SqliteReader } from '../src/query/sqlite-reader.js';

const { values } = parseArgs({
  options: { db: { type: 'string' }, runs: { type: 'string', default: '20' } },
});
if (!values.db) throw new Error('--db <v2.db of npm run bench:storage -- --keep> is required');
const reader = new SqliteReader(values.db);
const runs = Number(values.runs);
const limits = { timeoutMs: 60_000, maxSamples: 50_000_000 };

const series = reader.listSeries();
const one = series[0];
if (!one) throw new Error('no series in the database');
const lastTs = Math.max(...reader.latest().map((r) => r.ts));
const HOUR = 3_600_000;
const end = Math.floor(lastTs / HOUR) * HOUR;
const name = one.metric;
const sel = `${name}{device="${one.device}"}`;

const cases: [string, Omit<ApiRequest, 'now'>][] = [
  [
    '24 h raw, 1 series, step 1m',
    {
      route: 'query_range',
      params: {
        query: [sel],
        start: [String((end - 24 * HOUR) / 1000 + 7)],
        end: [String(end / 1000 + 7)],
        step: ['60'],
      },
    },
  ],
  [
    '30 d at 1 h (rollups), 1 series',
    {
      route: 'query_range',
      params: {
        query: [`avg_over_time(${sel}[1h])`],
        start: [String((end - 30 * 24 * HOUR) / 1000)],
        end: [String(end / 1000)],
        step: ['3600'],
      },
    },
  ],
  [
    '30 d at 1 h, avg by device of 1 metric (100 series)',
    {
      route: 'query_range',
      params: {
        query: [`avg by (device) (avg_over_time(${name}[1h]))`],
        start: [String((end - 30 * 24 * HOUR) / 1000)],
        end: [String(end / 1000)],
        step: ['3600'],
      },
    },
  ],
  ['label/device/values', { route: 'label_values', label: 'device', params: {} }],
  ['series of one device', { route: 'series', params: { 'match[]': [`{device="${one.device}"}`] } }],
  [
    'instant: every series',
    { route: 'query', params: { query: ['{device=~".+"}'], time: [String(lastTs / 1000)] } },
  ],
];

console.log(`query bench on ${values.db}: ${series.length} series, ${runs} runs each`);
for (const [label, req] of cases) {
  const wall: number[] = [];
  const cpu: number[] = [];
  let size = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    // In one read transaction, as the query worker runs a job.
    size = reader.snapshot(() => handleApiJson({ ...req, now: lastTs }, reader, limits)).length;
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    wall.push(performance.now() - t0);
  }
  // CPU time beside wall time: on a shared, loaded machine wall time mostly measures waiting for a core.
  const med = (xs: number[]) =>
    (xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number).toFixed(2).padStart(8);
  console.log(`${label.padEnd(52)} wall median ${med(wall)} ms   CPU median ${med(cpu)} ms   ${size} bytes`);
}
reader.close();
