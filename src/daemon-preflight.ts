/**
 * What can fail at start without touching anything, checked before any file is created: a taken
 * port is reported first and alone, not after a database was created and "mqlite stopped" logged.
 * The listeners bind again for real later; a port taken in between still fails there, with the
 * stage's own message.
 */
import { createServer } from 'node:net';
import { errorCode, MqliteError } from './lib/errors.js';
import { withTimeout } from './lib/timeout.js';

/** Bound on one bind-and-close probe: neither touches the disk. */
const PROBE_TIMEOUT_MS = 5000;

export interface Listener {
  readonly host: string;
  readonly port: number;
}

/**
 * How flags are written on the command line that started us: `npm start --broker x` hands
 * `--broker` to npm, which swallows it; through npm it must be `npm start -- --broker x`.
 * npm sets npm_lifecycle_event to the script it runs.
 */
export function flagUsage(env: NodeJS.ProcessEnv): (flags: string) => string {
  return env.npm_lifecycle_event === 'start' ? (flags) => `npm start -- ${flags}` : (flags) => flags;
}

export async function checkEmbeddedPort(l: Listener, usage: (flags: string) => string): Promise<void> {
  if (await isTaken(l)) {
    throw new MqliteError(
      'MQLITE_PORT_IN_USE',
      `${l.host}:${l.port} is already in use (another MQTT broker is probably running there). ` +
        `Connect to it instead with ${usage(`--broker mqtt://${l.host}:${l.port}`)}, ` +
        `or run the embedded broker elsewhere with ${usage(`--listen ${l.host}:<another port>`)}`,
    );
  }
}

export async function checkHttpPort(l: Listener, usage: (flags: string) => string): Promise<void> {
  if (await isTaken(l)) {
    throw new MqliteError(
      'MQLITE_PORT_IN_USE',
      `${l.host}:${l.port} (metrics and health) is already in use: choose another with ` +
        `${usage('--http HOST:PORT')} or set http.listen: off`,
    );
  }
}

/** True only for EADDRINUSE; other bind errors are left for the real listen to report. */
async function isTaken(l: Listener): Promise<boolean> {
  if (l.port === 0) return false;
  const server = createServer();
  const bound = new Promise<boolean>((resolve) => {
    server.once('error', (err) => resolve(errorCode(err) === 'EADDRINUSE'));
    server.listen({ host: l.host, port: l.port, exclusive: true }, () => {
      server.close(() => resolve(false));
    });
  });
  try {
    return await withTimeout(bound, PROBE_TIMEOUT_MS, `probing ${l.host}:${l.port}`);
  } finally {
    server.close();
  }
}
