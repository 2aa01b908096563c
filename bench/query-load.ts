/**
 * `npm run bench:query-load`: mqlite's ingestion while a dashboard queries it (issue #13: queries
 * must never stall ingestion; target ≥ 0.9× the rate without them). Rounds alternate on the same
 * machine, broker and load: the bench load alone, then the same load while a client sends
 * Grafana-like range queries (--qps a second, over every device: per-device averages and maxima,
 * raw readings, a sum) to the daemon's query API. Each side keeps its median round; the report is
 * their ratio, the queries answered and their latency, and the CPU the query worker threads
 * (named `mqlite-query`) used per answered query: on a loaded machine the latency mostly measures
 * waiting for a core, the CPU what a query costs. Run after `npm run build`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Alongside, type PhaseResult, runPhase } from './lib/phase.js';
import { sleep } from './lib/process.js';
import { mqliteLoad } from './lib/mqlite-load.js';
import { percentile } from './lib/stats.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100' },
    messages: { type: 'string', default: '100000' },
    repeat: { type: 'string', default: '5' },
    qps: { type: 'string', default: '4' },
    qos: { type: 'string', default: '1' },
    json: {
      type: 'string',
      default: `bench/results/query-load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    },
  },
});
const devices = Number(values.devices);
const messages = Number(values.messages);
const repeat = Number(values.repeat);
const qps = Number(values.qps);
const qos = Number(values.qos) as 0 | 1;

/** What a Grafana dashboard over these devices asks, panel by panel: last 15 min, a point per 15 s. */
const QUERIES = [
  'avg by (device) (avg_over_time(temp[1m]))',
  'max by (device) (max_over_time(hum[1m]))',
  'temp',
  'sum(count_over_time(rssi[1m]))',
];
const RANGE_S = 15 * 60;
const STEP_S = 15;

interface QueryStats {
  sent: number;
  ok: number;
  failed: number;
  /** Ticks skipped because the previous query was still running (the client never piles up). */
  skipped: number;
  points: number;
  latenciesMs: number[];
}

