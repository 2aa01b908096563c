/**
 * The code that runs in the SQLite worker thread. It owns the only connection, so the event loop
 * of the main thread never waits for an fsync. src/worker.ts (the thread's entry) calls
 * runSqliteWorker with the decoder factory, keeping decode/ and sink/ apart.
 *
 * Requests are handled one at a time, in arrival order: better-sqlite3 is synchronous, so a
 * message handler runs to completion before the next one starts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorCode, errorMessage } from '../lib/errors.js';
import type { WireError, WorkerInit, WorkerMessage, WorkerRequest } from './protocol.js';
import { DB_FILE_REPLACED, DbFileIdentity } from './db-file-identity.js';
import { PageCacheSize } from './page-cache.js';
import { isTransientSqliteCode, sqliteCodeOf } from './sqlite-errors.js';
import { SinkStore } from './store.js';
import type { DecodeFn, DecoderFactory } from './types.js';

/** Writes pause this long (ms) before pending latest/rollups are written on their own. */
const IDLE_FLUSH_MS = 200;

export function runSqliteWorker<D>(makeDecoder: DecoderFactory<D>): void {
  const port = parentPort;
  if (!port) throw new Error('runSqliteWorker must run in a worker thread');
  // SqliteSink<D> started this thread with a WorkerInit<D> (sqlite-sink.ts spawn()).
  const init: WorkerInit<D> = workerData;
  const send = (msg: WorkerMessage, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

  let decode: DecodeFn;
  try {
    decode = makeDecoder(init.decode);
  } catch (err) {
    send({ kind: 'open-failed', stage: 'init', error: wireError(err) });
    port.close();
    return;
  }
  let store: SinkStore;
  let identity: DbFileIdentity;
  // Sized to the topics written (page-cache.ts), after the migrations, which keep SQLite's default.
  const cache = new PageCacheSize();
  try {
    store = SinkStore.open(init.store, decode, (progress) => send({ kind: 'migrating', progress }));
    identity = DbFileIdentity.capture(init.store.path);
    store.maintain({ kind: 'cache-size', kib: cache.current });
  } catch (err) {
    send({ kind: 'open-failed', stage: 'open', error: wireError(err) });
    port.close();
    return;
  }
  send({ kind: 'ready' });

  // Under load the store keeps latest/rollups in memory between batches (pending-rollups.ts); once
  // writes pause they go to the tables, so readers do not wait for the next message.
  let idleFlush: ReturnType<typeof setTimeout> | undefined;
  const cancelIdleFlush = (): void => {
    if (idleFlush !== undefined) clearTimeout(idleFlush);
    idleFlush = undefined;
  };
  const scheduleIdleFlush = (): void => {
    cancelIdleFlush();
    if (!store.hasPending) return;
    idleFlush = setTimeout(() => {
      idleFlush = undefined;
      try {
        store.flushPending();
      } catch {
        // Kept in memory and written with the next batch; a crash before that loses nothing either:
        // the next open replays the messages after the cursor.
      }
    }, IDLE_FLUSH_MS);
  };

  port.on('message', (req: WorkerRequest) => {
    // Only a write restarts the countdown: retention passes send steps back to back for as long as a
    // purge lasts, and must not hold the aggregates back meanwhile.
    if (req.kind === 'write') cancelIdleFlush();
    switch (req.kind) {
      case 'write': {
        try {
          // Before the batch: its new devices' pages then stay cached from their first insert.
          const kib = cache.grow(req.batch.topics);
          if (kib !== undefined) store.maintain({ kind: 'cache-size', kib });
          const result = store.writeBatch(req.batch);
          scheduleIdleFlush();
          // Committed, but into the file at the path? If not, this batch fails (never acked) and
          // this worker ends; the sink opens the path afresh for the retry (db-file-identity.ts).
          const moved = identity.check();
          if (moved !== undefined) {
            abandonMovedFile(store, moved, req.id, send);
            port.close();
            return;
          }
          send({ kind: 'result', id: req.id, result }, [result.payloadTs.buffer as ArrayBuffer]);
        } catch (err) {
          send({ kind: 'error', id: req.id, error: wireError(err) });
        }
        break;
      }
      case 'maintain': {
        try {
          send({ kind: 'maintained', id: req.id, result: store.maintain(req.op) });
        } catch (err) {
          send({ kind: 'error', id: req.id, error: wireError(err) });
        }
        // A purge step leaves the pending aggregates pending (store.ts maintain): the countdown to
        // writing them goes on (or starts, if a step found them without one).
        if (idleFlush === undefined) scheduleIdleFlush();
        break;
      }
      case 'close': {
        cancelIdleFlush();
        try {
          store.close();
          send({ kind: 'closed', id: req.id });
        } catch (err) {
          send({ kind: 'error', id: req.id, error: wireError(err) });
        }
        // With the port closed and the database closed, nothing keeps the thread alive: it exits.
        port.close();
        break;
      }
    }
  });
}

function abandonMovedFile(
  store: SinkStore,
  what: string,
  id: number,
  send: (msg: WorkerMessage) => void,
): void {
  // Closing checkpoints into the old inode: if only the -wal or -shm went, that still saves what
  // the WAL held into the database that is at the path.
  let closeProblem = '';
  try {
    store.close();
  } catch (err) {
    closeProblem = ` (closing it: ${errorMessage(err)})`;
  }
  const message =
    `${what}; the batch was written to a file that is no longer reachable, so it is not acknowledged: ` +
    `reopening the database at its path and writing it again${closeProblem}`;
  send({ kind: 'error', id, error: { code: DB_FILE_REPLACED, message, retryable: true } });
}

function wireError(err: unknown): WireError {
  const code = errorCode(err);
  return { code: sqliteCodeOf(err), message: errorMessage(err), retryable: isTransientSqliteCode(code) };
}
