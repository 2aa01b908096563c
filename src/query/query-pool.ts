/**
 * Up to `concurrency` query worker threads, each with its own read-only connection, and a bounded
 * wait line in front of them. Past the line, a query is refused at once (503 unavailable) rather
 * than queued without bound. A query the worker does not answer within its time limit (plus a
 * grace for the worker's own deadline check to fire) is answered with a timeout; its worker stays
 * busy until it finishes, so a stuck query occupies one slot, never more.
 *
 * Workers start on demand and leave after `idleMs` without a job: each is a V8 isolate of its own
 * (~10–20 MB resident), and most of an edge gateway's life has no one asking. A query that finds no
 * free worker and room for one more starts it and runs on it once it is ready.
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
  /** A worker with no job for this long exits; the next query starts one again. */
  readonly idleMs: number;
  /** Nice value of the worker threads (Linux): queries yield the CPU to ingestion. */
  readonly nice: number;
  /** Memory of each worker's cache of recent raw readings (recent-cache.ts); 0: none. */
  readonly cacheMaxBytes: number;
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
  readonly worker: Worker;
  ready: boolean;
  /** The job that started this worker, run once it is ready. */
  first: Pending | undefined;
  busy: { id: number; pending: Pending; timer: NodeJS.Timeout; answered: boolean } | undefined;
  idle: NodeJS.Timeout | undefined;
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

  /** Nothing to do: workers start with the first query. Kept for the one lifecycle. */
  async start(): Promise<void> {}

  /** Worker threads alive now (starting, busy or idle). */
  get workers(): number {
    return this.slots.length;
  }

  /** Runs a job on a free worker, on a new one, or waits in line; refuses when the line is full. */
  run(job: QueryJob): Promise<JobResult> {
    if (this.stopped) return Promise.reject(new QueryError('unavailable', 'mqlite is shutting down'));
    return new Promise<JobResult>((resolve, reject) => {
      const p: Pending = { job, resolve, reject };
      const free = this.slots.find((s) => s.ready && !s.busy);
      if (free) this.dispatch(free, p);
      else if (this.slots.length < this.settings.concurrency) this.spawn(p);
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
        clearTimeout(s.idle);
        s.first?.reject(new QueryError('unavailable', 'mqlite is shutting down'));
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

  /** A new worker for `first`; it runs `first` when ready, or fails it with the reason it did not start. */
  private spawn(first: Pending): void {
    const init: QueryWorkerInit = {
      dbPath: this.settings.dbPath,
      busyTimeoutMs: this.settings.busyTimeoutMs,
      limits: this.settings.limits,
      nice: this.settings.nice,
      cacheMaxBytes: this.settings.cacheMaxBytes,
    };
    const worker = new Worker(this.workerUrl, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    const slot: Slot = { worker, ready: false, first, busy: undefined, idle: undefined };
    this.slots.push(slot);
    const startTimer = setTimeout(() => {
      this.failed(slot, new QueryError('internal', 'query worker did not start'));
      void worker.terminate();
    }, START_TIMEOUT_MS);
    worker.on('message', (m: QueryWorkerMessage) => {
      if (m.kind === 'ready') {
        clearTimeout(startTimer);
        slot.ready = true;
        const p = slot.first;
        slot.first = undefined;
        if (p) this.dispatch(slot, p);
      } else if (m.kind === 'open-failed') {
        clearTimeout(startTimer);
        this.failed(slot, new QueryError(m.error.type, m.error.message));
      } else this.answered(slot, m);
    });
    worker.on('error', (err) => {
      clearTimeout(startTimer);
      this.failed(slot, new QueryError('internal', `query worker failed: ${err.message}`));
    });
    worker.on('exit', () => {
      clearTimeout(startTimer);
      this.failed(slot, new QueryError('internal', 'query worker exited'));
    });
  }

  private dispatch(slot: Slot, p: Pending): void {
    clearTimeout(slot.idle);
    slot.idle = undefined;
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
    else if (!this.stopped) {
      slot.idle = setTimeout(() => this.retire(slot), this.settings.idleMs);
      // An idle worker's timer must not keep a process alive that has nothing else to do.
      slot.idle.unref();
    }
  }

  private retire(slot: Slot): void {
    if (slot.busy || !this.remove(slot)) return;
    // Idle: no read transaction open, nothing to finish.
    void slot.worker.terminate();
  }

  /**
   * A worker that did not start, died (out of memory, a native fault) or exited: its query fails,
   * and a query waiting in line starts a worker in its place.
   */
  private failed(slot: Slot, err: QueryError): void {
    if (!this.remove(slot)) return;
    clearTimeout(slot.idle);
    slot.first?.reject(err);
    slot.first = undefined;
    const busy = slot.busy;
    if (busy) {
      clearTimeout(busy.timer);
      if (!busy.answered) busy.pending.reject(err);
    }
    const next = this.waiting.shift();
    if (next && !this.stopped) this.spawn(next);
  }

  /** Takes the slot out of the pool; false when it was out already (stopped, retired, failed). */
  private remove(slot: Slot): boolean {
    const i = this.slots.indexOf(slot);
    if (i < 0) return false;
    this.slots.splice(i, 1);
    return true;
  }
}

function defaultQueryWorkerUrl(): URL {
  // From dist/query/query-pool.js the sibling; from src/ (tests) the build.
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/query/query-worker.js', import.meta.url)
    : new URL('./query-worker.js', import.meta.url);
}
