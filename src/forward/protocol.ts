/** Messages between the daemon and the forwarder's worker thread (forward-worker.ts). */
import type { BackoffPolicy } from '../lib/backoff.js';
import type { ForwardStage } from './forward-loop.js';
import type { PgConnection } from './pg-connection.js';
import type { ForwardMethod } from './pg-destination.js';
import type { BacklogStats } from './types.js';

export interface ForwardWorkerInit {
  readonly dbPath: string;
  readonly busyTimeoutMs: number;
  readonly connection: PgConnection;
  readonly schema: string;
  /** undefined: the instance id stored in the database file. */
  readonly source: string | undefined;
  readonly method: ForwardMethod;
  readonly batchMessages: number;
  readonly batchBytes: number;
  readonly pollMs: number;
  /** forward.postgres.maxDelayMs: a batch that is not full waits for more this long (batch-wait.ts). */
  readonly maxDelayMs: number;
  readonly connectTimeoutMs: number;
  readonly batchTimeoutMs: number;
  readonly retry: BackoffPolicy;
  readonly protectUndelivered: boolean;
  readonly protectEveryMs: number;
  readonly backlogEveryMs: number;
  /** Read and encode the next batch while PostgreSQL works on the current one (forward-loop.ts). */
  readonly prefetch: boolean;
  /** The worker thread's nice value (forward.postgres.nice); 0 leaves it at the process's. */
  readonly nice: number;
}

export interface WireError {
  readonly message: string;
  readonly code: string | undefined;
}

export type ForwardWorkerMessage =
  | { kind: 'ready'; source: string }
  | { kind: 'open-failed'; error: WireError }
  | { kind: 'connected'; cursor: number }
  | { kind: 'batch'; messages: number; inserted: number; bytes: number; seconds: number; cursor: number }
  | { kind: 'error'; stage: ForwardStage; error: WireError; retryInMs: number }
  | { kind: 'backlog'; stats: BacklogStats }
  | { kind: 'stopped' };

export type ForwardWorkerRequest = { kind: 'stop' };
