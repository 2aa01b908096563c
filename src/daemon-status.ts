/**
 * The status page's wiring, kept out of daemon.ts: its routes read the query service (devices,
 * dead letters, through the query workers) and the daemon's own counters.
 */
import type { Readiness } from './observe/http-server.js';
import { type StatusSnapshot, statusRoutes } from './observe/status-routes.js';
import type { SummarySnapshot } from './observe/summary.js';
import type { HttpRoute } from './observe/http-server.js';
import type { QueryService } from './query/index.js';
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
        job: what === 'devices' ? { what, now: Date.now() } : { what },
      });
      if (r.kind !== 'status') throw new QueryError('internal', 'unexpected answer');
      return r.data;
    },
    snapshot: () => {
      const sizes = view.fileSizes();
      return {
        version: view.version,
        intake: safe(() => view.intake()),
        startedAt: view.startedAt,
        readiness: view.readiness(),
        counters: view.counters(),
        queueLimits: view.queueLimits,
        // Retention (a size budget) is not in this build: the page shows the slot empty.
        db: { path: view.dbPath, bytes: sizes.dbBytes, walBytes: sizes.walBytes, budgetBytes: undefined },
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
