/**
 * What the purge executor (sqlite-purge.ts) is asked and answers. Plain data: it crosses the
 * worker boundary in a 'maintain' request (protocol.ts) and is typed structurally on the
 * retention side, which never imports sink/.
 */

export type TierTable = 'rollup5m' | 'rollup1h';

export type MaintenanceOp =
  | { readonly kind: 'stats' }
  /** Raw messages older than beforeTs (payload time, ms), one id window from fromId (default: the oldest). */
  | {
      readonly kind: 'raw-older';
      readonly beforeTs: number;
      readonly maxRows: number;
      readonly fromId?: number;
    }
  /** The oldest raw messages regardless of age: the disk budget. */
  | { readonly kind: 'raw-oldest'; readonly maxRows: number }
  | {
      readonly kind: 'dead-letters-older';
      readonly beforeTs: number;
      readonly maxRows: number;
      readonly fromId?: number;
    }
  | {
      readonly kind: 'tier-older';
      readonly tier: TierTable;
      readonly beforeTs: number;
      readonly maxRows: number;
    }
  /** PRAGMA incremental_vacuum(pages). */
  | { readonly kind: 'vacuum'; readonly pages: number }
  /** Bounds the WAL on a small volume: wal_autocheckpoint and journal_size_limit on this connection. */
  | { readonly kind: 'wal-limit'; readonly pages: number }
  /** The page cache of this connection, KiB (page-cache.ts): sent by the SQLite worker itself. */
  | { readonly kind: 'cache-size'; readonly kib: number };

export interface PurgeStats {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly freelistCount: number;
  /** auto_vacuum=INCREMENTAL: free pages can be given back to the file system. */
  readonly incremental: boolean;
  /** ts of the oldest raw message by arrival (lowest id); null when there is none. */
  readonly oldestRawTs: number | null;
  readonly oldestRawId: number | null;
  readonly newestRawId: number | null;
  /** Messages with id > this are protected (not yet forwarded); null: nothing protected. */
  readonly protectedAfterId: number | null;
}

export interface StepResult {
  /** Rows deleted. */
  readonly rows: number;
  /** Pages freed by the step (to the free list, or to the file system for a vacuum), in bytes. */
  readonly bytes: number;
  /** Time the step held the write lock. */
  readonly seconds: number;
  /** Where the next window starts, for id-window passes; null at the end of the table. */
  readonly nextId: number | null;
  /** Whether the pass should go on (more rows may qualify). */
  readonly more: boolean;
  /** Raw purge stopped by the protection cursor (data not yet forwarded). */
  readonly blocked: boolean;
}

export type MaintenanceResult =
  | { readonly kind: 'stats'; readonly stats: PurgeStats }
  | { readonly kind: 'step'; readonly step: StepResult };
