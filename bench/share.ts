/**
 * `npm run bench:share`: one mqlite instance against N instances on a shared subscription
 * (subscribe.shareGroup), in one run on one Mosquitto configuration (deploy/mosquitto.conf), rounds
 * interleaved (1, N, 1, N, ...) so load from the machine's other tenants does not land on one
 * side only; the median round of each is reported. Every phase: a fresh broker, fresh databases,
 * the bench load generator (QoS 1, as fast as its window allows), until every message is stored in
 * the union of the instances' files, which must hold each (device, seq) exactly once.
 *
 * To say what limits the rate it reports, per process (each mqlite, Mosquitto, the load generator),
 * CPU seconds per second and seconds per second spent runnable but waiting for a CPU
 * (/proc/<pid>/task/<tid>/schedstat), and the whole machine's busy time from /proc/stat, whoever
 * used it. Mosquitto is one thread: a broker near 1.0 CPU-second per second is the ceiling whatever
 * the instance count; processes waiting longer for a CPU than they run are short of cores.
 *
 * Exit: 0 ok, 1 a phase failed or lost/duplicated messages, 2 bad options. Needs `npm run build`.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { brokerInfo, startBroker } from './lib/broker.js';
import { type CompiledBench, compileBench } from './lib/compile.js';
import { type IpcMessage, waitForMessage } from './lib/ipc.js';
import type { LoadConfig } from './lib/loadgen.js';
import { mqliteReady, scrapeMetrics, startMqlite } from './lib/mqlite-target.js';
import { maxRowId, openReadOnly } from './lib/observer.js';
import { cpuSeconds, runQueueWaitSeconds } from './lib/proc-stats.js';
import { benchAbort, captureTail, installSignalHandlers, sleep, stopChild, track } from './lib/process.js';
import { machine } from './lib/report.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
const deployConf = join(repoDir, 'deploy', 'mosquitto.conf');

const USAGE = `usage: tsx bench/share.ts [options]
  --instances LIST  instance counts to compare, first is the baseline (default 1,3); 1 subscribes
                    plainly, more share one subscription (group "bench")
  --messages N      messages per phase, across devices (default 200000)
  --devices N       publishing clients (default 100)
  --window N        unacknowledged publishes per device (default 100)
  --repeat N        rounds, interleaved; median reported (default 3)
  --json FILE       results file (default bench/results/share-<date>.json)
  --smoke           tiny run for the test suite: 2 devices x 1000 messages, 1 round`;

interface Options {
  instances: number[];
  messages: number;
  devices: number;
  window: number;
  repeat: number;
  json: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      instances: { type: 'string' },
      messages: { type: 'string' },
      devices: { type: 'string' },
      window: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'string' },
      smoke: { type: 'boolean', default: false },
    },
  });
  const smoke = values.smoke === true;
  const int = (name: string, v: string | undefined, def: number, min: number): number => {
    const n = v === undefined ? def : Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: expected an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const instances = (values.instances ?? '1,3').split(',').map((s) => int('instances', s.trim(), 1, 1));
  return {
    instances,
    messages: int('messages', values.messages, smoke ? 1000 : 200_000, 1000),
    devices: int('devices', values.devices, smoke ? 2 : 100, 1),
    window: int('window', values.window, 100, 1),
    repeat: int('repeat', values.repeat, smoke ? 1 : 3, 1),
    json: values.json ?? join(benchDir, 'results', `share-${new Date().toISOString().slice(0, 10)}.json`),
  };
}

/** Busy and total jiffies of the whole machine (all tenants), from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const cpu =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

interface PhaseResult {
  instances: number;
  messages: number;
  seconds: number;
  msgsPerSec: number;
  perInstance: number[];
  duplicates: number;
  missing: number;
  /** CPU seconds per second of wall time (1.0 = one core busy). */
  cpu: { mqlite: number[]; mosquitto: number; loadgen: number };
  /** Seconds per second the processes' threads were runnable but waiting for a CPU (all threads summed). */
  cpuWait: { mqlite: number[]; mosquitto: number; loadgen: number };
  /** Per instance, from its /metrics: commits, mean batch, mean commit time (ms), share of the time committing. */
  commits: { batches: number; meanBatch: number; meanCommitMs: number; committingShare: number }[];
  /** Share of the whole machine busy during the phase (all processes, all tenants), 0..1. */
  machineBusy: number;
  /** Machine busy time not accounted for by this phase's processes, in cores. */
  otherCores: number;
}

