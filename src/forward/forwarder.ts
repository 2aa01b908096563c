/**
 * The daemon's handle on forwarding: starts the worker thread (forward-worker.ts), relays its
 * reports to hooks (metrics, logs), and stops it within a deadline. A worker that dies is
 * reported and started again after a pause; its cursor lives in PostgreSQL, so nothing repeats.
 */
import { Worker } from 'node:worker_threads';
import { MqliteError } from '../lib/errors.js';
import type { ForwardStage } from './forward-loop.js';
import type { ForwardWorkerInit, ForwardWorkerMessage, WireError } from './protocol.js';
import type { BacklogStats } from './types.js';

export interface ForwarderHooks {
  onReady(source: string): void;
  onConnected(cursor: number): void;
  onBatch(b: { messages: number; inserted: number; bytes: number; seconds: number; cursor: number }): void;
  onError(stage: ForwardStage | 'worker', error: WireError, retryInMs: number): void;
  onBacklog(stats: BacklogStats): void;
}

const START_TIMEOUT_MS = 10_000;
/** A dead worker is replaced after this long: a crash loop must not spin. */
const RESTART_MS = 5_000;
/** Heap of the worker at least: the default batches, pg's buffers, and room to spare. */
const MIN_WORKER_HEAP_MB = 256;

/**
 * The worker's heap cap for batches of `batchBytes`. With read-ahead two batches are live at once
 * (the one at the server, the next as rows and as COPY text being built); a payload string may
 * take two bytes per character, so 6 × batchBytes plus slack: 256 MB at the default 16 MiB, ~830 MB
 * at the 128 MiB maximum. A cap too low would not fail loudly: the worker would run out of memory
 * on every large batch and be restarted forever.
 */
export function workerHeapMb(batchBytes: number): number {
  return Math.max(MIN_WORKER_HEAP_MB, Math.ceil((6 * batchBytes) / 1024 ** 2) + 64);
}

export class Forwarder {
  private worker: Worker | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly init: ForwardWorkerInit,
    private readonly hooks: ForwarderHooks,
    private readonly workerUrl: URL = defaultForwardWorkerUrl(),
  ) {}

  /** Resolves once the worker has opened the database (the forwarding itself runs on). */
  async start(): Promise<void> {
    await this.spawn();
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.workerUrl, {
      workerData: this.init,
      resourceLimits: { maxOldGenerationSizeMb: workerHeapMb(this.init.batchBytes) },
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new MqliteError('MQLITE_TIMEOUT', 'the forwarder worker did not start'));
      }, START_TIMEOUT_MS);
      worker.on('message', (m: ForwardWorkerMessage) => {
        switch (m.kind) {
          case 'ready':
            started = true;
            clearTimeout(timer);
            this.hooks.onReady(m.source);
            resolve();
            return;
          case 'open-failed':
            clearTimeout(timer);
            reject(new MqliteError('MQLITE_DB_OPEN_FAILED', `forwarder: ${m.error.message}`));
            return;
          case 'connected':
            this.hooks.onConnected(m.cursor);
            return;
          case 'batch':
            this.hooks.onBatch(m);
            return;
          case 'error':
            this.hooks.onError(m.stage, m.error, m.retryInMs);
            return;
          case 'backlog':
            this.hooks.onBacklog(m.stats);
            return;
          case 'stopped':
            return;
        }
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        if (!started) reject(err);
        this.hooks.onError('worker', { message: err.message, code: undefined }, RESTART_MS);
      });
      worker.on('exit', () => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        if (this.stopping || !started) return;
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          if (this.stopping) return;
          this.spawn().catch((err: unknown) =>
            this.hooks.onError('worker', { message: String(err), code: undefined }, RESTART_MS),
          );
        }, RESTART_MS);
      });
    });
  }

  /** Asks the worker to finish its batch and close; terminates it if it has not within `ms`. */
  async stop(ms = 10_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    const r = await Promise.race([exited, late]);
    clearTimeout(timer);
    // A batch stuck on a dead link: its transaction never committed, so it is simply sent again.
    if (r === 'late') await worker.terminate();
  }
}

function defaultForwardWorkerUrl(): URL {
  // From dist/forward/forwarder.js the sibling; from src/ (tests) the build.
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/forward/forward-worker.js', import.meta.url)
    : new URL('./forward-worker.js', import.meta.url);
}
