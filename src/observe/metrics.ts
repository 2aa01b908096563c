/**
 * Every metric mqlite exposes, built on a Registry the caller owns (never prom-client's
 * global `register`, so tests and two daemons in one process do not share counters).
 * Names follow https://prometheus.io/docs/practices/naming/: `mqlite_` prefix, `_total`
 * on counters, base units (seconds, bytes).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { CountedHistogram } from './counted-histogram.js';
import type { DropReason } from '../lib/message.js';

/** Values read at scrape time, so the hot path never touches a gauge. */
export interface GaugeSources {
  readonly queueMessages: () => number;
  readonly queueBytes: () => number;
  readonly queueCapacityMessages: () => number;
  readonly queueCapacityBytes: () => number;
  readonly heldAcks: () => number;
  readonly connected: () => boolean | number;
  readonly subscribed: () => boolean | number;
  readonly dbBytes: () => number;
  readonly walBytes: () => number;
}

/** One committed transaction, as the batch writer sees it. Times are milliseconds. */
/** Per-message latencies of (a chunk of) a committed batch. */
export interface LatencyObservation {
  /** performance.now() at receipt, one per message. */
  readonly receiveMono: ArrayLike<number>;
  /** Payload timestamps, ms since epoch; NaN where a message had none. All entries are read. */
  readonly payloadTs: ArrayLike<number>;
  /** performance.now() when the commit returned. */
  readonly nowMono: number;
  /** Date.now() when the commit returned. */
  readonly nowWall: number;
}

export interface Metrics {
  readonly messagesReceived: Counter<'qos'>;
  readonly messagesWritten: Counter;
  /** Redeliveries recognised (same topic + payload, see sink/redelivery.ts) and not stored twice. */
  readonly messagesDuplicate: Counter;
  readonly readingsWritten: Counter;
  /** Readings of stored messages left out: over limits.maxReadingsPerMessage, or not finite (1e400). */
  readonly readingsDropped: Counter<'reason'>;
  readonly deadLetters: Counter<'reason'>;
  readonly dropped: Counter<'reason'>;
  /** Held acks lost because their connection closed before the commit released them. */
  readonly acksDropped: Counter;
  readonly reconnects: Counter;
  readonly commitErrors: Counter<'code'>;
  readonly stopFailures: Counter<'stage'>;
  /** Embedded broker: connections and subscriptions refused, by reason. */
  readonly brokerRefused: Counter<'reason'>;
  /** Embedded broker: CONNECTs refused for their credentials or throttled, by reason. */
  readonly brokerAuthFailures: Counter<'reason'>;
  /** Payload timestamps later than the commit: a device clock running ahead. */
  readonly payloadTsAhead: Counter;
  /** The external broker's count of messages it dropped (source/broker-drops.ts); NaN until known. */
  readonly brokerDropped: Gauge;
  readonly brokerConnected: Gauge;
  readonly subscribed: Gauge;
  readonly lastCommitTimestamp: Gauge;
  readonly queueMessages: Gauge;
  readonly queueBytes: Gauge;
  readonly queueCapacityMessages: Gauge;
  readonly queueCapacityBytes: Gauge;
  readonly heldAcks: Gauge;
  readonly dbBytes: Gauge;
  readonly walBytes: Gauge;
  readonly batchSize: Histogram;
  readonly commitDuration: Histogram;
  /** Observed once per committed message: CountedHistogram, not prom-client's (counted-histogram.ts). */
  readonly receiveToCommit: CountedHistogram;
  readonly payloadTsToCommit: CountedHistogram;
  /** Later calls replace earlier getters; a gauge with no getter keeps what was last set. */
  bindGauges(sources: Partial<GaugeSources>): void;
  /** One message received: counted in mqlite_messages_received_total at the next scrape. */
  countReceived(qos: 0 | 1 | 2): void;
  /** Once per committed batch. */
  observeCommit(size: number, commitSeconds: number, nowWall: number): void;
  /** Per chunk of settled messages (batch-writer.ts SETTLE_CHUNK), so no batch holds the loop. */
  observeLatencies(chunk: LatencyObservation): void;
}

/** Batch sizes up to the largest maxBatch the config allows to matter (100 000 caps at +Inf). */
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];
/** A commit is sub-millisecond when healthy and seconds when the disk or a lock stalls. */
export const COMMIT_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/**
 * Milliseconds (healthy pipeline) to hours (a device that buffered offline, or a broker
 * redelivering a persistent session after an outage).
 */