/** Union of the instances' files: each (topic, seq) once. */
function verifyUnion(dbs: string[], devices: number, perDevice: number) {
  const seen = new Map<string, number>();
  for (const path of dbs) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const rows = db
        .prepare("SELECT topic, json_extract(CAST(payload AS TEXT), '$.seq') FROM messages")
        .raw(true)
        .all() as [string, number][];
      for (const [topic, seq] of rows) {
        const k = `${topic}#${seq}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    } finally {
      db.close();
    }
  }
  let duplicates = 0;
  for (const n of seen.values()) duplicates += n - 1;
  return { duplicates, missing: devices * perDevice - seen.size };
}

async function runPhase(instances: number, opts: Options, compiled: CompiledBench): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), `mqlite-bench-share-${instances}-`));
  const info = brokerInfo(deployConf);
  if (info.kind !== 'mosquitto')
    throw new Error('bench:share needs Mosquitto (aedes has no shared subscriptions)');
  const broker = await startBroker(info, deployConf, compiled.path('lib/aedes-child.ts'));
  const cleanups: (() => Promise<void>)[] = [broker.stop];
  try {
    const dbs = Array.from({ length: instances }, (_, i) => join(dir, `mqlite-${i}.db`));
    const children: ChildProcess[] = [];
    const httpPorts: number[] = [];
    for (const [i, db] of dbs.entries()) {
      const p = await startMqlite(
        {
          mqliteFormat: 'json',
          brokerUrl: broker.url,
          protocolVersion: 5,
          qos: 1,
          topic: 'bench/#',
          dir,
          repoDir,
          ...(instances > 1 ? { shareGroup: 'bench' } : {}),
        },
        `bench-share-${i}`,
        db,
        false,
        (entry, args, env) =>
          track(spawn(process.execPath, [entry, ...args], { cwd: repoDir, env: { ...process.env, ...env } })),
      );
      const out = captureTail(p.child);
      cleanups.unshift(() => stopChild(p.child, 10_000));
      await mqliteReady(p, p.child, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${out()}`);
      });
      children.push(p.child);
      httpPorts.push(p.httpPort);
    }
    const readers = dbs.map(openReadOnly);
    cleanups.unshift(async () => {
      for (const r of readers) r.close();
    });

    const gen = track(
      fork(compiled.path('lib/loadgen.ts'), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }),
    );
    const genOut = captureTail(gen);
    cleanups.unshift(() => stopChild(gen));
    const perDevice = Math.floor(opts.messages / opts.devices);
    const expected = perDevice * opts.devices;
    const load: LoadConfig = {
      url: broker.url,
      devices: opts.devices,
      perDevice,
      qos: 1,
      rate: 0,
      payloadBytes: 80,
      window: opts.window,
    };
    const connected = waitForMessage(gen, 'connected', 60_000, 'load generator connect');
    gen.send({ type: 'config', ...load });
    await connected.catch((err: Error) => {
      throw new Error(`${err.message}\n${genOut()}`);
    });

    const pids = {
      mqlite: children.map((c) => c.pid ?? 0),
      mosquitto: broker.pid ?? 0,
      loadgen: gen.pid ?? 0,
    };
    const cpu0 = {
      mqlite: pids.mqlite.map(cpuSeconds),
      mosquitto: cpuSeconds(pids.mosquitto),
      loadgen: cpuSeconds(pids.loadgen),
    };
    const wait0 = {
      mqlite: pids.mqlite.map(runQueueWaitSeconds),
      mosquitto: runQueueWaitSeconds(pids.mosquitto),
      loadgen: runQueueWaitSeconds(pids.loadgen),
    };
    const machine0 = machineJiffies();
    const started = waitForMessage<IpcMessage & { at: number }>(gen, 'started', 10_000);
    gen.send({ type: 'go' });
    const t0 = (await started).at;
    let stored = 0;
    let lastGrowth = Date.now();
    for (;;) {
      benchAbort.signal.throwIfAborted();
      const n = readers.reduce((sum, r) => sum + maxRowId(r), 0);
      if (n > stored) {
        stored = n;
        lastGrowth = Date.now();
      }
      if (stored >= expected) break;
      if (Date.now() - lastGrowth > 30_000) throw new Error(`stalled at ${stored}/${expected} rows`);
      await sleep(5);
    }
    const t1 = Date.now();
    const seconds = Math.max(0.001, (t1 - t0) / 1000);
    const machine1 = machineJiffies();
    const cpu = {
      mqlite: pids.mqlite.map((pid, i) => (cpuSeconds(pid) - (cpu0.mqlite[i] ?? 0)) / seconds),
      mosquitto: (cpuSeconds(pids.mosquitto) - cpu0.mosquitto) / seconds,
      loadgen: (cpuSeconds(pids.loadgen) - cpu0.loadgen) / seconds,
    };
    const cpuWait = {
      mqlite: pids.mqlite.map((pid, i) => (runQueueWaitSeconds(pid) - (wait0.mqlite[i] ?? 0)) / seconds),
      mosquitto: (runQueueWaitSeconds(pids.mosquitto) - wait0.mosquitto) / seconds,
      loadgen: (runQueueWaitSeconds(pids.loadgen) - wait0.loadgen) / seconds,
    };
    const nproc = machine().nproc;
    const machineBusy = (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total);
    const ours = cpu.mqlite.reduce((a, b) => a + b, 0) + cpu.mosquitto + cpu.loadgen;
    const perInstance = readers.map(maxRowId);
    const commits = await Promise.all(
      httpPorts.map(async (port) => {
        const m = await scrapeMetrics(port);
        const batches = m.mqlite_batch_size_count ?? 0;
        const commitSum = m.mqlite_commit_duration_seconds_sum ?? 0;
        return {
          batches,
          meanBatch: batches > 0 ? (m.mqlite_batch_size_sum ?? 0) / batches : 0,
          meanCommitMs: batches > 0 ? (commitSum / batches) * 1000 : 0,
          committingShare: commitSum / seconds,
        };
      }),
    );
    const v = verifyUnion(dbs, opts.devices, perDevice);
    return {
      instances,
      messages: expected,
      seconds,
      msgsPerSec: expected / seconds,
      perInstance,
      ...v,
      cpu,
      cpuWait,
      commits,
      machineBusy,
      otherCores: Math.max(0, machineBusy * nproc - ours),
    };
  } finally {
    for (const c of cleanups) await c().catch((err: unknown) => console.error('cleanup failed:', err));
    rmSync(dir, { recursive: true, force: true });
  }
}

