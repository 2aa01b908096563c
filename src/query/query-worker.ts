/**
 * Entry of a query worker thread: one read-only SQLite connection, one job at a time.
 * better-sqlite3 is synchronous, so a query here never blocks the daemon's event loop or its
 * writer (which has its own thread and connection).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ApiNotes, handleApiJson } from './api.js';
import { renderExposition } from './exposition.js';
import type { JobResult, QueryWorkerInit, QueryWorkerMessage, QueryWorkerRequest } from './protocol.js';
import { toWire } from './query-error.js';
import { SqliteReader } from './sqlite-reader.js';
import { statusQuery } from './status-data.js';
import { lowerThreadPriority, nameThread } from '../lib/thread-priority.js';

const port = parentPort;
if (!port) throw new Error('query-worker must run in a worker thread');
const init = workerData as QueryWorkerInit;
const send = (m: QueryWorkerMessage): void => port.postMessage(m);

let reader: SqliteReader | undefined;
try {
  nameThread('mqlite-query');
  if (init.nice > 0) lowerThreadPriority(init.nice);
  reader = new SqliteReader(init.dbPath, {
    busyTimeoutMs: init.busyTimeoutMs,
    cache: { maxBytes: init.cacheMaxBytes },
  });
  send({ kind: 'ready' });
} catch (err) {
  send({ kind: 'open-failed', error: toWire(err) });
  port.close();
}

port.on('message', (msg: QueryWorkerRequest | 'close') => {
  if (msg === 'close' || !reader) {
    reader?.close();
    port.close();
    return;
  }
  try {
    const r = reader;
    const job = msg.job;
    // One read transaction per job (SqliteReader.snapshot): one snapshot, one page cache.
    const result = r.snapshot((): JobResult => {
      if (job.kind === 'api') {
        const notes: ApiNotes = {};
        const before = r.cacheStats();
        const json = handleApiJson(job.req, r, init.limits, notes);
        const after = r.cacheStats();
        const cache =
          before && after
            ? {
                hits: after.hits - before.hits,
                partial: after.partial - before.partial,
                misses: after.misses - before.misses,
              }
            : undefined;
        return { kind: 'api', json, resolution: notes.resolution, cache };
      }
      if (job.kind === 'status') return { kind: 'status', data: statusQuery(r.handle(), job.job) };
      return { kind: 'exposition', ...renderExposition(r.latest(), job.now, job.settings) };
    });
    send({ kind: 'done', id: msg.id, result });
  } catch (err) {
    send({ kind: 'failed', id: msg.id, error: toWire(err) });
  }
});
