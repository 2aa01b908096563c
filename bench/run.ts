/**
 * `npm run bench`: mqlite against the transport ceiling and a hand-written writer, in one run, on one
 * broker configuration (issue #6). Prints a table of ratios to the transport baseline and writes JSON.
 * Run after `npm run build` (the mqlite target is dist/cli.js). Exit: 0 ok, 1 a target failed or lost
 * QoS 1 messages, 2 bad options.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerInfo } from './lib/broker.js';
import { compileBench } from './lib/compile.js';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.js';
import { type PhaseEnv, type PhaseResult, runPhase } from './lib/phase.js';
import { benchAbort, installSignalHandlers } from './lib/process.js';
import {
  type BenchReport,
  ackCostLines,
  formatTable,
  METHOD,
  machine,
  type TargetResult,
  withRatios,
} from './lib/report.js';
import type { TargetKind } from './lib/targets.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');

function phaseLine(r: PhaseResult): string {
  const v = r.verification;
  return (
    `  ${r.spec.target} ${r.spec.phase} qos${r.spec.qos}: ${Math.round(r.msgsPerSec)} msg/s over ${r.seconds.toFixed(2)} s, ` +
    `rows ${v.rows}/${r.messages} (missing ${v.missing}, dup ${v.duplicates}), cpu ${r.cpuSeconds.toFixed(2)} s, ` +
    `rss ${r.peakRssMB.toFixed(1)} MB, loop p99 ${r.loop.p99Ms.toFixed(1)} ms` +
    ` [cpu by thread: ${Object.entries(r.cpuByThread)
      .filter(([, s]) => s >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([t, s]) => `${t} ${s.toFixed(2)}`)
      .join(', ')}]` +
    (r.latency
      ? `, latency p50 ${r.latency.p50Ms} / p90 ${r.latency.p90Ms} / p99 ${r.latency.p99Ms} / max ${r.latency.maxMs} ms`
      : '')
  );
}

/** The round with the median throughput (upper median for an even count). */
function median(runs: PhaseResult[]): PhaseResult | undefined {
  const sorted = [...runs].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
  return sorted[Math.floor(sorted.length / 2)];
}

async function measure(
  opts: BenchOptions,
  env: PhaseEnv,
  target: TargetKind,
  qos: 0 | 1,
  phase: 'max' | 'half',
  rate: number,
  errors: string[],
): Promise<PhaseResult | undefined> {
  if (benchAbort.signal.aborted) return undefined;
  const total = phase === 'max' ? opts.messages : Math.max(opts.devices, Math.floor(opts.messages / 2));
  try {
    const r = await runPhase(
      {
        target,
        phase,
        qos,
        devices: opts.devices,
        perDevice: Math.floor(total / opts.devices),
        rate,
        payloadBytes: opts.payloadBytes,
        window: opts.window,
      },
      env,
    );
    console.log(phaseLine(r));
    return r;
  } catch (err) {
    const msg = `${target} ${phase} qos${qos}: ${(err as Error).message}`;
    console.error(`  FAILED ${msg}`);
    errors.push(msg);
    return undefined;
  }
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const deployConf =
    opts.brokerConfig === 'stock'
      ? join(benchDir, 'mosquitto-stock.conf')
      : join(repoDir, 'deploy', 'mosquitto.conf');
  const broker = brokerInfo(deployConf);
  const m = machine();
  console.log(`machine: ${m.nproc} cpus, ${m.cpuModel}, node ${m.node}, linux ${m.kernel}`);
  if (broker.kind === 'mosquitto') {
    console.log(
      `broker: mosquitto ${broker.version}, ` +
        (opts.brokerConfig === 'stock'
          ? "Mosquitto's stock settings"
          : 'settings from deploy/mosquitto.conf'),
    );
  } else {
    console.log(`broker: MOSQUITTO NOT FOUND, falling back to aedes ${broker.version} (MQTT 3.1.1 only)`);
  }
  console.log(
    `load: ${opts.devices} devices, mqlite format ${opts.mqliteFormat}, ${opts.messages} messages, ~${opts.payloadBytes} B JSON, ` +
      `window ${opts.window}/device, rate ${opts.rate || 'max'}, ` +
      (opts.latencyRate > 0 ? `latency phase only at ${opts.latencyRate} msg/s` : `${opts.repeat} round(s)`) +
      `; targets ${opts.targets.join(', ')}`,
  );
  installSignalHandlers();
  const compiled = compileBench(benchDir, repoDir);
  const env: PhaseEnv = {
    broker,
    deployConf,
    repoDir,
    compiled,
    topic: 'bench/#',
    mqliteFormat: opts.mqliteFormat,
  };
  const results: TargetResult[] = [];
  const halfRate: Record<string, number> = {};
  try {
    for (const qos of opts.qos) {
      // Rounds interleave the targets (t, h, m, t, h, m, ...) so a burst of load from other tenants of the
      // machine does not land on one target only; each target keeps its median round by msgs/s.
      const rounds = new Map<TargetKind, { all: PhaseResult[]; errors: string[] }>();
      for (const target of opts.targets) rounds.set(target, { all: [], errors: [] });
      // --latency-rate: no throughput rounds, so the latency phase runs at the rate given.
      for (let round = 0; round < (opts.latencyRate > 0 ? 0 : opts.repeat); round++) {
        for (const [target, acc] of rounds) {
          const r = await measure(opts, env, target, qos, 'max', opts.rate, acc.errors);
          if (r) acc.all.push(r);
        }
      }
      const maxRuns = new Map<
        TargetKind,
        { r: PhaseResult | undefined; all: PhaseResult[]; errors: string[] }
      >();
      for (const [target, acc] of rounds) maxRuns.set(target, { r: median(acc.all), ...acc });
      // One rate for every target's latency phase: half the transport ceiling measured just now.
      const ceiling = maxRuns.get('transport')?.r?.msgsPerSec;
      for (const target of opts.targets) {
        const run = maxRuns.get(target);
        if (!run) continue;
        const fixed = opts.latencyRate > 0;
        const rate = fixed
          ? opts.latencyRate
          : Math.max(1, Math.round((ceiling ?? run.r?.msgsPerSec ?? 0) / 2));
        halfRate[`qos${qos}`] = rate;
        const half =
          opts.latency && (run.r || fixed)
            ? await measure(opts, env, target, qos, 'half', rate, run.errors)
            : undefined;
        const verified =
          run.errors.length === 0 &&
          run.all.length === (fixed ? 0 : opts.repeat) &&
          (!fixed || half !== undefined) &&
          run.all.every((r) => r.verification.ok) &&
          (half?.verification.ok ?? true);
        results.push({
          target,
          qos,
          ...(run.r ? { max: run.r } : {}),
          maxRounds: run.all.map((r) => Math.round(r.msgsPerSec)),
          ...(half ? { half } : {}),
          verified,
          ratios: {},
          errors: run.errors,
        });
      }
    }
  } finally {
    compiled.dispose();
  }
  const final = withRatios(results);
  console.log(`\n${formatTable(final)}\n`);
  for (const line of ackCostLines(final)) console.log(line);
  for (const [k, v] of Object.entries(METHOD)) console.log(`${k}: ${v}`);
  const report: BenchReport = {
    schema: 1,
    date: new Date().toISOString(),
    command: `tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: m,
    broker,
    options: opts,
    halfRate,
    method: METHOD,
    results: final,
  };
  const out = resolve(opts.json);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
  if (benchAbort.signal.aborted) return 130;
  const failed = final.filter((r) => r.errors.length > 0 || (r.qos === 1 && !r.verified));
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
