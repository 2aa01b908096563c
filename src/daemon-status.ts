/**
 * The status page's wiring, kept out of daemon.ts: its routes read the query service (devices,
 * dead letters, through the query workers) and the daemon's own counters.
 */
import type { Readiness } from './observe/http-server.js';
import { type StatusSnapshot, statusRoutes } from './observe/status-routes.js';
import type { SummarySnapshot } from './observe/summary.js';
import type { HttpRoute } from './observe/http-server.js';
import type { QueryService } from './query/index.js';
import type { RetentionObservation } from './retention/scheduler.js';
import { QueryError } from './query/query-error.js';

export interface DaemonView {
  readonly version: string;
  readonly startedAt: number;
  readonly dbPath: string;
  readonly queueLimits: StatusSnapshot['queueLimits'];
  readiness(): Readiness;
  intake(): Record<string, unknown>;
  counters(): SummarySnapshot;
  fileSizes(): { dbBytes: number; walBytes: number };
  /** The disk budget as configured, and as retention last measured it (undefined before its first pass). */
  budget(): Pick<StatusSnapshot['db'], 'maxBytes' | 'minFree'> & {
    observed: RetentionObservation | undefined;
  };
}

/** No routes without the query API: the page shows what the API reads, under the same rule. */
export function buildStatusRoutes(
  query: QueryService | undefined,
  apiEnabled: boolean,
  view: DaemonView,
): HttpRoute[] {
  if (!query || !apiEnabled) return [];
  return statusRoutes({
    allowed: (authorization) => query.access.allowed(authorization),
    read: async (what) => {
      const r = await query.run({
        kind: 'status',
        job: what === 'dead_letters' ? { what } : { what, now: Date.now() },
      });
      if (r.kind !== 'status') throw new QueryError('internal', 'unexpected answer');
      return r.data;
    },
    snapshot: () => {
      const sizes = view.fileSizes();
      const b = view.budget();
      return {
        version: view.version,
        intake: safe(() => view.intake()),
        startedAt: view.startedAt,
        readiness: view.readiness(),
        counters: view.counters(),
        queueLimits: view.queueLimits,
        db: {
          path: view.dbPath,
          bytes: sizes.dbBytes,
          walBytes: sizes.walBytes,
          // Before retention's first pass, the fixed cap is what is known of the budget.
          budgetBytes: b.observed
            ? (b.observed.budgetBytes ?? undefined)
            : b.maxBytes > 0
              ? b.maxBytes
              : undefined,
          usedBytes: b.observed?.usedBytes,
          maxBytes: b.maxBytes,
          minFree: b.minFree,
          budgetUnmet: b.observed?.budgetUnmet ?? false,
        },
      };
    },
  });
}

/** The embedded broker has no address before it listens: the page shows what there is. */
function safe(f: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return f();
  } catch {
    return {};
  }
}
