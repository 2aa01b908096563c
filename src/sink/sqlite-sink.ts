/**
 * Main-thread handle on the SQLite worker: starts it, ships batches to it (one message per batch,
 * typed arrays copied: the writer keeps its copy until the commit, to retry), bounds every request
 * with a timeout, and restarts a worker that died on the next write. The only SQLite connection
 * lives in the worker.
 */
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';
import { batchOf, type InboundMessage, type MessageBatch } from '../lib/message.js';
import { withTimeout } from '../lib/timeout.js';
import type { WireError, WorkerInit, WorkerMessage, WorkerRequest } from './protocol.js';
import { DB_FILE_REPLACED } from './db-file-identity.js';
import type { MaintenanceOp, MaintenanceResult } from './purge-types.js';
import { SinkWriteError } from './sqlite-errors.js';
import type { BatchResult, SinkSettings } from './types.js';

export { SinkWriteError } from './sqlite-errors.js';
export type { BatchResult, SinkSettings } from './types.js';

const DEFAULT_OP_TIMEOUT_MS = 30_000;
const WORKER_FAILED = 'MQLITE_SINK_WORKER_FAILED';

interface Pending {
  readonly worker: Worker;
  readonly resolve: (m: WorkerMessage) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

let addonLoadedHere = false;

/**
 * Loads the native addon on the main thread too. If only a worker loads it, Node unloads the
 * binary when that worker exits, before V8's last GC calls into it: SIGSEGV (better-sqlite3
 * #1476, fixed in #1477). Importing the package is not enough: the addon loads
 * lazily in the Database constructor (lib/database.js:46).
 */
function loadAddonOnMainThread(): void {
  if (addonLoadedHere) return;
  new Database(':memory:').close();
  addonLoadedHere = true;
}

/**
 * Young-generation cap of the SQLite worker thread, MB. Not smaller: a batch's decode results live
 * until its commit (they are decoded before BEGIN, once, because a stateful decoder such as
 * Sparkplug's must not see a message twice), so each scavenge of a small space copies the live batch
 * again and promotes it to the old generation. Measured with --trace-gc on bench/sink-worker.ts
 * (200k messages, batches of 500; pause times are wall time on a loaded machine): 4 MB: 341
 * scavenges in the worker pausing it 5.1 s in all; 16 MB: 95 scavenges, 0.8 s; the V8 helper
 * threads' CPU fell from ~4 to ~1.5 µs/msg. Costs at most ~12 MB
 * more RSS under load (the semi-spaces are committed as they fill).
 */
const WORKER_YOUNG_GENERATION_MB = 16;

export class SqliteSink<D = unknown> {
  private readonly opTimeoutMs: number;
  private readonly path: string;
  private worker: Worker | undefined;
  private spawning: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Why the current worker is going away (uncaught error, timeout), for the rejection message. */
  private readonly exitReason = new WeakMap<Worker, string>();

  constructor(
    private readonly settings: SinkSettings<D>,
    private readonly workerUrl: URL,
  ) {
    this.opTimeoutMs = settings.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    this.path = resolve(settings.path);
  }

