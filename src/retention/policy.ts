/**
 * Retention and disk-budget policy: pure arithmetic and the choice of the next purge step. No
 * SQLite, no clock, no timers: the scheduler (scheduler.ts) feeds it the database's page counts,
 * the volume's free space and the time, and runs the step it returns.
 *
 * Order within a pass, and why:
 *   1. the disk budget (oldest raw messages first): the only step that protects ingestion;
 *   2. raw messages past their age; 3. dead letters; 4. rollup tiers (their own ages only:
 *      deleting raw rows never touches rollups or `latest`);
 *   5. giving free pages back to the file system, a few at a time (incremental auto-vacuum).
 */

export type Tier = 'raw' | 'rollup5m' | 'rollup1h' | 'deadLetters';

export interface RetentionPolicy {
  /** Age limits in ms; null: kept forever. */
  readonly rawMs: number | null;
  readonly rollup5mMs: number | null;
  readonly rollup1hMs: number | null;
  readonly deadLettersMs: number | null;
  /** Cap on the database's pages in use, bytes; 0: none. */
  readonly maxBytes: number;
  /** Free space the volume keeps; bytes 0: none. */
  readonly minFree: { readonly bytes: number } | { readonly percentOfVolume: number };
  readonly chunkRows: number;
  /** Pages per incremental_vacuum step; 0: never give pages back. */
  readonly vacuumPages: number;
}

export interface DiskState {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly freelistCount: number;
  /** auto_vacuum=INCREMENTAL: free pages can be handed back to the file system. */
  readonly incremental: boolean;
  /** Free space on the database's volume (statfs bavail × bsize) and its size. */
  readonly volumeFreeBytes: number;
  readonly volumeSizeBytes: number;
}

/**
 * Once over budget, purge down to this share of it: hysteresis, so that a full budget costs one
 * purge per ~5% of growth instead of a few rows after every batch.
 */
export const LOW_WATERMARK = 0.95;

export function usedBytes(d: DiskState): number {
  return (d.pageCount - d.freelistCount) * d.pageSize;
}

export function freeFloorBytes(p: RetentionPolicy, volumeSizeBytes: number): number {
  return 'bytes' in p.minFree
    ? p.minFree.bytes
    : Math.floor((volumeSizeBytes * p.minFree.percentOfVolume) / 100);
}

export function hasBudget(p: RetentionPolicy): boolean {
  return p.maxBytes > 0 || ('bytes' in p.minFree ? p.minFree.bytes > 0 : p.minFree.percentOfVolume > 0);
}

/**
 * Bytes the database may use now, or null without a budget. The free-space floor allows what is in
 * use, plus the free pages inside the file and on the volume, minus the floor: other files growing
 * on the volume shrink it too (the floor protects the volume, whoever fills it).
 */
export function budgetBytes(p: RetentionPolicy, d: DiskState): number | null {
  let budget: number | null = p.maxBytes > 0 ? p.maxBytes : null;
  const floor = freeFloorBytes(p, d.volumeSizeBytes);
  if (floor > 0) {
    const room = usedBytes(d) + d.freelistCount * d.pageSize + d.volumeFreeBytes - floor;
    budget = budget === null ? room : Math.min(budget, room);
  }
  return budget === null ? null : Math.max(0, budget);
}

/** Bytes to free to meet the budget; 0 when met. While purging, the target is the low watermark. */
export function budgetDeficit(p: RetentionPolicy, d: DiskState, purging: boolean): number {
  const budget = budgetBytes(p, d);
  if (budget === null) return 0;
  const target = purging ? Math.floor(budget * LOW_WATERMARK) : budget;
  return Math.max(0, usedBytes(d) - target);
}

/** Rows older than this (ms since epoch) are due, per tier; null: kept forever. */
export function cutoffs(p: RetentionPolicy, nowMs: number): Record<Tier, number | null> {
  const at = (ms: number | null) => (ms === null ? null : nowMs - ms);
  return {
    raw: at(p.rawMs),
    rollup5m: at(p.rollup5mMs),
    rollup1h: at(p.rollup1hMs),
    deadLetters: at(p.deadLettersMs),
  };
}

export type Step =
  | { readonly kind: 'raw-oldest'; readonly maxRows: number }
  | {
      readonly kind: 'raw-older';
      readonly beforeTs: number;
      readonly maxRows: number;
      readonly fromId?: number;
    }
  | {
      readonly kind: 'dead-letters-older';
      readonly beforeTs: number;
      readonly maxRows: number;
      readonly fromId?: number;
    }
  | {
      readonly kind: 'tier-older';
      readonly tier: 'rollup5m' | 'rollup1h';
      readonly beforeTs: number;
      readonly maxRows: number;
    }
  | { readonly kind: 'vacuum'; readonly pages: number };

