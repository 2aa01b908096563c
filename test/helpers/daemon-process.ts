/**
 * Runs the real CLI (dist/cli.js, built by `npm test`) as a child process and reads its
 * NDJSON log to learn the addresses it bound (tests pass port 0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface Address {
  host: string;
  port: number;
}

export interface DaemonProcess {
  readonly proc: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly stderr: string[];
  readonly http: Address | undefined;
  readonly broker: Address | undefined;
  readonly exited: Promise<number | null>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill9(): Promise<void>;
  metrics(): Promise<string>;
  readyz(): Promise<{ status: number; body: string }>;
}

export async function startDaemon(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<DaemonProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, MQLITE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let started: Record<string, unknown> | undefined;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`daemon did not start in ${timeoutMs} ms; stderr: ${stderr.join('')}`)),
      timeoutMs,
    );
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      if (rec.msg === 'mqlite started') {
        started = rec;
        clearTimeout(timer);
        resolve();
      }
    });
    proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before starting; stderr: ${stderr.join('')}`));
    });
  });
  try {
    await ready;
  } catch (err) {
    // Never leave a half-started daemon behind a failed test.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    throw err;
  }
  const http = started?.http as Address | undefined;
  const broker = typeof started?.broker === 'object' ? (started.broker as Address) : undefined;
  const base = http ? `http://${http.host}:${http.port}` : '';
  return {
    proc,
    logs,
    stderr,
    http,
    broker,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    readyz: async () => {
      const r = await fetch(`${base}/readyz`);
      return { status: r.status, body: await r.text() };
    },
  };
}

/** Runs the CLI to completion (check-config, bad flags) and collects its output. */
/**
 * The daemon in embedded-broker mode storing into `db`, its MQTT listener and HTTP server on
 * ephemeral ports of 127.0.0.1 (read them from `broker` and `http`), plus `args` (a config file…).
 */
export function startEmbeddedDaemon(db: string, args: string[] = []): Promise<DaemonProcess> {
  return startDaemon(['--db', db, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args]);
}

export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mqlite ${args.join(' ')} did not exit in ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Sum of a metric's samples (all label sets) in Prometheus text output. */
export function metricValue(text: string, name: string, labels?: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels && !Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
  }
  return sum;
}
