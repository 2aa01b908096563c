/**
 * A fixed set of query worker threads, each with its own read-only connection, and a bounded
 * wait line in front of them. Past the line, a query is refused at once (503 unavailable) rather
 * than queued without bound. A query the worker does not answer within its time limit (plus a
 * grace for the worker's own deadline check to fire) is answered with a timeout; its worker stays
 * busy until it finishes, so a stuck query occupies one slot, never more.
 */
import { Worker } from 'node:worker_threads';
import type { ApiLimits } from './api.js';
import type { JobResult, QueryJob, QueryWorkerInit, QueryWorkerMessage } from './protocol.js';
import { QueryError } from './query-error.js';

export interface QueryPoolSettings {
  readonly dbPath: string;
  readonly busyTimeoutMs: number;
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly limits: ApiLimits;
}

/** The worker checks its deadline between series; this covers one slow series after it. */
const TIMEOUT_GRACE_MS = 5_000;
const START_TIMEOUT_MS = 10_000;
/**
 * Heap of one query worker. A query that loads query.maxSamples readings needs a few hundred MB
 * at most; past this the worker dies with ERR_WORKER_OUT_OF_MEMORY, its query fails and a new
 * worker replaces it, instead of the daemon's process growing until the system kills it.
 */
const WORKER_HEAP_MB = 512;

interface Pending {
  readonly job: QueryJob;
  readonly resolve: (r: JobResult) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: { id: number; pending: Pending; timer: NodeJS.Timeout; answered: boolean } | undefined;
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private stopped = false;

  constructor(
    private readonly settings: QueryPoolSettings,
    private readonly workerUrl: URL = defaultQueryWorkerUrl(),
  ) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.settings.concurrency; i++) this.slots.push(await this.spawn());
  }

  /** Runs a job on a free worker, or waits in line; refuses when the line is full. */
  run(job: QueryJob): Promise<JobResult> {
    if (this.stopped) return Promise.reject(new QueryError('unavailable', 'mqlite is shutting down'));
    return new Promise<JobResult>((resolve, reject) => {
      const p: Pending = { job, resolve, reject };
      const free = this.slots.find((s) => !s.busy);
      if (free) this.dispatch(free, p);
      else if (this.waiting.length < this.settings.maxQueued) this.waiting.push(p);
      else
        reject(
          new QueryError(
            'unavailable',
            `too many concurrent queries (${this.settings.concurrency} running, ${this.settings.maxQueued} waiting): retry later`,
          ),
        );
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.waiting.splice(0))
      p.reject(new QueryError('unavailable', 'mqlite is shutting down'));
    await Promise.all(
      this.slots.splice(0).map(async (s) => {
        if (s.busy) {
          clearTimeout(s.busy.timer);
          if (!s.busy.answered)
            s.busy.pending.reject(new QueryError('unavailable', 'mqlite is shutting down'));
        }
        // A worker inside a long SQLite read is terminated; it holds only a read transaction.
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Promise<Slot> {
    const init: QueryWorkerInit = {
      dbPath: this.settings.dbPath,
      busyTimeoutMs: this.settings.busyTimeoutMs,
      limits: this.settings.limits,
    };
    const worker = new Worker(this.workerUrl, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    const slot: Slot = { worker, busy: undefined };
    return new Promise<Slot>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new QueryError('internal', 'query worker did not start'));
      }, START_TIMEOUT_MS);
      worker.on('message', (m: QueryWorkerMessage) => {
        if (m.kind === 'ready') {
          clearTimeout(timer);
          resolve(slot);
        } else if (m.kind === 'open-failed') {
          clearTimeout(timer);
          reject(new QueryError(m.error.type, m.error.message));
        } else this.answered(slot, m);
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.crashed(slot, err);
      });
    });
  }

  private dispatch(slot: Slot, p: Pending): void {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      if (!slot.busy || slot.busy.id !== id) return;
      slot.busy.answered = true;
      p.reject(new QueryError('timeout', 'query timed out in query execution'));
    }, this.settings.limits.timeoutMs + TIMEOUT_GRACE_MS);
    slot.busy = { id, pending: p, timer, answered: false };
    slot.worker.postMessage({ id, job: p.job });
  }

  private answered(slot: Slot, m: Extract<QueryWorkerMessage, { id: number }>): void {
    const busy = slot.busy;
    if (!busy || busy.id !== m.id) return;
    clearTimeout(busy.timer);
    slot.busy = undefined;
    if (!busy.answered) {
      if (m.kind === 'done') busy.pending.resolve(m.result);
      else busy.pending.reject(new QueryError(m.error.type, m.error.message));
    }
    const next = this.waiting.shift();
    if (next) this.dispatch(slot, next);
  }

  /** A worker that died (out of memory, a native fault) is replaced; its query fails. */
  private crashed(slot: Slot, err: Error): void {
    const busy = slot.busy;
    if (busy) {
      clearTimeout(busy.timer);
      if (!busy.answered)
        busy.pending.reject(new QueryError('internal', `query worker failed: ${err.message}`));
    }
    const i = this.slots.indexOf(slot);
    if (i < 0 || this.stopped) return;
    this.slots.splice(i, 1);
    this.spawn().then(
      (s) => {
        if (this.stopped) {
          void s.worker.terminate();
          return;
        }
        this.slots.push(s);
        const next = this.waiting.shift();
        if (next) this.dispatch(s, next);
      },
      (e: unknown) => {
        for (const p of this.waiting.splice(0))
          p.reject(new QueryError('internal', `query worker failed: ${String(e)}`));
      },
    );
  }
}

function defaultQueryWorkerUrl(): URL {
  // From dist/query/query-pool.js the sibling; from src/ (tests) the build.
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/query/query-worker.js', import.meta.url)
    : new URL('./query-worker.js', import.meta.url);
}
