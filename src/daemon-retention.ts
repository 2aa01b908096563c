/**
 * Wires retention into the daemon: config → policy, the scheduler on the sink's worker and the
 * batch writer's mutex, statfs of the database's folder, metrics and logs. Kept out of daemon.ts
 * so the composition root gains three lines, not a subsystem.
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config/index.js';
import { errorCode } from './lib/errors.js';
import { withTimeout } from './lib/timeout.js';
import { createRetentionMetrics } from './observe/retention-metrics.js';
import type { RetentionPolicy } from './retention/policy.js';
import {
  type MaintenanceTarget,
  type RetentionObservation,
  RetentionScheduler,
} from './retention/scheduler.js';

/** statfs is a local syscall, but a hung network mount must not hang a pass forever. */
const STATFS_TIMEOUT_MS = 10_000;

export function retentionPolicy(c: Config): RetentionPolicy {
  return {
    rawMs: c.retention.raw,
    rollup5mMs: c.retention.rollup5m,
    rollup1hMs: c.retention.rollup1h,
    deadLettersMs: c.retention.deadLetters,
    maxBytes: c.db.maxBytes,
    minFree: c.db.minFreeBytes,
    chunkRows: c.retention.chunkRows,
    vacuumPages: c.retention.vacuumPages,
  };
}

/** Free and total bytes of the volume holding `path` (what an unprivileged process may use). */
export async function volumeOf(path: string): Promise<{ freeBytes: number; sizeBytes: number }> {
  const s = await withTimeout(statfs(dirname(resolve(path))), STATFS_TIMEOUT_MS, 'statfs');
  return { freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize };
}

export function createRetention(
  c: Config,
  deps: {
    target: MaintenanceTarget;
    mutex: Mutex;
    registry: Registry;
    logger: Logger;
    /** Each pass's measurements, for the status page's budget slot. */
    observed?: (o: RetentionObservation) => void;
  },
): RetentionScheduler {
  const m = createRetentionMetrics(deps.registry);
  const log = deps.logger;
  let unmet = false;
  return new RetentionScheduler({
    target: deps.target,
    exclusive: (fn) => deps.mutex.runExclusive(fn),
    volume: () => volumeOf(c.db.path),
    policy: retentionPolicy(c),
    intervalMs: c.retention.checkIntervalMs,
    hooks: {
      onStep(tier, rows, bytes, seconds) {
        m.purgedRows.inc({ tier }, rows);
        m.purgedBytes.inc({ tier }, bytes);
        m.purgeDuration.observe({ tier }, seconds);
      },
      onObserved(o) {
        deps.observed?.(o);
        m.usedBytes.set(o.usedBytes);
        m.freelistBytes.set(o.freelistBytes);
        m.volumeFreeBytes.set(o.volumeFreeBytes);
        m.budgetBytes.set(o.budgetBytes ?? Number.POSITIVE_INFINITY);
        m.oldestRawAge.set(o.oldestRawAgeSeconds ?? 0);
        m.budgetUnmet.set(o.budgetUnmet ? 1 : 0);
        if (o.budgetUnmet !== unmet) {
          unmet = o.budgetUnmet;
          if (unmet)
            log.warn(
              { usedBytes: o.usedBytes, budgetBytes: o.budgetBytes, volumeFreeBytes: o.volumeFreeBytes },
              'disk budget cannot be met: nothing more may be purged (protected for a forwarder, or only the newest row left)',
            );
          else log.info('disk budget met again');
        }
      },
      onError(err) {
        m.purgeErrors.inc();
        log.warn({ err, code: errorCode(err) }, 'retention pass failed: retrying at the next check');
      },
    },
  });
}
