/**
 * pino NDJSON on stdout: journald, Docker and log shippers read it as is. No rotation in
 * the process (the supervisor owns stdout). A human at a terminal gets pino-pretty instead.
 */
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

/** pino-pretty (and its dependencies) load only for a terminal: a daemon under systemd never holds them. */
const loadPretty = (): typeof PinoPretty =>
  createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;

export type LogLevel = Level | 'silent';

export interface LoggerSettings {
  readonly level: LogLevel;
  /** Human-readable lines; default: only when stdout is a terminal. */
  readonly pretty?: boolean;
  /** Where lines go instead of stdout (tests). */
  readonly destination?: DestinationStream | Writable;
}

/** Paths that may carry a secret if someone logs a config or a connect option object. */
const REDACT = [
  'password',
  '*.password',
  '*.*.password',
  'passwordHash',
  '*.passwordHash',
  '*.*.passwordHash',
];

export function createLogger(s: LoggerSettings): Logger {
  const usePretty = s.pretty ?? process.stdout.isTTY === true;
  const options = {
    level: s.level,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (usePretty) {
    // A stream in this thread rather than pino.transport(): no worker thread to start and
    // flush at exit, and a terminal is not where throughput matters.
    const stream = loadPretty()({
      colorize: process.stdout.isTTY === true && s.destination === undefined,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      ...(s.destination ? { destination: s.destination } : {}),
    });
    return pino(options, stream);
  }
  // Synchronous writes: a crash loses no line, and at info level the volume is small.
  return pino(options, s.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** The child logger each stage receives: every line it writes names the stage. */
export function stageLogger(parent: Logger, stage: string): Logger {
  return parent.child({ stage });
}
