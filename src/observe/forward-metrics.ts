/**
 * Metrics of store and forward (issue 16), on the daemon's Registry. Updated from the forwarder
 * worker's reports: once per batch and once per backlog report (forward.ts BACKLOG_EVERY_MS).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A healthy batch of 20k messages into a local server is ~0.1-0.5 s; a WAN or a slow server more. */
export const FORWARD_BATCH_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export const FORWARD_ERROR_STAGES = ['connect', 'read', 'write', 'protect', 'worker'] as const;

export interface ForwardMetrics {
  readonly backlogMessages: Gauge;
  readonly backlogBytes: Gauge;
  readonly oldestAge: Gauge;
  readonly forwarded: Counter;
  readonly duplicates: Counter;
  readonly batchDuration: Histogram;
  readonly errors: Counter<'stage'>;
  readonly connected: Gauge;
  readonly cursor: Gauge;
}

export function createForwardMetrics(registry: Registry): ForwardMetrics {
  const registers = [registry];
  const m: ForwardMetrics = {
    backlogMessages: new Gauge({
      name: 'mqlite_forward_backlog_messages',
      help: 'Stored messages not yet committed in PostgreSQL (newest id minus the delivered cursor)',
      registers,
    }),
    backlogBytes: new Gauge({
      name: 'mqlite_forward_backlog_bytes',
      help: 'Approximate size of the backlog: its messages times the mean payload+readings size of the first 200',
      registers,
    }),
    oldestAge: new Gauge({
      name: 'mqlite_forward_oldest_undelivered_age_seconds',
      help: 'Time since the oldest undelivered message was received; 0 when everything is delivered',
      registers,
    }),
    forwarded: new Counter({
      name: 'mqlite_forwarded_messages_total',
      help: 'Messages committed in PostgreSQL by this process (re-sends that were already there excluded)',
      registers,
    }),
    duplicates: new Counter({
      name: 'mqlite_forward_duplicates_total',
      help: 'Messages sent again that PostgreSQL already had (after a lost commit acknowledgement): skipped',
      registers,
    }),
    batchDuration: new Histogram({
      name: 'mqlite_forward_batch_duration_seconds',
      help: 'Duration of one forwarding transaction (rows and cursor), seconds',
      buckets: FORWARD_BATCH_BUCKETS,
      registers,
    }),
    errors: new Counter({
      name: 'mqlite_forward_errors_total',
      help: 'Forwarding failures by stage (connect, read, write, protect, worker); each is retried',
      labelNames: ['stage'] as const,
      registers,
    }),
    connected: new Gauge({
      name: 'mqlite_forward_connected',
      help: '1 while the forwarder has a working PostgreSQL connection',
      registers,
    }),
    cursor: new Gauge({
      name: 'mqlite_forward_delivered_id',
      help: 'Local messages.id up to which PostgreSQL has committed every message',
      registers,
    }),
  };
  for (const stage of FORWARD_ERROR_STAGES) m.errors.labels({ stage }).inc(0);
  m.connected.set(0);
  return m;
}
