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
import { isTransientSqliteCode, sqliteCodeOf } from './sqlite-errors.js';
import { SinkStore } from './store.js';
import type { DecodeFn, DecoderFactory } from './types.js';

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
  try {
    store = SinkStore.open(init.store, decode);
  } catch (err) {
    send({ kind: 'open-failed', stage: 'open', error: wireError(err) });
    port.close();
    return;
  }
  send({ kind: 'ready' });

  port.on('message', (req: WorkerRequest) => {
    switch (req.kind) {
      case 'write': {
        try {
          const result = store.writeBatch(req.batch);
          send({ kind: 'result', id: req.id, result }, [result.payloadTs.buffer as ArrayBuffer]);
        } catch (err) {
          send({ kind: 'error', id: req.id, error: wireError(err) });
        }
        break;
      }
      case 'close': {
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

function wireError(err: unknown): WireError {
  const code = errorCode(err);
  return { code: sqliteCodeOf(err), message: errorMessage(err), retryable: isTransientSqliteCode(code) };
}
