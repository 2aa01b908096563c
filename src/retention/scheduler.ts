/**
 * Runs retention passes in the daemon: every checkIntervalMs, and at once after a commit failed
 * with SQLITE_FULL. Each step is one small transaction sent to the SQLite worker while holding the
 * batch writer's mutex, the same one each batch commit holds: so a purge step runs only between two
 * batches, and a batch waits at most one step (chunkRows rows, target ≤ 50 ms) for the lock. The
 * mutex queues fairly (async-mutex serves waiters in order), and the scheduler takes it anew for
 * every step, so a waiting batch always goes next.
 */
import {
  afterStep,
  budgetBytes,
  budgetDeficit,
  type DiskState,
  hasBudget,
  newPass,
  nextStep,
  type PassState,
  type RetentionPolicy,
  type Step,
  type Tier,
  tierOf,
  usedBytes,
} from './policy.js';

/** Structural view of the sink's `maintain` (sink/purge-types.ts): retention never imports sink/. */
export interface MaintenanceTarget {
  maintain(
    op: { readonly kind: 'stats' } | { readonly kind: 'wal-limit'; readonly pages: number } | Step,
  ): Promise<MaintenanceAnswer>;
}

export type MaintenanceAnswer =
  | {
      readonly kind: 'stats';
      readonly stats: {
        readonly pageSize: number;
        readonly pageCount: number;
        readonly freelistCount: number;
        readonly incremental: boolean;
        readonly oldestRawTs: number | null;
      };
    }
  | {
      readonly kind: 'step';
      readonly step: {
        readonly rows: number;
        readonly bytes: number;
        readonly seconds: number;
        readonly nextId: number | null;
        readonly more: boolean;
        readonly blocked: boolean;
      };
    };

export interface RetentionObservation {
  readonly usedBytes: number;
  readonly fileBytes: number;
  readonly freelistBytes: number;
  readonly volumeFreeBytes: number;
  /** null: no budget. */
  readonly budgetBytes: number | null;
  /** Over budget at the end of a pass with nothing left that may be purged. */
  readonly budgetUnmet: boolean;
  /** Now minus the ts of the oldest raw message, seconds; null when there is none. */
  readonly oldestRawAgeSeconds: number | null;
}

export interface RetentionHooks {
  onStep(tier: Tier | 'vacuum', rows: number, bytes: number, seconds: number): void;
  onObserved(o: RetentionObservation): void;
  /** A step or the stats failed (busy, full, worker restart): logged and counted; the next pass retries. */
  onError(err: unknown): void;
}

export interface SchedulerDeps {
  readonly target: MaintenanceTarget;
  /** The batch writer's mutex: one transaction at a time on the writer connection. */
  readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** statfs of the database's folder. */
  readonly volume: () => Promise<{ freeBytes: number; sizeBytes: number }>;
  readonly policy: RetentionPolicy;
  readonly intervalMs: number;
  readonly hooks: RetentionHooks;
  /** Wall clock, ms since epoch: ages are compared with payload timestamps. */
  readonly now?: () => number;
}

/** A pass starts early after this share of db.maxBytes has been written (payload bytes)... */
const KICK_SHARE = 0.01;
/** ...but not more often than every 64 KiB; before the first pass knows the budget, every 1 MiB. */
const KICK_MIN_BYTES = 64 * 1024;
const KICK_UNKNOWN_BYTES = 1024 ** 2;

/** The WAL may take this share of the volume at most... */
const WAL_SHARE_OF_VOLUME = 1 / 16;
/** ...which matters below 4000 pages (store.ts's checkpoint interval) × 16 = ~1 GB volumes. */
const DEFAULT_WAL_PAGES = 4000;
const PAGE_BYTES = 4096;

/** wal_autocheckpoint for a volume of this size, or null to keep the default. */
export function walLimitPages(volumeSizeBytes: number): number | null {
  const pages = Math.floor((volumeSizeBytes * WAL_SHARE_OF_VOLUME) / PAGE_BYTES);
  return pages < DEFAULT_WAL_PAGES ? pages : null;
}

/** Steps per pass at most: a pass that keeps finding work yields to the timer and the next pass. */
const MAX_STEPS_PER_PASS = 10_000;