function queryClient(stats: QueryStats): Alongside {
  return (target) => {
    let stopped = false;
    const loop = (async () => {
      let k = 0;
      while (!stopped) {
        const tick = sleep(1000 / qps);
        const end = Date.now() / 1000;
        const q = new URLSearchParams({
          query: QUERIES[k++ % QUERIES.length] as string,
          start: String(end - RANGE_S),
          end: String(end),
          step: String(STEP_S),
        });
        const t0 = performance.now();
        stats.sent++;
        try {
          const res = await fetch(`http://127.0.0.1:${target.httpPort}/api/v1/query_range?${q}`, {
            signal: AbortSignal.timeout(30_000),
          });
          const body = (await res.json()) as { data?: { result?: { values: unknown[] }[] } };
          if (res.status !== 200) stats.failed++;
          else {
            stats.ok++;
            for (const s of body.data?.result ?? []) stats.points += s.values.length;
          }
        } catch {
          stats.failed++;
        }
        stats.latenciesMs.push(performance.now() - t0);
        // One query at a time, at most qps a second: a slow answer delays the next, as a
        // dashboard's refresh would wait.
        const late = performance.now() - t0 > 1000 / qps;
        if (late) stats.skipped++;
        else await tick;
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
      },
    };
  };
}

/** CPU seconds of the query worker threads during a phase (query-worker.ts names them). */
function queryCpu(r: PhaseResult): number {
  return r.cpuByThread['mqlite-query'] ?? 0;
}

function median(xs: PhaseResult[]): PhaseResult | undefined {
  return [...xs].sort((a, b) => a.msgsPerSec - b.msgsPerSec)[Math.floor(xs.length / 2)];
}

async function main(): Promise<number> {
  const { env, spec, machine: m, compiled } = mqliteLoad(benchDir, repoDir, { devices, messages, qos });
  const { broker } = env;
  console.log(
    `load: ${devices} devices, ${messages} messages qos ${qos}, ${repeat} round(s) each way; queries: ${qps}/s, ` +
      `last ${RANGE_S / 60} min step ${STEP_S} s, ${QUERIES.join(' | ')}`,
  );
  const alone: PhaseResult[] = [];
  const withQueries: { r: PhaseResult; q: QueryStats }[] = [];
  try {
    for (let round = 0; round < repeat; round++) {
      const a = await runPhase(spec, env);
      alone.push(a);
      const q: QueryStats = { sent: 0, ok: 0, failed: 0, skipped: 0, points: 0, latenciesMs: [] };
      const b = await runPhase(spec, env, queryClient(q));
      withQueries.push({ r: b, q });
      const lat = [...q.latenciesMs].sort((x, y) => x - y);
      const qCpu = queryCpu(b);
      const v = (r: PhaseResult) =>
        r.verification.ok ? 'verified' : `NOT verified: ${JSON.stringify(r.verification)}`;
      console.log(
        `  round ${round + 1}: alone ${Math.round(a.msgsPerSec)} msg/s (${v(a)}); ` +
          `with queries ${Math.round(b.msgsPerSec)} msg/s (${v(b)}), ` +
          `${q.ok}/${q.sent} queries ok, ${q.failed} failed, p50 ${percentile(lat, 50).toFixed(0)} ms, ` +
          `p99 ${percentile(lat, 99).toFixed(0)} ms, ${q.points} points, query threads ${qCpu.toFixed(2)} s CPU ` +
          `(${((qCpu / Math.max(1, q.ok)) * 1000).toFixed(0)} ms a query); process CPU ${b.cpuSeconds.toFixed(1)} s ` +
          `(alone ${a.cpuSeconds.toFixed(1)} s); loop p99 ${b.loop.p99Ms.toFixed(1)} ms (alone ${a.loop.p99Ms.toFixed(1)} ms)`,
      );
    }
  } finally {
    compiled.dispose();
  }
  const a = median(alone);
  const b = median(withQueries.map((w) => w.r));
  if (!a || !b) return 1;
  const ratio = b.msgsPerSec / a.msgsPerSec;
  // Each round is a pair (alone, then with queries) run back to back: the median of the pairs'
  // ratios is less moved by the machine drifting between rounds than the ratio of the medians.
  const pairRatios = withQueries.map((w, k) => w.r.msgsPerSec / (alone[k] as PhaseResult).msgsPerSec);
  const pairRatio = [...pairRatios].sort((x, y) => x - y)[Math.floor(pairRatios.length / 2)] as number;
  const all = withQueries.map((w) => w.q);
  const sum = (f: (q: QueryStats) => number) => all.reduce((acc, q) => acc + f(q), 0);
  const lat = all.flatMap((q) => q.latenciesMs).sort((x, y) => x - y);
  const seconds = withQueries.reduce((acc, w) => acc + w.r.seconds, 0);
  const cpuAll = withQueries.reduce((acc, w) => acc + queryCpu(w.r), 0);
  console.log(
    `\nmedian ingestion: alone ${Math.round(a.msgsPerSec)} msg/s, with queries ${Math.round(b.msgsPerSec)} msg/s: ` +
      `${ratio.toFixed(2)}× (target ≥ 0.9×); median of the rounds' ratios ${pairRatio.toFixed(2)}× ` +
      `(${pairRatios.map((r) => r.toFixed(2)).join(', ')})\nqueries: ${sum((q) => q.ok)} answered of ${sum((q) => q.sent)} ` +
      `(${(sum((q) => q.ok) / seconds).toFixed(1)}/s), ${sum((q) => q.failed)} failed, latency p50 ` +
      `${percentile(lat, 50).toFixed(0)} ms / p99 ${percentile(lat, 99).toFixed(0)} ms; query threads ` +
      `${(
        (cpuAll /
          Math.max(
            1,
            sum((q) => q.ok),
          )) *
          1000
      ).toFixed(0)} ms CPU a query`,
  );
  const out = resolve(values.json as string);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: m,
        broker,
        options: { devices, messages, repeat, qps, qos, queries: QUERIES, rangeS: RANGE_S, stepS: STEP_S },
        alone: alone.map((r) => ({
          msgsPerSec: r.msgsPerSec,
          verification: r.verification,
          loop: r.loop,
          cpuSeconds: r.cpuSeconds,
          cpuByThread: r.cpuByThread,
        })),
        withQueries: withQueries.map(({ r, q }) => ({
          msgsPerSec: r.msgsPerSec,
          verification: r.verification,
          loop: r.loop,
          cpuSeconds: r.cpuSeconds,
          cpuByThread: r.cpuByThread,
          queries: { ...q, latenciesMs: undefined, cpuSeconds: queryCpu(r) },
        })),
        ratio,
        pairRatios,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
  const verified = [...alone, ...withQueries.map((w) => w.r)].every((r) => r.verification.ok);
  return verified ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
