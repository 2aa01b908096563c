/**
 * Metrics of retention and the disk budget, on the daemon's Registry (next to metrics.ts, kept
 * apart so the two evolve without touching each other). Updated once per purge step and once per
 * pass (every retention.checkIntervalMs): never on the hot path.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A step is ~1-20 ms when healthy; 50 ms is the target bound on the write lock. */
export const PURGE_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const RETENTION_TIERS = ['raw', 'rollup5m', 'rollup1h', 'deadLetters', 'vacuum'] as const;

export interface RetentionMetrics {
  readonly purgedRows: Counter<'tier'>;
  readonly purgedBytes: Counter<'tier'>;
  readonly purgeDuration: Histogram<'tier'>;
  readonly purgeErrors: Counter;
  readonly oldestRawAge: Gauge;
  readonly usedBytes: Gauge;
  readonly freelistBytes: Gauge;
  readonly volumeFreeBytes: Gauge;
  readonly budgetBytes: Gauge;
  readonly budgetUnmet: Gauge;
}

export function createRetentionMetrics(registry: Registry): RetentionMetrics {
  const registers = [registry];
  const m: RetentionMetrics = {
    purgedRows: new Counter({
      name: 'mqlite_purged_rows_total',
      help: 'Rows deleted by retention or the disk budget, by tier',
      labelNames: ['tier'] as const,
      registers,
    }),
    purgedBytes: new Counter({
      name: 'mqlite_purged_bytes_total',
      help: 'Database pages freed by purges (tier) or handed back to the file system (tier="vacuum"), bytes',
      labelNames: ['tier'] as const,
      registers,
    }),
    purgeDuration: new Histogram({
      name: 'mqlite_purge_step_duration_seconds',
      help: 'Write-lock time of one purge or vacuum step (one small transaction between batches)',
      labelNames: ['tier'] as const,
      buckets: PURGE_SECONDS_BUCKETS,
      registers,
    }),
    purgeErrors: new Counter({
      name: 'mqlite_purge_errors_total',
      help: 'Retention passes that failed (retried at the next check)',
      registers,
    }),
    oldestRawAge: new Gauge({
      name: 'mqlite_oldest_raw_age_seconds',
      help: 'Age of the oldest raw message (by payload time); 0 when there is none',
      registers,
    }),
    usedBytes: new Gauge({
      name: 'mqlite_db_used_bytes',
      help: 'Database pages in use (file size minus the free list), bytes: what the budget limits',
      registers,
    }),
    freelistBytes: new Gauge({
      name: 'mqlite_db_freelist_bytes',
      help: 'Free pages inside the database file, bytes (reused by inserts, or given back by incremental vacuum)',
      registers,
    }),
    volumeFreeBytes: new Gauge({
      name: 'mqlite_volume_free_bytes',
      help: "Free bytes on the database's volume available to mqlite (statfs bavail)",
      registers,
    }),
    budgetBytes: new Gauge({
      name: 'mqlite_db_budget_bytes',
      help: 'Bytes the database may use now (db.maxBytes and db.minFreeBytes); +Inf without a budget',
      registers,
    }),
    budgetUnmet: new Gauge({
      name: 'mqlite_retention_budget_unmet',
      help: '1 when the database is over its budget and nothing more may be purged (protected or none left)',
      registers,
    }),
  };
  // Series that exist from the start, so rate() and alerts see 0 rather than nothing.
  for (const tier of RETENTION_TIERS) {
    m.purgedRows.labels({ tier }).inc(0);
    m.purgedBytes.labels({ tier }).inc(0);
  }
  m.budgetUnmet.set(0);
  return m;
}
