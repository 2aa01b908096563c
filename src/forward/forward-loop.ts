/**
 * The forwarding loop, free of I/O: read a batch after the cursor, ship it, and only then move
 * the cursor (and, at most every protectEveryMs, its purge_protect mirror). Any failure drops
 * the destination's connection and retries after a backoff with full jitter; the next connect
 * re-reads the cursor from the destination, where it was committed with the rows.
 */
import { type BackoffPolicy, backoffDelay } from '../lib/backoff.js';
import { batchWaitMs, type Pending } from './batch-wait.js';
import type { CopyEncoding } from './outbox-copy-sql.js';
import { type BacklogStats, batchRows, type OutboxBatch } from './types.js';

export interface OutboxPort {
  /** With `encoding`, the messages may come as COPY tuples SQLite made (types.ts BinaryTuples). */
  readBatch(
    afterId: number,
    maxMessages: number,
    maxBytes: number,
    encoding?: CopyEncoding,
  ): OutboxBatch | undefined;
  backlog(afterId: number, now: number): BacklogStats;
  protect(afterId: number, now: number): void;
  /** The greatest messages.id stored, 0 when none. */
  newestId(): number;
  /** How many messages wait after `afterId` and since when; undefined when none (batch-wait.ts). */
  pending(afterId: number): Pending | undefined;
}

export interface DestinationPort {
  readonly connected: boolean;
  /** Connects (if needed) and returns the cursor the destination has committed. */
  open(): Promise<number>;
  /**
   * Ships the batch in one remote transaction. `whileServerWorks`, when given, is called once, at
   * the moment the rows have been sent and the server is busy with them (inserting, committing),
   * so the caller can prepare the next batch on a thread that would otherwise wait.
   */
  write(batch: OutboxBatch, whileServerWorks?: () => void): Promise<{ inserted: number }>;
  /** Optional: does the per-batch client-side work (encoding) ahead, outside write(). */
  prepare?(batch: OutboxBatch): void;
  /** Optional: how the next batch may be read already encoded; undefined: as rows. */
  copyEncoding?(): CopyEncoding | undefined;
  drop(): void;
}

export type ForwardStage = 'connect' | 'read' | 'write' | 'protect';

export interface ForwardHooks {
  onConnected(cursor: number): void;
  onBatch(b: { messages: number; inserted: number; bytes: number; seconds: number; cursor: number }): void;
  onError(stage: ForwardStage, err: unknown, retryInMs: number): void;
  /** The mirror could not be written; the loop goes on (a stale mirror only protects more). */
  onProtectError(err: unknown): void;
}

export interface ForwardLoopSettings {
  readonly batchMessages: number;
  readonly batchBytes: number;
  readonly pollMs: number;
  /**
   * A batch that is not full is shipped once its oldest message has waited this long (batch-wait.ts);
   * 0: at once.
   */
  readonly maxDelayMs: number;
  readonly retry: BackoffPolicy;
  /** false: no purge_protect row is kept (retention may purge undelivered rows). */
  readonly protect: boolean;
  readonly protectEveryMs: number;
  /**
   * true: the next batch is read (and encoded) while the server inserts and commits the current
   * one, so the local work and the server's overlap. The cursor still moves only after each
   * commit, in order; a prefetched batch is thrown away on any failure.
   */
  readonly prefetch: boolean;
}

export interface ForwardLoopDeps {
  readonly outbox: OutboxPort;
  readonly destination: DestinationPort;
  readonly hooks: ForwardHooks;
  readonly now: () => number;
  /** Resolves after ms, or early when wake() is called. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export class SourceAheadError extends Error {
  constructor(
    readonly remote: number,
    readonly local: number,
  ) {
    super(
      `PostgreSQL has this source up to id ${remote} but this database ends at id ${local}: another database file forwards under the same source (a copy, or a reused forward.postgres.source). Give this file its own forward.postgres.source`,
    );
    this.name = 'SourceAheadError';
  }
}

/** When the purge_protect mirror is due: on a move, at most every `everyMs`, and at the end. */
export class ProtectMirror {
  private written: number | undefined;
  private writtenAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly everyMs: number) {}

  due(cursor: number, now: number, force = false): boolean {
    if (cursor === this.written) return false;
    return force || now - this.writtenAt >= this.everyMs;
  }

  wrote(cursor: number, now: number): void {
    this.written = cursor;
    this.writtenAt = now;
  }
}

export class ForwardLoop {
  /** Last id the destination has committed; undefined until the first connect. */
  cursor: number | undefined;
  private stopping = false;
  private attempt = 0;
  private readonly mirror: ProtectMirror;
  /** Read while the previous batch was at the server; valid only if it starts at the cursor. */
  private next: OutboxBatch | undefined;
  /** When this loop first saw messages waiting after `afterId` (batch-wait.ts seenAt). */
  private seen: { afterId: number; at: number } | undefined;