/** What one pass has done so far; the scheduler updates it from each step's result. */
export interface PassState {
  /** Tasks finished (or impossible) in this pass. */
  readonly done: Set<'budget' | Tier | 'vacuum'>;
  /** Where the next id window of an age pass starts. */
  readonly cursors: { raw?: number; deadLetters?: number };
  /** The budget purge has started in this pass: go on to the low watermark. */
  purging: boolean;
  /** Commits failed with SQLITE_FULL since the last pass: free at least one chunk of raw rows. */
  fullSignals: number;
}

export function newPass(fullSignals = 0): PassState {
  return { done: new Set(), cursors: {}, purging: false, fullSignals };
}

/** The next step of a pass, or null when the pass is over. */
export function nextStep(p: RetentionPolicy, d: DiskState, nowMs: number, s: PassState): Step | null {
  const maxRows = p.chunkRows;
  if (!s.done.has('budget') && hasBudget(p)) {
    // SQLITE_FULL with a budget: whatever the arithmetic says, the disk disagrees; free a chunk.
    if (s.fullSignals > 0 || budgetDeficit(p, d, s.purging) > 0) return { kind: 'raw-oldest', maxRows };
  }
  const c = cutoffs(p, nowMs);
  if (!s.done.has('raw') && c.raw !== null) {
    const from = s.cursors.raw;
    return { kind: 'raw-older', beforeTs: c.raw, maxRows, ...(from === undefined ? {} : { fromId: from }) };
  }
  if (!s.done.has('deadLetters') && c.deadLetters !== null) {
    const from = s.cursors.deadLetters;
    return {
      kind: 'dead-letters-older',
      beforeTs: c.deadLetters,
      maxRows,
      ...(from === undefined ? {} : { fromId: from }),
    };
  }
  for (const tier of ['rollup5m', 'rollup1h'] as const) {
    const before = c[tier];
    if (!s.done.has(tier) && before !== null) return { kind: 'tier-older', tier, beforeTs: before, maxRows };
  }
  if (!s.done.has('vacuum') && d.incremental && p.vacuumPages > 0) {
    const give = d.freelistCount - reservePages(p, d);
    if (give > 0) return { kind: 'vacuum', pages: Math.min(p.vacuumPages, give) };
  }
  return null;
}

/**
 * Free pages kept in the file under a budget: the hysteresis band (1 - LOW_WATERMARK of it). A purge
 * frees about that much and the next batches refill it; handing it to the file system only for the
 * file to grow back would cost a vacuum and a file extension per purge, for nothing.
 */
export function reservePages(p: RetentionPolicy, d: DiskState): number {
  const budget = budgetBytes(p, d);
  if (budget === null) return 0;
  return Math.floor((budget * (1 - LOW_WATERMARK)) / d.pageSize);
}

/** Folds a step's result into the pass: which task is over, where its next window starts. */
export function afterStep(
  s: PassState,
  step: Step,
  r: { readonly rows: number; readonly nextId: number | null; readonly more: boolean },
): void {
  switch (step.kind) {
    case 'raw-oldest':
      s.purging = true;
      if (s.fullSignals > 0) s.fullSignals--;
      // Nothing more to delete (all protected, or one row left): the budget cannot be met this pass.
      if (!r.more || r.rows === 0) s.done.add('budget');
      return;
    case 'raw-older':
      if (r.nextId !== null) s.cursors.raw = r.nextId;
      if (!r.more) s.done.add('raw');
      return;
    case 'dead-letters-older':
      if (r.nextId !== null) s.cursors.deadLetters = r.nextId;
      if (!r.more) s.done.add('deadLetters');
      return;
    case 'tier-older':
      if (!r.more) s.done.add(step.tier);
      return;
    case 'vacuum':
      if (!r.more) s.done.add('vacuum');
      return;
  }
}

/** Tier a step purges, for the metrics' label. */
export function tierOf(step: Step): Tier | 'vacuum' {
  switch (step.kind) {
    case 'raw-oldest':
    case 'raw-older':
      return 'raw';
    case 'dead-letters-older':
      return 'deadLetters';
    case 'tier-older':
      return step.tier;
    case 'vacuum':
      return 'vacuum';
  }
}
