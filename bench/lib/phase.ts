/**
 * One measured phase: fresh broker → target (wait ready) → load generator (connect) → go → wait until the
 * last message is stored → verify → collect stats → stop everything, whatever happened.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrokerInfo, startBroker } from './broker.js';
import type { CompiledBench } from './compile.js';
import { type IpcMessage, waitForMessage } from './ipc.js';
import type { LoadConfig } from './loadgen.js';
import type { LatencySample, Verification } from './observer.js';
import { cpuSeconds, cpuSecondsByThread, diffThreads, peakRssBytes, rssBytes } from './proc-stats.js';
import { benchAbort, captureTail, sleep, stopChild, track } from './process.js';
import { type LoopStats, startTarget, type Target, type TargetKind } from './targets.js';

export interface PhaseSpec {
  readonly target: TargetKind;
  readonly phase: 'max' | 'half';
  readonly qos: 0 | 1;
  readonly devices: number;
  readonly perDevice: number;
  /** msgs/s across devices; 0 = as fast as possible. */
  readonly rate: number;
  readonly payloadBytes: number;
  readonly window: number;
}

export interface PhaseEnv {
  readonly broker: BrokerInfo;
  readonly deployConf: string;
  readonly repoDir: string;
  readonly compiled: CompiledBench;
  readonly topic: string;
  readonly mqliteFormat: 'json' | 'raw';
}

export interface PhaseResult {
  readonly spec: PhaseSpec;
  readonly messages: number;
  readonly verification: Verification;
  /** First publish → last message stored (transport: received). */
  readonly seconds: number;
  readonly msgsPerSec: number;
  readonly generator: { readonly seconds: number; readonly msgsPerSec: number; readonly errors: number };
  readonly cpuSeconds: number;
  /** CPU seconds over the same interval per thread name (proc-stats.ts cpuSecondsByThread). */
  readonly cpuByThread: Record<string, number>;
  readonly cpuPer100k: number;
  readonly peakRssMB: number;
  /** RSS when ready, devices connected, before the first publish. */
  readonly idleRssMB: number;
  readonly loop: {
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly resolutionMs: number;
  };
  readonly latency?: LatencySample;
  readonly metrics: Record<string, number>;
}

/** No new message for this long after the generator finished: the rest is lost. */
const IDLE_TIMEOUT_MS = 10_000;
const POLL_MS = 5;

async function waitForAll(
  target: Target,
  expected: number,
  generatorDone: () => boolean,
): Promise<{ count: number; lastAt: number }> {
  let last = { count: 0, lastAt: Date.now() };
  for (;;) {
    benchAbort.signal.throwIfAborted();
    const p = await target.progress();
    const now = Date.now();
    if (p.count > last.count) last = { count: p.count, lastAt: p.lastAt ?? now };
    if (p.count >= expected) return last;
    if (generatorDone() && now - last.lastAt > IDLE_TIMEOUT_MS) return last;
    if (!generatorDone() && now - last.lastAt > 120_000) throw new Error('no progress for 120 s');
    await sleep(POLL_MS);
  }
}

/**
 * Work run beside the load while it is measured (bench/query-load.ts: queries against the target):
 * started with the first publish, stopped once the last message is stored.
 */
export type Alongside = (target: Target) => { stop: () => Promise<void> };

export async function runPhase(spec: PhaseSpec, env: PhaseEnv, alongside?: Alongside): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), `mqlite-bench-${spec.target}-`));
  const broker = await startBroker(env.broker, env.deployConf, env.compiled.path('lib/aedes-child.ts'));
  const cleanups: (() => Promise<void>)[] = [broker.stop];
  try {
    const target = await startTarget({
      kind: spec.target,
      brokerUrl: broker.url,
      protocolVersion: env.broker.protocolVersion,
      qos: spec.qos,
      topic: env.topic,
      mqliteFormat: env.mqliteFormat,
      dir,
      repoDir: env.repoDir,
      compiled: env.compiled,
    });
    cleanups.unshift(target.stop);
    const gen = track(
      fork(env.compiled.path('lib/loadgen.ts'), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }),
    );
    const genOutput = captureTail(gen);
    cleanups.unshift(() => stopChild(gen));
    const load: LoadConfig = {
      url: broker.url,
      devices: spec.devices,
      perDevice: spec.perDevice,
      qos: spec.qos,
      rate: spec.rate,
      payloadBytes: spec.payloadBytes,
      window: spec.window,
    };
    const connected = waitForMessage(gen, 'connected', 60_000, 'load generator connect');
    gen.send({ type: 'config', ...load });
    await connected.catch((err: Error) => {
      throw new Error(`${err.message}\n${genOutput()}`);
    });

    const idleRss = rssBytes(target.pid);
    await target.beforeGo();
    if (spec.phase === 'half') target.startLatency();
    const cpu0 = cpuSeconds(target.pid);
    const threads0 = cpuSecondsByThread(target.pid);
    type Started = IpcMessage & { at: number };
    type Finished = IpcMessage & { at: number; published: number; errors: number };
    const started = waitForMessage<Started>(gen, 'started', 10_000);
    const finishedP = waitForMessage<Finished>(gen, 'finished', 30 * 60_000, 'load generator finish');
    let generatorEnded = false;
    // Recorded here, rethrown by the `await finishedP` below.
    finishedP.then(
      () => {
        generatorEnded = true;
      },
      () => {
        generatorEnded = true;
      },
    );
    gen.send({ type: 'go' });
    const t0 = (await started).at;
    const beside = alongside?.(target);
    const expected = spec.devices * spec.perDevice;
    const done = await waitForAll(target, expected, () => generatorEnded).finally(() => beside?.stop());
    // A target that died during the run: say so with its last output, not as a missing /proc file.
    if (!existsSync(`/proc/${target.pid}`))
      throw new Error(`${spec.target} exited during the run\n--- its output ---\n${target.output()}`);
    const cpu = cpuSeconds(target.pid) - cpu0;
    const threads = diffThreads(threads0, cpuSecondsByThread(target.pid));
    const peak = peakRssBytes(target.pid);
    const loop: LoopStats = await target.loop();
    const fin = await finishedP;
    const latency = spec.phase === 'half' ? await target.stopLatency() : undefined;
    const verification = await target.verify(spec.devices, spec.perDevice);
    const metrics = await target.metrics();
    const seconds = Math.max(0.001, (done.lastAt - t0) / 1000);
    const genSeconds = Math.max(0.001, (fin.at - t0) / 1000);
    const stored = Math.min(done.count, expected);
    return {
      spec,
      messages: expected,
      verification,
      seconds,
      msgsPerSec: stored / seconds,
      generator: { seconds: genSeconds, msgsPerSec: fin.published / genSeconds, errors: fin.errors },
      cpuSeconds: cpu,
      cpuPer100k: (cpu / Math.max(1, stored)) * 100_000,
      cpuByThread: threads,
      peakRssMB: peak / 1024 ** 2,
      idleRssMB: idleRss / 1024 ** 2,
      loop: {
        // The histogram counts the timer interval itself (see loop-probe.ts): report the excess.
        p50Ms: Math.max(0, loop.p50Ms - loop.resolutionMs),
        p99Ms: Math.max(0, loop.p99Ms - loop.resolutionMs),
        maxMs: Math.max(0, loop.maxMs - loop.resolutionMs),
        resolutionMs: loop.resolutionMs,
      },
      ...(latency ? { latency } : {}),
      metrics,
    };
  } finally {
    for (const c of cleanups) await c().catch((err: unknown) => console.error('cleanup failed:', err));
    rmSync(dir, { recursive: true, force: true });
  }
}