export class RetentionScheduler {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private fullSignals = 0;
  private again = false;
  /** Payload bytes committed since the last pass started. */
  private written = 0;
  private walBounded = false;
  private kickBytes: number;

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? Date.now;
    const max = deps.policy.maxBytes;
    this.kickBytes = max > 0 ? Math.max(KICK_MIN_BYTES, Math.floor(max * KICK_SHARE)) : KICK_UNKNOWN_BYTES;
  }

  /**
   * After each commit: payload bytes it stored. Past a share of the budget since the last pass, run
   * one now rather than at the next tick, so that a fast writer overshoots the budget by ~that share,
   * not by a whole checkIntervalMs of data.
   */
  noteWritten(bytes: number): void {
    this.written += bytes;
    if (this.written < this.kickBytes || this.stopped || !hasBudget(this.deps.policy)) return;
    this.written = 0;
    if (this.running) this.again = true;
    else if (this.timer) this.schedule(0);
  }

  start(): Promise<void> {
    this.schedule(0);
    return Promise.resolve();
  }

  /** A commit failed with SQLITE_FULL: with a budget, free a chunk of the oldest raw rows now. */
  diskFull(): void {
    if (this.stopped || !hasBudget(this.deps.policy)) return;
    this.fullSignals++;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Runs one pass now (tests, and the bench). Resolves when it is over. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops scheduling and waits for the current step to end (no pass is left half-way inside a step). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce().then(
        () => this.schedule(this.again ? 0 : this.deps.intervalMs),
        (err: unknown) => {
          this.deps.hooks.onError(err);
          this.schedule(this.deps.intervalMs);
        },
      );
      this.again = false;
    }, ms);
    // A pending pass must not keep a stopping process alive.
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const { target, exclusive, policy, hooks } = this.deps;
    if (!this.walBounded) await this.boundWal();
    const state: PassState = newPass(this.fullSignals);
    this.fullSignals = 0;
    this.written = 0;
    let { disk, oldestRawTs } = await this.observe();
    for (let i = 0; i < MAX_STEPS_PER_PASS && !this.stopped; i++) {
      const step = nextStep(policy, disk, this.now(), state);
      if (step === null) break;
      const answer = await exclusive(() => target.maintain(step));
      if (answer.kind !== 'step') break;
      const r = answer.step;
      hooks.onStep(tierOf(step), r.rows, r.bytes, r.seconds);
      afterStep(state, step, r);
      ({ disk, oldestRawTs } = await this.observe());
    }
    const budget = budgetBytes(policy, disk);
    // The free-space floor's budget moves with the volume: re-derive the early-pass threshold from it.
    if (budget !== null) this.kickBytes = Math.max(KICK_MIN_BYTES, Math.floor(budget * KICK_SHARE));
    hooks.onObserved({
      usedBytes: usedBytes(disk),
      fileBytes: disk.pageCount * disk.pageSize,
      freelistBytes: disk.freelistCount * disk.pageSize,
      volumeFreeBytes: disk.volumeFreeBytes,
      budgetBytes: budget,
      budgetUnmet: budgetDeficit(policy, disk, false) > 0,
      oldestRawAgeSeconds: oldestRawTs === null ? null : Math.max(0, (this.now() - oldestRawTs) / 1000),
    });
  }

  /** Once: on a small volume, keep the WAL to a share of it (see walLimitPages). */
  private async boundWal(): Promise<void> {
    const vol = await this.deps.volume();
    const pages = walLimitPages(vol.sizeBytes);
    if (pages !== null) {
      await this.deps.exclusive(() => this.deps.target.maintain({ kind: 'wal-limit', pages }));
    }
    this.walBounded = true;
  }

  /** Page counts (a few PRAGMAs, under the mutex like any other read on the writer) and statfs. */
  private async observe(): Promise<{ disk: DiskState; oldestRawTs: number | null }> {
    const answer = await this.deps.exclusive(() => this.deps.target.maintain({ kind: 'stats' }));
    if (answer.kind !== 'stats') throw new Error(`unexpected answer ${answer.kind} to stats`);
    const vol = await this.deps.volume();
    const s = answer.stats;
    return {
      disk: {
        pageSize: s.pageSize,
        pageCount: s.pageCount,
        freelistCount: s.freelistCount,
        incremental: s.incremental,
        volumeFreeBytes: vol.freeBytes,
        volumeSizeBytes: vol.sizeBytes,
      },
      oldestRawTs: s.oldestRawTs,
    };
  }
}
