/**
 * The broker for one bench phase: a fresh Mosquitto configured from deploy/mosquitto.conf (only the
 * listener, authentication, persistence location and logging are replaced), or aedes in a child process
 * when the Mosquitto binary is absent. A fresh broker per phase: no session or queue carries over.
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForMessage } from './ipc.js';
import { captureTail, freePort, stopChild, track, waitForPort } from './process.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export interface BrokerInfo {
  readonly kind: 'mosquitto' | 'aedes';
  readonly version: string;
  /** MQTT protocol version the subscribers can use with it (aedes: 3.1.1 only). */
  readonly protocolVersion: 4 | 5;
  /** Settings in effect (Mosquitto: the generated config without comments). */
  readonly settings: readonly string[];
}

export interface RunningBroker {
  readonly url: string;
  readonly port: number;
  /** The broker's process, for its CPU time (bench/share.ts). */
  readonly pid: number | undefined;
  readonly stop: () => Promise<void>;
}

/** Keys the bench sets itself; everything else comes from deploy/mosquitto.conf. */
const REPLACED = new Set([
  'listener',
  'allow_anonymous',
  'password_file',
  'acl_file',
  'persistence_location',
  'log_dest',
  'log_type',
  'connection_messages',
  'pid_file',
]);

export function brokerInfo(deployConf: string): BrokerInfo {
  if (existsSync(MOSQUITTO_BIN)) {
    // `mosquitto -h` prints "mosquitto version X.Y.Z" first and exits non-zero; that is expected.
    const out = spawnSync(MOSQUITTO_BIN, ['-h'], { encoding: 'utf8', timeout: 5000 });
    const version = /version\s+(\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
    return { kind: 'mosquitto', version, protocolVersion: 5, settings: mosquittoSettings(deployConf, 0, '') };
  }
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('aedes/package.json'), 'utf8')) as { version: string };
  return { kind: 'aedes', version: pkg.version, protocolVersion: 4, settings: ['aedes defaults, noDelay'] };
}

function mosquittoSettings(deployConf: string, port: number, dataDir: string): string[] {
  const kept = readFileSync(deployConf, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !REPLACED.has(l.split(/\s+/)[0] ?? ''));
  return [
    ...kept,
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence_location ${dataDir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
}

export async function startBroker(
  info: BrokerInfo,
  deployConf: string,
  aedesEntry: string,
): Promise<RunningBroker> {
  return info.kind === 'mosquitto' ? startMosquitto(deployConf) : startAedes(aedesEntry);
}

async function startMosquitto(deployConf: string): Promise<RunningBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-mosq-'));
  const port = await freePort();
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, `${mosquittoSettings(deployConf, port, dir).join('\n')}\n`);
  const child = track(spawn(MOSQUITTO_BIN, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const tail = captureTail(child);
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 10_000, `mosquitto (${tail()})`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid, stop };
}

async function startAedes(entry: string): Promise<RunningBroker> {
  const child: ChildProcess = track(fork(entry, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
  const tail = captureTail(child);
  const stop = (): Promise<void> => stopChild(child);
  try {
    const { port } = await waitForMessage<{ type: 'listening'; port: number }>(child, 'listening', 10_000);
    return { url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw new Error(`aedes fallback broker failed: ${(err as Error).message}\n${tail()}`);
  }
}