function line(r: PhaseResult): string {
  const f = (x: number) => x.toFixed(2);
  return (
    `  ${r.instances} instance(s): ${Math.round(r.msgsPerSec)} msg/s over ${r.seconds.toFixed(2)} s, ` +
    `split ${r.perInstance.join('/')}, dup ${r.duplicates}, missing ${r.missing}; cpu/s mqlite ` +
    `${r.cpu.mqlite.map(f).join('+')}, mosquitto ${f(r.cpu.mosquitto)}, loadgen ${f(r.cpu.loadgen)}; ` +
    `waiting for a cpu/s mqlite ${r.cpuWait.mqlite.map(f).join('+')}, mosquitto ${f(r.cpuWait.mosquitto)}, ` +
    `loadgen ${f(r.cpuWait.loadgen)}; batches ${r.commits.map((c) => `${c.batches}×${Math.round(c.meanBatch)}`).join('+')}, ` +
    `commit ${r.commits.map((c) => `${c.meanCommitMs.toFixed(1)} ms`).join('/')}; ` +
    `machine busy ${(r.machineBusy * 100).toFixed(0)}% (others ${f(r.otherCores)} cores)`
  );
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const m = machine();
  const info = brokerInfo(deployConf);
  console.log(`machine: ${m.nproc} cpus, ${m.cpuModel}, node ${m.node}; broker ${info.kind} ${info.version}`);
  console.log(
    `load: ${opts.devices} devices, ${opts.messages} QoS 1 messages per phase, window ${opts.window}; ` +
      `instances ${opts.instances.join(' vs ')}, ${opts.repeat} round(s)`,
  );
  installSignalHandlers();
  const compiled = compileBench(benchDir, repoDir);
  const runs = new Map<number, PhaseResult[]>(opts.instances.map((n) => [n, []]));
  const errors: string[] = [];
  try {
    for (let round = 0; round < opts.repeat && !benchAbort.signal.aborted; round++) {
      for (const n of opts.instances) {
        try {
          const r = await runPhase(n, opts, compiled);
          console.log(line(r));
          runs.get(n)?.push(r);
        } catch (err) {
          const msg = `${n} instance(s): ${(err as Error).message}`;
          console.error(`  FAILED ${msg}`);
          errors.push(msg);
        }
      }
    }
  } finally {
    compiled.dispose();
  }
  const medians = [...runs].flatMap(([n, rs]) => {
    const sorted = [...rs].sort((a, b) => a.msgsPerSec - b.msgsPerSec);
    const med = sorted[Math.floor(sorted.length / 2)];
    return med ? [{ instances: n, median: med, rounds: rs.map((r) => Math.round(r.msgsPerSec)) }] : [];
  });
  const base = medians[0]?.median.msgsPerSec;
  console.log('\nmedian by instance count:');
  for (const { median, rounds } of medians) {
    const ratio = base ? (median.msgsPerSec / base).toFixed(2) : '-';
    console.log(`${line(median)}  [${ratio}× of ${opts.instances[0]}; rounds ${rounds.join(', ')}]`);
  }
  const out = resolve(opts.json);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ schema: 1, date: new Date().toISOString(), machine: m, broker: info, options: opts, medians, runs: [...runs.values()].flat(), errors }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
  if (benchAbort.signal.aborted) return 130;
  const bad = [...runs.values()].flat().some((r) => r.duplicates !== 0 || r.missing !== 0);
  return errors.length > 0 || bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
