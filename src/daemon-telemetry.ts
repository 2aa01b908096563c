/**
 * Stage hooks → metrics and logs. Stages report events through their own hook interfaces;
 * this is the one place that decides what is counted and what is worth a log line (one line
 * per episode, not one per message or per retry).
 */
import type { Logger } from 'pino';
import type { BrokerHooks } from './broker/embedded-broker.js';
import type { DropReason, InboundMessage } from './lib/message.js';
import { errorCode } from './lib/errors.js';
import type { Metrics } from './observe/metrics.js';
import type { SummarySnapshot } from './observe/summary.js';
import type { BatchResult } from './sink/sqlite-sink.js';
import type { WriterHooks } from './sink/batch-writer.js';
import type { SourceHooks } from './source/mqtt-source.js';

/** Log the 1st, 2nd, 4th, 8th… occurrence: visible, never a flood. */
function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** What to do about the refusals a user can fix by configuration. */
export function connectHint(message: string): string | undefined {
  if (/protocol version/i.test(message)) return 'the broker does not speak MQTT 5: set --mqtt-version 4';
  if (/not authori[sz]ed|bad user ?name or password/i.test(message)) {
    return 'check --username and MQLITE_PASSWORD (or broker.username / broker.password)';
  }
  if (/identifier rejected|client identifier not valid/i.test(message))
    return 'the broker rejects the client id: set --client-id';
  return undefined;
}

/** At most one warning about recognised duplicates per this interval; the summary counts them all. */
const DUPLICATE_WARN_INTERVAL_MS = 10 * 60_000;

export class Telemetry {
  private duplicateCount = 0;
  private duplicatesSinceWarn = 0;
  private lastDuplicateWarn = Number.NEGATIVE_INFINITY;
  private receivedCount = 0;
  private committedCount = 0;
  private deadLetterCount = 0;
  private droppedCount = 0;
  private commitErrorCount = 0;
  private readonly receivedByQos;

  constructor(private readonly metrics: Metrics) {
    // Label lookups resolved once, not per message.
    this.receivedByQos = [0, 1, 2].map((q) => metrics.messagesReceived.labels(String(q)));
  }

  received(m: InboundMessage): void {
    this.receivedCount++;
    this.receivedByQos[m.qos]?.inc();
  }

  dropped(_m: InboundMessage, reason: DropReason | string): void {
    this.droppedCount++;
    this.metrics.dropped.inc({ reason });
  }

  sourceHooks(log: Logger): SourceHooks {
    let connections = 0;
    let failures = 0;
    return {
      onConnect: ({ sessionPresent }) => {
        connections++;
        failures = 0;
        if (connections > 1) this.metrics.reconnects.inc();
        log.info({ sessionPresent }, connections > 1 ? 'reconnected to broker' : 'connected to broker');
      },
      onDisconnect: (reason) => log.warn({ reason }, 'disconnected from broker'),
      onReconnectScheduled: (delayMs, attempt) => {
        const level = isPowerOfTwo(attempt) ? 'info' : 'debug';
        log[level]({ delayMs, attempt }, 'reconnect scheduled');
      },
      onSubscribed: (granted) => log.info({ granted }, 'subscribed'),
      onError: (err) => {
        failures++;
        if (isPowerOfTwo(failures)) {
          const hint = connectHint(err.message);
          log.warn({ err: err.message, failures, ...(hint ? { hint } : {}) }, 'broker connection error');
        }
      },
      onAcksDropped: (count) => {
        this.metrics.acksDropped.inc(count);
        log.info({ count }, 'connection closed with acks held: the broker will redeliver those messages');
      },
    };
  }

  brokerHooks(log: Logger): BrokerHooks {
    return {
      onClientConnected: (id) => log.debug({ client: id }, 'device connected'),
      onClientDisconnected: (id) => log.debug({ client: id }, 'device disconnected'),
      onRejectedPublish: (reason) => {
        this.droppedCount++;
        this.metrics.dropped.inc({ reason });
      },
    };
  }

  writerHooks(log: Logger, onStuck: () => void): WriterHooks {
    return {
      onCommitted: (batch, result) => this.committed(batch, result, log),
      onCommitError: (err, attempt) => {
        this.commitErrorCount++;
        this.metrics.commitErrors.inc({ code: errorCode(err) ?? 'unknown' });
        // One clear line per failure episode; the counter shows how long it lasted.
        if (attempt === 1)
          log.error({ err }, 'commit failed: retrying with backoff, nothing is acknowledged meanwhile');
        else log.debug({ attempt, code: errorCode(err) }, 'commit retry failed');
      },
      onStuck: () => {
        log.warn('commits keep failing: reconnecting so the broker redelivers what is held');
        onStuck();
      },
      onRecovered: () => log.info('commits succeed again'),
    };
  }

  private committed(batch: readonly InboundMessage[], r: BatchResult, log: Logger): void {
    const m = this.metrics;
    this.committedCount += batch.length;
    m.messagesWritten.inc(r.stored);
    if (r.duplicates > 0) {
      m.messagesDuplicate.inc(r.duplicates);
      this.duplicateCount += r.duplicates;
      this.duplicatesSinceWarn += r.duplicates;
      const now = performance.now();
      // Redeliveries are expected after a crash or a reconnect; a steady stream of them is not
      // (a device resending, or identical messages being merged): say so once in a while, with a topic.
      if (now - this.lastDuplicateWarn >= DUPLICATE_WARN_INTERVAL_MS) {
        log.warn(
          { topic: r.duplicateTopic, duplicates: this.duplicatesSinceWarn },
          'redelivered messages recognised and not stored again (next such line in 10 min at the earliest)',
        );
        this.lastDuplicateWarn = now;
        this.duplicatesSinceWarn = 0;
      }
    }
    m.readingsWritten.inc(r.readings);
    if ((r.readingsCapped ?? 0) > 0) m.readingsDropped.inc({ reason: 'over_cap' }, r.readingsCapped);
    if ((r.nonFinite ?? 0) > 0) m.readingsDropped.inc({ reason: 'non_finite' }, r.nonFinite);
    for (const [reason, n] of Object.entries(r.deadLetters)) {
      this.deadLetterCount += n;
      m.deadLetters.inc({ reason }, n);
    }
    const receiveMono = new Float64Array(batch.length);
    for (let i = 0; i < batch.length; i++) receiveMono[i] = (batch[i] as InboundMessage).receivedMono;
    const nowWall = Date.now();
    m.lastCommitTimestamp.set(nowWall / 1000);
    m.observeBatch({
      size: batch.length,
      commitSeconds: r.commitSeconds,
      receiveMono,
      payloadTs: r.payloadTs,
      nowMono: performance.now(),
      nowWall,
    });
  }

  snapshot(
    queue: { length: number; bytes: number },
    source: { heldAcks: number } | undefined,
  ): SummarySnapshot {
    return {
      received: this.receivedCount,
      committed: this.committedCount,
      queueMessages: queue.length,
      queueBytes: queue.bytes,
      heldAcks: source?.heldAcks ?? 0,
      deadLetters: this.deadLetterCount,
      duplicates: this.duplicateCount,
      dropped: this.droppedCount,
      commitErrors: this.commitErrorCount,
    };
  }
}
