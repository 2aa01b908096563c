/**
 * Keeps `npm run bench` from rotting: a tiny run (2 devices x 500 messages, QoS 1) of all three targets
 * through a real Mosquitto. Asserts correctness and the JSON shape only; speed lives in BENCHMARKS.md.
 * `npm test` builds dist/ first, which the mqlite target runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';

const repoDir = resolve(import.meta.dirname, '..', '..');
const MOSQUITTO = '/usr/sbin/mosquitto';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function runBench(
  args: string[],
  timeoutMs: number,
  script = 'bench/run.ts',
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: repoDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    const timer = setTimeout(() => {
      // SIGINT reaches the bench's own cleanup path (brokers and targets are stopped in `finally`).
      child.kill('SIGINT');
      reject(new Error(`bench did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

interface PhaseJson {
  msgsPerSec: number;
  cpuPer100k: number;
  peakRssMB: number;
  loop: { p99Ms: number };
  verification: { rows: number; missing: number; duplicates: number; ok: boolean };
  latency?: { n: number; p50Ms: number; p99Ms: number };
}

interface ReportJson {
  schema: number;
  machine: { nproc: number; cpuModel: string; node: string };
  broker: { kind: string; version: string; settings: string[] };
  halfRate: Record<string, number>;
  results: {
    target: string;
    qos: number;
    verified: boolean;
    errors: string[];
    maxRounds: number[];
    ratios: { throughput?: number; cpuPer100k?: number };
    max?: PhaseJson;
    half?: PhaseJson;
  }[];
}

describe('npm run bench --smoke', () => {
  it('runs transport, handwritten and mqlite, stores every message once, and writes the JSON report', async () => {
    // Fail loudly rather than silently measuring against the aedes fallback.
    expect(existsSync(MOSQUITTO), `${MOSQUITTO} is required (apt-get install mosquitto)`).toBe(true);
    expect(existsSync(join(repoDir, 'dist', 'cli.js')), 'dist/cli.js missing: run `npm run build`').toBe(
      true,
    );
    const t = tmpDir('mqlite-bench-smoke-');
    cleanups.push(t.cleanup);
    const jsonPath = join(t.dir, 'smoke.json');

    const { code, output } = await runBench(['--smoke', '--json', jsonPath], 240_000);
    expect(code, output).toBe(0);

    const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as ReportJson;
    expect(report.schema).toBe(1);
    expect(report.machine.nproc).toBeGreaterThan(0);
    expect(report.broker.kind).toBe('mosquitto');
    expect(report.broker.settings).toContain('set_tcp_nodelay true');
    expect(report.halfRate.qos1).toBeGreaterThan(0);
    expect(report.results.map((r) => r.target).sort()).toEqual([
      'handwritten',
      'mqlite',
      'mqlite-ack-on-receipt',
      'transport',
    ]);
    for (const r of report.results) {
      expect(r.errors, r.target).toEqual([]);
      expect(r.verified, r.target).toBe(true);
      expect(r.qos).toBe(1);
      expect(r.maxRounds, r.target).toHaveLength(1);
      for (const phase of [r.max, r.half]) {
        expect(phase, r.target).toBeDefined();
        const p = phase as PhaseJson;
        expect(p.verification).toMatchObject({ missing: 0, duplicates: 0, ok: true });
        expect(p.msgsPerSec).toBeGreaterThan(0);
        expect(p.cpuPer100k).toBeGreaterThanOrEqual(0);
        expect(p.peakRssMB).toBeGreaterThan(0);
        expect(Number.isFinite(p.loop.p99Ms)).toBe(true);
      }
      expect(r.half?.latency?.n, r.target).toBeGreaterThan(0);
      expect(Number.isFinite(r.half?.latency?.p99Ms)).toBe(true);
      expect(r.ratios.throughput, r.target).toBeGreaterThan(0);
      expect(r.ratios.cpuPer100k, r.target).toBeGreaterThan(0);
    }
    // The printed table names every target.
    for (const target of ['transport', 'handwritten', 'mqlite', 'mqlite-ack-on-receipt'])
      expect(output).toContain(`| ${target}`);
  });
});

describe('npm run bench:share --smoke', () => {
  it('runs 1 instance and 3 on a shared subscription, each message once in the union, and writes the JSON', async () => {
    expect(existsSync(MOSQUITTO), `${MOSQUITTO} is required (apt-get install mosquitto)`).toBe(true);
    const t = tmpDir('mqlite-bench-share-smoke-');
    cleanups.push(t.cleanup);
    const jsonPath = join(t.dir, 'share.json');
    const { code, output } = await runBench(['--smoke', '--json', jsonPath], 240_000, 'bench/share.ts');
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
      errors: string[];
      runs: {
        instances: number;
        messages: number;
        duplicates: number;
        missing: number;
        perInstance: number[];
      }[];
    };
    expect(report.errors).toEqual([]);
    expect(report.runs.map((r) => r.instances)).toEqual([1, 3]);
    for (const r of report.runs) {
      expect(r).toMatchObject({ messages: 1000, duplicates: 0, missing: 0 });
      expect(r.perInstance).toHaveLength(r.instances);
      for (const n of r.perInstance) expect(n).toBeGreaterThan(0);
    }
  });
});
