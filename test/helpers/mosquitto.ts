/**
 * A Mosquitto the test starts itself: free port on 127.0.0.1, temp config and persistence
 * dir, the broker settings ack-after-commit needs (deploy/mosquitto.conf explains each). Fails loudly
 * when the binary is missing: CI installs it, so these tests never skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

export interface MosquittoOptions {
  /** Keep sessions and queued messages across restart() (default true). */
  persistence?: boolean;
  /** Lines for the listener, after `listener PORT 127.0.0.1` (cafile, certfile, require_certificate…). */
  listenerLines?: string[];
  /** Lines appended at the end of mosquitto.conf. */
  extraConfig?: string[];
  /** Scheme of `url`: mqtts when listenerLines set up TLS (default mqtt). */
  scheme?: 'mqtt' | 'mqtts';
  /** Users and passwords: written with mosquitto_passwd, and anonymous clients are refused. */
  users?: Record<string, string>;
}

export interface RunningMosquitto {
  url: string;
  port: number;
  /** Stops the broker and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Stops (SIGTERM: the persistence file is written) and starts again on the same port. */
  restart(): Promise<void>;
  /** What the broker logged so far (connections, keepalive timeouts…); '' once stopped. */
  log(): string;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export function mosquittoBinary(): string {
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'mosquitto');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error(
    'this test needs Mosquitto, which was not found at /usr/sbin/mosquitto or on PATH ' +
      '(install it: apt-get install mosquitto)',
  );
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const bin = mosquittoBinary();
  if (opts.users !== undefined) requirePasswd();
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const log = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(opts.listenerLines ?? []),
    ...authLines(dir, opts.users),
    `persistence ${opts.persistence === false ? 'false' : 'true'}`,
    `persistence_location ${dir}/`,
    'set_tcp_nodelay true',
    'max_queued_messages 100000',
    'max_inflight_messages 1000',
    `log_dest file ${log}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
  ];
  // As root Mosquitto drops to user "mosquitto", which cannot write our temp dir.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  lines.push(...(opts.extraConfig ?? []));
  writeFileSync(conf, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let removed = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const code = await Promise.race([exited, sleep(50).then(() => 'running' as const)]);
      if (code !== 'running') {
        throw new Error(`mosquitto exited with ${code} at start: ${stderr}${readLog(log)}`);
      }
      if (await canConnect(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not accept connections on ${port} within ${START_TIMEOUT_MS} ms`);
      }
    }
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `${opts.scheme ?? 'mqtt'}://127.0.0.1:${port}`,
    port,
    async stop() {
      await halt();
      if (!removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async restart() {
      await halt();
      await launch();
    },
    log() {
      return readFileOr(log);
    },
  };
}

const PASSWD_BIN = '/usr/bin/mosquitto_passwd';

function requirePasswd(): void {
  if (!existsSync(PASSWD_BIN)) {
    throw new Error(
      `this test needs ${PASSWD_BIN}, which was not found (install it: apt-get install mosquitto)`,
    );
  }
}

/** Anonymous access, or a password_file made with mosquitto_passwd and anonymous refused. */
function authLines(dir: string, users: Record<string, string> | undefined): string[] {
  if (users === undefined) return ['allow_anonymous true'];
  const file = join(dir, 'passwd');
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    // -c creates the file (first user only: it truncates), -b takes the password from argv.
    execFileSync(PASSWD_BIN, first ? ['-b', '-c', file, user, password] : ['-b', file, user, password], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
    });
    first = false;
  }
  return ['allow_anonymous false', `password_file ${file}`];
}

function readLog(path: string): string {
  const text = readFileOr(path);
  return text === '' ? '' : `\n--- mosquitto.log ---\n${text}`;
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
