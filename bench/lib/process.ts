/** Child-process and socket helpers for the bench: every wait bounded, every child stopped. */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!port) throw new Error('could not obtain a free port');
  return port;
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await tryConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${what}: nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** Polls `probe` until it returns true. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after `graceMs`. Idempotent; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Keeps the last `max` characters a child wrote, to show when it fails. */
export function captureTail(child: ChildProcess, max = 4000): () => string {
  let tail = '';
  const add = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-max);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => tail;
}

/** Set on SIGINT/SIGTERM: phases stop waiting and clean up; run.ts skips the remaining phases. */
export const benchAbort = new AbortController();

const live = new Set<ChildProcess>();

/** Registers a child so an interrupted bench can stop it (its `finally` blocks may not get the chance). */
export function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** First signal: abort and SIGTERM every tracked child; a second one: SIGKILL them and exit. */
export function installSignalHandlers(): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (benchAbort.signal.aborted) {
      for (const c of live) c.kill('SIGKILL');
      process.exit(130);
    }
    console.error(`\n${signal}: stopping the bench`);
    benchAbort.abort(new Error(`interrupted by ${signal}`));
    for (const c of live) c.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
