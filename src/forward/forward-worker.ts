/**
 * Entry of the forwarder's worker thread: the outbox's SQLite connections and the PostgreSQL
 * client live here, so neither a synchronous read of a large batch nor encoding it nor the pg
 * client's work runs on the daemon's event loop. Reports progress to the daemon as messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorCode, errorMessage } from '../lib/errors.js';
import { lowerThreadPriority, nameThread } from '../lib/thread-priority.js';
import { ForwardLoop } from './forward-loop.js';
import { Outbox } from './outbox.js';
import { PgDestination } from './pg-destination.js';
import type { ForwardWorkerInit, ForwardWorkerMessage, ForwardWorkerRequest, WireError } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('forward-worker must run in a worker thread');
const init = workerData as ForwardWorkerInit;
const send = (m: ForwardWorkerMessage): void => port.postMessage(m);
const wire = (err: unknown): WireError => ({ message: errorMessage(err), code: errorCode(err) });

nameThread('mqlite-forward');
// Ingestion first: on a small gateway a backlog drains with the CPU the ingesting threads leave.
if (init.nice > 0) lowerThreadPriority(init.nice);

let outbox: Outbox | undefined;
let source = '';
try {
  outbox = new Outbox({ path: init.dbPath, busyTimeoutMs: init.busyTimeoutMs });
  source = init.source ?? outbox.instanceId();
  // From now on retention keeps what is not delivered (or, when allowed, may purge it).
  if (init.protectUndelivered) outbox.protectFromStart(Date.now());
  else outbox.unprotect();
  send({ kind: 'ready', source });
} catch (err) {
  outbox?.close();
  outbox = undefined;
  send({ kind: 'open-failed', error: wire(err) });
  port.close();
}

if (outbox) run(outbox);

function run(box: Outbox): void {
  let wake: (() => void) | undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  const destination = new PgDestination({
    connection: init.connection,
    schema: init.schema,
    source,
    connectTimeoutMs: init.connectTimeoutMs,
    batchTimeoutMs: init.batchTimeoutMs,
    method: init.method,
  });
  let delivered = 0;
  const loop = new ForwardLoop(
    {
      batchMessages: init.batchMessages,
      batchBytes: init.batchBytes,
      pollMs: init.pollMs,
      maxDelayMs: init.maxDelayMs,
      retry: init.retry,
      protect: init.protectUndelivered,
      protectEveryMs: init.protectEveryMs,
      prefetch: init.prefetch,
    },
    {
      outbox: box,
      destination,
      now: Date.now,
      sleep,
      hooks: {
        onConnected: (cursor) => {
          delivered = cursor;
          send({ kind: 'connected', cursor });
        },
        onBatch: (b) => {
          delivered = b.cursor;
          send({ kind: 'batch', ...b });
        },
        onError: (stage, err, retryInMs) => send({ kind: 'error', stage, error: wire(err), retryInMs }),
        onProtectError: (err) => send({ kind: 'error', stage: 'protect', error: wire(err), retryInMs: 0 }),
      },
    },
  );
  const reportBacklog = (): void => {
    try {
      send({ kind: 'backlog', stats: box.backlog(delivered, Date.now()) });
    } catch (err) {
      send({ kind: 'error', stage: 'read', error: wire(err), retryInMs: init.backlogEveryMs });
    }
  };
  reportBacklog();
  const backlogTimer = setInterval(reportBacklog, init.backlogEveryMs);
  const finished = loop.run();

  port?.on('message', (m: ForwardWorkerRequest) => {
    if (m.kind !== 'stop') return;
    loop.stop();
    wake?.();
    clearInterval(backlogTimer);
    // The batch in flight ends (commits, fails or times out), then the last cursor is mirrored.
    void finished
      .then(() => destination.close())
      .finally(() => {
        // Whatever happened above, the files are closed and the daemon told; it terminates the
        // thread anyway if this never comes.
        try {
          box.close();
        } finally {
          send({ kind: 'stopped' });
          port?.close();
        }
      });
  });
}
