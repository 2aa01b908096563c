/**
 * The forwarder worker's settings for tests that start a Forwarder in process: small batches, fast
 * polls and retries, the cursor mirrored at every move, no thread priority change. Each test names
 * its database, schema and how PostgreSQL is reached, and overrides what it is about.
 */
import type { ForwardWorkerInit } from '../../src/forward/protocol.js';
import { PG } from './pg-test-schema.js';

export function forwardInit(
  dbPath: string,
  schema: string,
  over: Partial<ForwardWorkerInit> = {},
): ForwardWorkerInit {
  return {
    dbPath,
    busyTimeoutMs: 2000,
    connection: {
      host: PG.host,
      port: PG.port,
      database: PG.database,
      user: PG.user,
      tls: { mode: 'disable' },
    },
    schema,
    source: undefined,
    method: 'copy',
    batchMessages: 1000,
    batchBytes: 1024 ** 2,
    pollMs: 50,
    maxDelayMs: 0,
    connectTimeoutMs: 2000,
    batchTimeoutMs: 5000,
    retry: { baseMs: 20, factor: 2, capMs: 200 },
    protectUndelivered: true,
    protectEveryMs: 0,
    backlogEveryMs: 100,
    prefetch: true,
    nice: 0,
    ...over,
  };
}
