/**
 * Metrics of the read side (query API and readings exposition), on the daemon's Registry.
 * A file of its own so the write side's metrics.ts stays as it is.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface QueryMetrics {
  readonly requests: Counter<'endpoint' | 'code'>;
  readonly duration: Histogram<'endpoint'>;
  readonly refusedSeries: Counter;
  readonly cacheSeries: Counter<'result'>;
}

export function createQueryMetrics(registry: Registry): QueryMetrics {
  return {
    requests: new Counter({
      name: 'mqlite_query_requests_total',
      help: 'Query API and readings exposition requests answered, by endpoint and HTTP status code.',
      labelNames: ['endpoint', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'mqlite_query_duration_seconds',
      help: 'Time to answer a query API or exposition request, queueing for a worker included.',
      labelNames: ['endpoint'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 30],
      registers: [registry],
    }),
    refusedSeries: new Counter({
      name: 'mqlite_exposition_refused_series_total',
      help: 'Series left out of /readings/metrics scrapes by exposition.maxSeries (summed over scrapes).',
      registers: [registry],
    }),
    cacheSeries: new Counter({
      name: 'mqlite_query_cache_series_total',
      help:
        "Series whose raw readings a query read from the query workers' cache of recent readings " +
        '(hit), partly (partial: the older part from SQLite) or from SQLite alone (miss).',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}