  /** Creates the parent folders, opens and migrates the database in the worker. */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    loadAddonOnMainThread();
    try {
      await withTimeout(
        mkdir(dirname(this.path), { recursive: true }),
        this.opTimeoutMs,
        'creating the folder',
      );
    } catch (err) {
      throw new MqliteError(
        'MQLITE_DB_OPEN_FAILED',
        `cannot open database ${this.path}: cannot create folder ${dirname(this.path)}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    await this.ensureWorker();
    // stop() may have run while the worker was opening: it closed that worker; stay stopped.
    if (this.state === 'new') this.state = 'started';
  }

  /**
   * Stores a batch in one transaction; rejects with SinkWriteError (code, retryable). The daemon's
   * batches come packed from the queue; an array of messages (tests, benches) is packed here.
   */
  async write(input: MessageBatch | readonly InboundMessage[]): Promise<BatchResult> {
    const batch = isMessageArray(input) ? batchOf(input) : input;
    if (this.state !== 'started') throw new SinkWriteError(WORKER_FAILED, `sink is ${this.state}`, false);
    if (batch.length === 0) {
      return {
        stored: 0,
        duplicates: 0,
        readings: 0,
        deadLetters: {},
        commitSeconds: 0,
        payloadTs: new Float64Array(0),
      };
    }
    try {
      await this.ensureWorker();
    } catch (err) {
      const code = errorCode((err as { cause?: unknown }).cause) ?? WORKER_FAILED;
      throw new SinkWriteError(code, errorMessage(err), true, { cause: err });
    }
    const reply = await this.request({ kind: 'write', batch: batch.packed });
    if (reply.kind === 'result') return reply.result;
    throw this.replyError(reply);
  }

  /**
   * One retention step in the worker, on the writer's connection. The caller holds the batch
   * writer's mutex (retention/scheduler.ts), so it runs between batches, never inside one.
   */
  async maintain(op: MaintenanceOp): Promise<MaintenanceResult> {
    if (this.state !== 'started') throw new SinkWriteError(WORKER_FAILED, `sink is ${this.state}`, false);
    await this.ensureWorker();
    const reply = await this.request({ kind: 'maintain', op });
    if (reply.kind === 'maintained') return reply.result;
    throw this.replyError(reply);
  }

  /** Sizes of the database file and its WAL, for the metrics; 0 when absent. */
  fileSizes(): { dbBytes: number; walBytes: number } {
    return { dbBytes: sizeOf(this.path), walBytes: sizeOf(`${this.path}-wal`) };
  }

  /** Checkpoints and closes the database, then lets the worker exit. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopped';
    // Let an opening worker (from start() or a restart in write()) finish, so that it is closed too.
    for (const opening of [this.starting, this.spawning]) {
      try {
        await opening;
      } catch {
        // Not swallowed: the same rejection reached start() or write(), which report it.
      }
    }
    const w = this.worker;
    if (!w) return;
    const exited = once(w, 'exit');
    try {
      const reply = await this.request({ kind: 'close' });
      if (reply.kind !== 'closed') throw this.replyError(reply);
    } finally {
      try {
        await withTimeout(exited, this.opTimeoutMs, 'sink worker exit');
      } catch {
        this.kill(w, 'did not exit after close');
      }
    }
  }

  private ensureWorker(): Promise<void> {
    if (this.worker) return Promise.resolve();
    this.spawning ??= this.spawn().finally(() => {
      this.spawning = undefined;
    });
    return this.spawning;
  }

  private spawn(): Promise<void> {
    // Everything but the decoder's settings and the main thread's own hooks is the store's.
    const { decode, opTimeoutMs: _mainThreadOnly, onMigrationProgress: _progress, ...store } = this.settings;
    const init: WorkerInit<D> = { store: { ...store, path: this.path }, decode };
    // A bounded young generation: V8's default (up to 16 MB per semi-space, three of them) would add
    // tens of MB of RSS on top of the main thread's heap. See WORKER_YOUNG_GENERATION_MB for the size.
    const w = new Worker(this.workerUrl, {
      workerData: init,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    return new Promise<void>((resolvePromise, reject) => {
      let ready = false;
      const expire = (): void => {
        reject(
          this.openError('open', { code: WORKER_FAILED, message: `no answer within ${this.opTimeoutMs} ms` }),
        );
        this.kill(w, 'did not open the database in time');
      };
      let timer = setTimeout(expire, this.opTimeoutMs);
      w.on('message', (m: WorkerMessage) => {
        if (ready) return this.settle(m);
        clearTimeout(timer);
        if (m.kind === 'migrating') {
          // A large file migrates for longer than one timeout, but each chunk reports well within it.
          timer = setTimeout(expire, this.opTimeoutMs);
          this.settings.onMigrationProgress?.(m.progress);
          return;
        }
        if (m.kind === 'ready') {
          ready = true;
          this.worker = w;
          resolvePromise();
        } else if (m.kind === 'open-failed') {
          reject(this.openError(m.stage, m.error)); // the worker exits on its own
        }
      });
      w.on('error', (err) => {
        this.exitReason.set(w, errorMessage(err));
      });
      w.on('exit', (exitCode) => {
        clearTimeout(timer);
        const why = this.exitReason.get(w) ?? `exit code ${exitCode}`;
        if (!ready) reject(this.openError('init', { code: WORKER_FAILED, message: `worker exited: ${why}` }));
        this.onExit(w, why);
      });
    });
  }

  private openError(stage: 'open' | 'init', e: Pick<WireError, 'code' | 'message'>): MqliteError {
    const cause = Object.assign(new Error(e.message), { code: e.code });
    return stage === 'open'
      ? new MqliteError('MQLITE_DB_OPEN_FAILED', `cannot open database ${this.path}: ${e.message}`, { cause })
      : new MqliteError(WORKER_FAILED, `sink worker failed to start: ${e.message}`, { cause });
  }

  private request(
    req: DistributiveOmit<WorkerRequest, 'id'>,
    transfer: ArrayBuffer[] = [],
  ): Promise<WorkerMessage> {
    const w = this.worker;
    if (!w) return Promise.reject(new SinkWriteError(WORKER_FAILED, 'sink worker is not running', true));
    const id = ++this.nextId;
    return new Promise<WorkerMessage>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new SinkWriteError(WORKER_FAILED, `sink worker did not answer within ${this.opTimeoutMs} ms`, true),
        );
        // A late commit must not race the retry of this batch: stop this worker; the next write starts another.
        this.kill(w, `request timed out after ${this.opTimeoutMs} ms`);
      }, this.opTimeoutMs);
      this.pending.set(id, { worker: w, resolve: resolvePromise, reject, timer });
      w.postMessage({ ...req, id }, transfer);
    });
  }

  private settle(m: WorkerMessage): void {
    if (m.kind !== 'result' && m.kind !== 'error' && m.kind !== 'closed' && m.kind !== 'maintained') return;
    const p = this.pending.get(m.id);
    if (!p) return; // timed out already
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    // That worker closed its connection to a file no longer at the path: the next write opens a new one.
    if (m.kind === 'error' && m.error.code === DB_FILE_REPLACED) this.kill(p.worker, m.error.message);
    p.resolve(m);
  }

  private replyError(m: WorkerMessage): SinkWriteError {
    if (m.kind === 'error') return new SinkWriteError(m.error.code, m.error.message, m.error.retryable);
    return new SinkWriteError(WORKER_FAILED, `unexpected reply ${m.kind} from the sink worker`, false);
  }

  private kill(w: Worker, why: string): void {
    this.exitReason.set(w, why);
    if (this.worker === w) this.worker = undefined;
    w.terminate().catch((err: unknown) => {
      this.exitReason.set(w, `${why}; terminate failed: ${errorMessage(err)}`);
    });
  }

  private onExit(w: Worker, why: string): void {
    if (this.worker === w) this.worker = undefined;
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      // Nothing of the batch was committed unless the worker died after COMMIT: retrying is safe.
      p.reject(new SinkWriteError(WORKER_FAILED, `sink worker exited (${why})`, true));
    }
  }
}

function isMessageArray(b: MessageBatch | readonly InboundMessage[]): b is readonly InboundMessage[] {
  return Array.isArray(b);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 0;
    throw err;
  }
}