  constructor(
    private readonly s: ForwardLoopSettings,
    private readonly d: ForwardLoopDeps,
  ) {
    this.mirror = new ProtectMirror(s.protectEveryMs);
  }

  stop(): void {
    this.stopping = true;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Runs until stop(); never rejects (every failure is reported and retried). */
  async run(): Promise<void> {
    while (!this.stopping) await this.step();
    this.syncProtect(true);
  }

  /** One round: connect if needed, then ship one batch or wait for more. Exposed for tests. */
  async step(): Promise<void> {
    const { outbox, destination, hooks } = this.d;
    let stage: 'connect' | 'read' | 'write' = 'connect';
    try {
      if (!destination.connected || this.cursor === undefined) {
        const cursor = await destination.open();
        // Ids only grow here, so the destination cannot be ahead, unless this source name belongs
        // to another file too (a copied file, a reused forward.postgres.source, a file replaced
        // under the same name): forwarding from there would silently skip ids. Refuse and say so.
        const newest = outbox.newestId();
        if (cursor > newest) throw new SourceAheadError(cursor, newest);
        this.cursor = cursor;
        hooks.onConnected(this.cursor);
        this.syncProtect(true);
      }
      stage = 'read';
      const ahead = this.next;
      this.next = undefined;
      let batch: OutboxBatch | undefined;
      if (ahead !== undefined && ahead.afterId === this.cursor) batch = ahead;
      else {
        // A prefetched batch was read only when it was due; otherwise wait for a fuller one here.
        const wait = this.waitMs(this.cursor);
        if (wait > 0) {
          this.attempt = 0;
          this.syncProtect(false);
          await this.d.sleep(wait);
          return;
        }
        batch = outbox.readBatch(
          this.cursor,
          this.s.batchMessages,
          this.s.batchBytes,
          destination.copyEncoding?.(),
        );
      }
      if (!batch) {
        this.attempt = 0;
        this.syncProtect(false);
        await this.d.sleep(this.s.pollMs);
        return;
      }
      stage = 'write';
      const started = this.d.now();
      const { inserted } = await destination.write(
        batch,
        this.s.prefetch ? () => this.prefetch(batch.lastId) : undefined,
      );
      this.cursor = batch.lastId;
      this.attempt = 0;
      hooks.onBatch({
        messages: batchRows(batch),
        inserted,
        bytes: batch.bytes,
        seconds: (this.d.now() - started) / 1000,
        cursor: batch.lastId,
      });
      this.syncProtect(false);
    } catch (err) {
      // The transaction may or may not have committed: forget the cursor, re-read it on connect.
      destination.drop();
      this.cursor = undefined;
      this.next = undefined;
      const delay = backoffDelay(this.s.retry, this.attempt++, this.d.random);
      hooks.onError(stage, err, delay);
      if (!this.stopping) await this.d.sleep(delay);
    }
  }

  /**
   * Reads and prepares the batch after `afterId`. A failure here is not reported: the next step
   * reads the same rows again in the open, where a failure is reported and retried.
   */
  private prefetch(afterId: number): void {
    try {
      const d = this.d;
      // Not due yet: the step after the commit waits for a fuller batch instead.
      if (this.waitMs(afterId) > 0) return;
      const b = d.outbox.readBatch(
        afterId,
        this.s.batchMessages,
        this.s.batchBytes,
        d.destination.copyEncoding?.(),
      );
      if (b) d.destination.prepare?.(b);
      this.next = b;
    } catch {
      this.next = undefined;
    }
  }

  /** ms to wait before reading the batch after `afterId` (batch-wait.ts); 0: read it now. */
  private waitMs(afterId: number): number {
    if (this.s.maxDelayMs <= 0) return 0;
    const p = this.d.outbox.pending(afterId);
    // Nothing waiting: read anyway, finding nothing, and poll as before.
    if (p === undefined) {
      this.seen = undefined;
      return 0;
    }
    const now = this.d.now();
    if (this.seen?.afterId !== afterId) this.seen = { afterId, at: now };
    return batchWaitMs(p, this.s, now, this.seen.at);
  }

  private syncProtect(force: boolean): void {
    const cursor = this.cursor;
    if (!this.s.protect || cursor === undefined) return;
    const now = this.d.now();
    if (!this.mirror.due(cursor, now, force)) return;
    try {
      this.d.outbox.protect(cursor, now);
      this.mirror.wrote(cursor, now);
    } catch (err) {
      this.d.hooks.onProtectError(err);
    }
  }
}