export const LATENCY_SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400,
  86_400,
];

const DROP_REASONS: readonly DropReason[] = ['queue_full_oldest', 'queue_full_newest', 'shutdown'];

export function createMetrics(registry: Registry, info: { version: string }): Metrics {
  const registers = [registry];
  // prefix '' keeps the standard process_* and nodejs_* names dashboards expect.
  collectDefaultMetrics({ register: registry, prefix: '' });
  // prom-client names these three gauges *_total, which Prometheus reserves for counters
  // (`promtool check metrics` flags them). Their per-type siblings (nodejs_active_handles{type}
  // and friends) carry the same information: sum() them for the total.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(name);
  }

  const buildInfo = new Gauge({
    name: 'mqlite_build_info',
    help: 'Always 1; labels carry the mqlite and Node.js versions',
    labelNames: ['version', 'node_version'] as const,
    registers,
  });
  buildInfo.set({ version: info.version, node_version: process.versions.node }, 1);

  /** Messages received since the last scrape, by QoS (countReceived). */
  const received = [0, 0, 0];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const bound: Partial<Record<keyof GaugeSources, () => boolean | number>> = {};
  // collect() runs before every scrape: the getter is read then, never per message.
  const sourced = (name: string, help: string, key: keyof GaugeSources) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const read = bound[key];
        if (read) this.set(readGauge(read));
      },
    });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, buckets, registers });
  const counted = (name: string, help: string, buckets: number[]) =>
    new CountedHistogram(name, help, buckets, registers);

  const m = {
    // Counted in `received` per message and added to the counter before each scrape: prom-client's
    // inc() (label hash, map lookup) was the main thread's costliest bookkeeping per message.
    messagesReceived: new Counter<'qos'>({
      name: 'mqlite_messages_received_total',
      help: 'Messages received from the broker',
      labelNames: ['qos'],
      registers,
      collect() {
        for (let qos = 0; qos < received.length; qos++) {
          const n = received[qos] as number;
          if (n === 0) continue;
          received[qos] = 0;
          this.inc({ qos: String(qos) }, n);
        }
      },
    }),
    messagesWritten: counter(
      'mqlite_messages_written_total',
      'Messages stored as readings in a committed transaction',
    ),
    messagesDuplicate: counter(
      'mqlite_messages_duplicate_total',
      'Redeliveries recognised (same topic and payload bytes; see README "Delivery guarantees") and skipped',
    ),
    readingsWritten: counter('mqlite_readings_written_total', 'Reading rows committed'),
    readingsDropped: counter(
      'mqlite_readings_dropped_total',
      'Readings of stored messages left out, by reason: over_cap (limits.maxReadingsPerMessage), non_finite (1e400)',
      ['reason'],
    ),
    deadLetters: counter('mqlite_dead_letters_total', 'Messages committed to dead_letters, by reason', [
      'reason',
    ]),
    dropped: counter('mqlite_dropped_total', 'Messages given up without being stored, by reason', ['reason']),
    acksDropped: counter(
      'mqlite_acks_dropped_total',
      'Held acknowledgements lost because their connection closed before the commit (broker redelivers)',
    ),
    reconnects: counter('mqlite_reconnects_total', 'Reconnections to the broker'),
    commitErrors: counter('mqlite_commit_errors_total', 'Failed commits, by SQLite error code', ['code']),
    stopFailures: counter('mqlite_stop_failures_total', 'Shutdown steps that failed or timed out', ['stage']),
    brokerRefused: counter(
      'mqlite_broker_refused_total',
      'Embedded broker: connections and subscriptions refused, by reason',
      ['reason'],
    ),
    brokerAuthFailures: counter(
      'mqlite_broker_auth_failures_total',
      'Embedded broker: logins refused (bad_credentials) or refused unchecked (rate_limited), by reason',
      ['reason'],
    ),
    payloadTsAhead: counter(
      'mqlite_payload_ts_ahead_total',
      'Payload timestamps later than their commit (device clock ahead); observed as 0 s latency',
    ),
    brokerDropped: gauge(
      'mqlite_broker_dropped_messages',
      "The broker's own count of messages it dropped (queue limits), all clients, since it started ($SYS/broker/publish/messages/dropped; NaN until the broker publishes it)",
    ),
    brokerConnected: sourced(
      'mqlite_broker_connected',
      '1 while connected to the broker (subscriber mode) or while the embedded broker listens',
      'connected',
    ),
    subscribed: sourced(
      'mqlite_subscribed',
      '1 while every subscription is granted (subscriber mode) or while the embedded broker listens',
      'subscribed',
    ),
    lastCommitTimestamp: gauge(
      'mqlite_last_commit_timestamp_seconds',
      'Unix time of the last committed transaction (0: none yet)',
    ),
    queueMessages: sourced('mqlite_queue_messages', 'Messages waiting in the queue', 'queueMessages'),
    queueBytes: sourced('mqlite_queue_bytes', 'Payload bytes waiting in the queue', 'queueBytes'),
    queueCapacityMessages: sourced(
      'mqlite_queue_capacity_messages',
      'Queue bound in messages',
      'queueCapacityMessages',
    ),
    queueCapacityBytes: sourced(
      'mqlite_queue_capacity_bytes',
      'Queue bound in payload bytes',
      'queueCapacityBytes',
    ),
    heldAcks: sourced('mqlite_held_acks', 'QoS 1/2 acknowledgements held until their commit', 'heldAcks'),
    dbBytes: sourced('mqlite_db_bytes', 'Size of the SQLite database file', 'dbBytes'),
    walBytes: sourced('mqlite_wal_bytes', 'Size of the SQLite write-ahead log', 'walBytes'),
    batchSize: histogram('mqlite_batch_size', 'Messages per committed transaction', BATCH_SIZE_BUCKETS),
    commitDuration: histogram(
      'mqlite_commit_duration_seconds',
      'Time to write and commit one batch',
      COMMIT_SECONDS_BUCKETS,
    ),
    receiveToCommit: counted(
      'mqlite_receive_to_commit_seconds',
      'From receipt of a message to the commit that stored it',
      LATENCY_SECONDS_BUCKETS,
    ),
    payloadTsToCommit: counted(
      'mqlite_payload_ts_to_commit_seconds',
      'From the timestamp in a payload to the commit that stored it (messages without one are not observed)',
      LATENCY_SECONDS_BUCKETS,
    ),
  };

  // Series that exist from the start, so rate() and alerts see 0 rather than nothing.
  for (const qos of ['0', '1', '2']) m.messagesReceived.labels({ qos }).inc(0);
  for (const reason of DROP_REASONS) m.dropped.labels({ reason }).inc(0);
  m.brokerDropped.set(Number.NaN);
  m.brokerConnected.set(0);
  m.subscribed.set(0);
  m.lastCommitTimestamp.set(0);

  return {
    ...m,
    countReceived(qos) {
      received[qos] = (received[qos] as number) + 1;
    },
    bindGauges(sources) {
      for (const key of Object.keys(sources) as (keyof GaugeSources)[]) {
        const fn = sources[key];
        if (fn) bound[key] = fn;
      }
    },
    observeCommit(size, commitSeconds, nowWall) {
      m.batchSize.observe(size);
      if (Number.isFinite(commitSeconds) && commitSeconds >= 0) m.commitDuration.observe(commitSeconds);
      m.lastCommitTimestamp.set(nowWall / 1000);
    },
    observeLatencies(b) {
      const n = b.receiveMono.length;
      for (let i = 0; i < n; i++) {
        const ms = b.nowMono - (b.receiveMono[i] as number);
        if (ms >= 0) m.receiveToCommit.observe(ms / 1000);
      }
      let ahead = 0;
      for (let i = 0; i < b.payloadTs.length; i++) {
        const ts = b.payloadTs[i] as number;
        if (!Number.isFinite(ts)) continue;
        const ms = b.nowWall - ts;
        if (ms < 0) ahead++;
        m.payloadTsToCommit.observe(ms > 0 ? ms / 1000 : 0);
      }
      if (ahead > 0) m.payloadTsAhead.inc(ahead);
    },
  };
}

/**
 * A getter that throws (a file being rotated, a stage half stopped) must not fail the whole
 * scrape: the gauge reads NaN, which Prometheus stores and shows as "no value".
 */
function readGauge(read: () => boolean | number): number {
  try {
    const v = read();
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  } catch {
    return Number.NaN;
  }
}
