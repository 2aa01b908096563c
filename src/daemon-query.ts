/**
 * The read side's wiring, kept out of daemon.ts: config → QueryService settings, and its hooks
 * onto the read-side metrics.
 */
import type { Registry } from 'prom-client';
import { verifyPasswordAsync } from './broker/password.js';
import { type Config, parseHostPort } from './config/index.js';
import { isLoopback } from './lib/net.js';
import { createQueryMetrics } from './observe/query-metrics.js';
import { QueryService } from './query/index.js';

/** undefined when nothing of the read side is served (no HTTP listener, or both parts off). */
export function buildQueryService(
  config: Readonly<Config>,
  registry: Registry,
  version: string,
): QueryService | undefined {
  const hp = config.http.listen === 'off' ? undefined : parseHostPort(config.http.listen);
  if (!hp || !(config.query.enabled || config.exposition.enabled)) return undefined;
  const credentials = config.http.users.length + config.http.tokenHashes.length > 0;
  const metrics = createQueryMetrics(registry);
  return new QueryService(
    {
      pool: {
        dbPath: config.db.path,
        busyTimeoutMs: config.db.busyTimeoutMs,
        concurrency: config.query.concurrency,
        maxQueued: config.query.maxQueued,
        idleMs: config.query.idleMs,
        nice: config.query.nice,
        cacheMaxBytes: config.query.cache.maxBytes,
        limits: { timeoutMs: config.query.timeoutMs, maxSamples: config.query.maxSamples },
      },
      api: config.query.enabled,
      exposition: config.exposition.enabled
        ? { staleAfterMs: config.exposition.staleAfterMs, maxSeries: config.exposition.maxSeries }
        : undefined,
      access: {
        // Credentials, once configured, are required even on loopback; cross-checks refuse an
        // open non-loopback listener unless http.allowAnonymous says so.
        open: config.http.allowAnonymous || (!credentials && isLoopback(hp.host)),
        users: config.http.users,
        tokenHashes: config.http.tokenHashes,
      },
    },
    {
      version,
      verify: verifyPasswordAsync,
      hooks: {
        request: (endpoint, code, seconds) => {
          metrics.requests.inc({ endpoint, code: String(code) });
          metrics.duration.observe({ endpoint }, seconds);
        },
        refusedSeries: (n) => metrics.refusedSeries.inc(n),
        cache: (c) => {
          if (c.hits > 0) metrics.cacheSeries.inc({ result: 'hit' }, c.hits);
          if (c.partial > 0) metrics.cacheSeries.inc({ result: 'partial' }, c.partial);
          if (c.misses > 0) metrics.cacheSeries.inc({ result: 'miss' }, c.misses);
        },
      },
    },
  );
}
