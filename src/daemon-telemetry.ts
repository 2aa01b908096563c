/**
 * Stage hooks → metrics and logs. Stages report events through their own hook interfaces;
 * this is the one place that decides what is counted and what is worth a log line (one line
 * per episode, not one per message or per retry).
 */
import type { Logger } from 'pino';
import type { BrokerHooks } from './broker/embedded-broker.js';
import type { DropReason, InboundMessage, MessageBatch } from './lib/message.js';
import type { Metrics } from './observe/metrics.js';
import type { SummarySnapshot } from './observe/summary.js';
import { commitErrorCode } from './sink/sqlite-errors.js';
import type { BatchResult } from './sink/sqlite-sink.js';
import type { CommitClock, WriterHooks } from './sink/batch-writer.js';
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

/** MQTT 5 DISCONNECT reason 0x8E (MQTT 5.0 §3.14.2.1), as the source reports it. */
const SESSION_TAKEN_OVER = /session taken over|reason code 142\b/i;
/** What the source reports when the connection closed without DISCONNECT or error. */
const PLAIN_CLOSE = 'connection closed';
const TAKEOVER_MESSAGE =
  'session taken over: another client connected with the same client id; set a unique --client-id';

/**
 * Without a reason on the wire (MQTT 3.1.1, and brokers such as Mosquitto 2.0.11 that close the
 * older connection of a client id without DISCONNECT 0x8E even under MQTT 5), a takeover shows
 * as a pattern: two clients with one id knock each other off, so each of our connections is
 * accepted and then closed by the broker, plainly (no DISCONNECT, no error), before it got old,
 * and each reconnect succeeds at once. A broker restart differs (refused reconnects, an error);
 * so does a flaky link (resets, keepalive timeouts: errors).
 */
export class TakeoverDetector {
  static readonly SUSPECT_AFTER = 3;
  private connectedAt: number | undefined;
  private run = 0;

  /** @param youngMs a connection closed sooner than this counts (the backoff's stableMs) */
  constructor(private readonly youngMs: number) {}

  connected(nowMs: number): void {
    this.connectedAt = nowMs;
  }

  /** A connection error or a refused reconnect: not a takeover pattern. */
  error(): void {
    this.run = 0;
  }

  /** How many plain closes of young connections in a row, this one included (0 if this one was not). */
  closed(nowMs: number, plain: boolean): number {
    const at = this.connectedAt;
    this.connectedAt = undefined;
    if (plain && at !== undefined && nowMs - at < this.youngMs) this.run++;
    else this.run = 0;
    return this.run;
  }
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

  constructor(private readonly metrics: Metrics) {}

  received(m: InboundMessage): void {
    this.receivedCount++;
    this.metrics.countReceived(m.qos);
  }

  dropped(reason: DropReason | string): void {
    this.droppedCount++;
    this.metrics.dropped.inc({ reason });
  }

  sourceHooks(
    log: Logger,
    ctx: { clientId: string; stableMs: number; stopping: () => boolean },
  ): SourceHooks {
    let connections = 0;
    let failures = 0;
    const takeover = new TakeoverDetector(ctx.stableMs);
    let drops = 0;
    let brokerDropped: number | undefined;
    let dropWarnings = 0;
    return {
      onDropped: (reason, detail) => {
        this.droppedCount++;
        this.metrics.dropped.inc({ reason });
        drops++;
        if (isPowerOfTwo(drops)) log.warn({ reason, count: drops, ...detail }, 'message dropped');
      },
      onConnect: ({ sessionPresent }) => {
        connections++;
        failures = 0;
        takeover.connected(performance.now());
        if (connections > 1) this.metrics.reconnects.inc();
        log.info({ sessionPresent }, connections > 1 ? 'reconnected to broker' : 'connected to broker');
      },
      onDisconnect: (reason) => {
        // Our own DISCONNECT at shutdown is the plan, not a problem.
        if (ctx.stopping()) {
          log.info('disconnected from broker');
          return;
        }
        if (SESSION_TAKEN_OVER.test(reason)) {
          log.warn({ reason, clientId: ctx.clientId }, TAKEOVER_MESSAGE);
          return;
        }
        const closes = takeover.closed(performance.now(), reason === PLAIN_CLOSE);
        if (closes >= TakeoverDetector.SUSPECT_AFTER && isPowerOfTwo(closes)) {
          log.warn({ reason, clientId: ctx.clientId, closes }, `${TAKEOVER_MESSAGE} (probably)`);
          return;
        }
        log.warn({ reason }, 'disconnected from broker');
      },
      onReconnectScheduled: (delayMs, attempt) => {
        const level = isPowerOfTwo(attempt) ? 'info' : 'debug';
        log[level]({ delayMs, attempt }, 'reconnect scheduled');
      },
      onSubscribed: (granted, filters) => {
        const refused = refusedFilters(granted, filters);
        if (refused.length === 0) {
          log.info({ granted }, 'subscribed');
          return;
        }
        // Nothing will arrive on these: say so loudly (a broker without shared subscriptions
        // answers 0x9E for $share/ filters, or 0x80 under MQTT 3.1.1).
        log.error({ granted, refused }, 'broker refused a subscription: nothing arrives on those filters');
      },
      onError: (err) => {
        failures++;
        takeover.error();
        if (isPowerOfTwo(failures)) {
          const hint = connectHint(err.message);
          log.warn({ err: err.message, failures, ...(hint ? { hint } : {}) }, 'broker connection error');
        }
      },
      onBrokerDropped: (total) => {
        this.metrics.brokerDropped.set(total);
        // The first count seen is history (since the broker started); growth after it is news.
        if (brokerDropped !== undefined && total > brokerDropped) {
          dropWarnings++;
          if (isPowerOfTwo(dropWarnings))
            log.warn(
              { dropped: total - brokerDropped, total, warnings: dropWarnings },
              'the broker dropped messages (queue full for some client, maybe mqlite): raise max_queued_messages / max_queued_bytes, see README "Broker settings"',
            );
        } else if (brokerDropped === undefined && total > 0) {
          log.info({ total }, 'the broker reports messages dropped since it started (all clients)');
        }
        brokerDropped = total;
      },
      onRePing: (rePings) => {
        // One line per episode and then 2, 4, 8…: a long overload does not fill the journal.
        const level = isPowerOfTwo(rePings) ? 'info' : 'debug';
        log[level]({ rePings }, 'keepalive timeout while reading waits for the queue: pinging again');
      },
      onStockKeepalive: (missing) => {
        log.warn(
          { missing },
          'MQTT.js internals changed: keepalive left stock, so a full queue can cause reconnects and redeliveries',
        );
      },
      onAcksDropped: (count) => {
        this.metrics.acksDropped.inc(count);
        log.info({ count }, 'connection closed with acks held: the broker will redeliver those messages');
      },
    };
  }

  brokerHooks(log: Logger): BrokerHooks {
    const refusals = new Map<string, number>();
    return {
      onRefused: (reason, detail) => {
        this.metrics.brokerRefused.inc({ reason });
        const n = (refusals.get(reason) ?? 0) + 1;
        refusals.set(reason, n);
        if (isPowerOfTwo(n)) log.warn({ reason, count: n, ...detail }, 'embedded broker refused a client');
      },
      onAuthFailure: (f) => {
        this.metrics.brokerAuthFailures.inc({ reason: f.reason });
        // Every failure is counted; the 1st, 2nd, 4th… per reason are logged, so a guesser
        // cannot flood the journal.
        const key = `auth:${f.reason}`;
        const n = (refusals.get(key) ?? 0) + 1;
        refusals.set(key, n);
        if (isPowerOfTwo(n)) log.warn({ ...f, count: n }, 'embedded broker login failed');
      },
      onClientConnected: (id) => log.debug({ client: id }, 'device connected'),
      onClientDisconnected: (id) => log.debug({ client: id }, 'device disconnected'),
      onRejectedPublish: (reason) => {
        this.droppedCount++;
        this.metrics.dropped.inc({ reason });
      },
    };
  }

  writerHooks(log: Logger, on: { onStuck: () => void; onFatal: (err: unknown) => void }): WriterHooks {
    return {
      onSettledChunk: (batch, from, to, result, at) => this.settledChunk(batch, from, to, result, at),
      onCommitted: (batch, result) => this.committed(batch, result, log),
      onCommitError: (err, attempt) => {
        this.commitErrorCount++;
        this.metrics.commitErrors.inc({ code: commitErrorCode(err) });
        // One clear line per failure episode; the counter shows how long it lasted.
        if (attempt === 1)
          log.error({ err }, 'commit failed: retrying with backoff, nothing is acknowledged meanwhile');
        else log.debug({ attempt, code: commitErrorCode(err) }, 'commit retry failed');
      },
      onStuck: () => {
        log.warn('commits keep failing: reconnecting so the broker redelivers what is held');
        on.onStuck();
      },
      onRecovered: () => log.info('commits succeed again'),
      onFatal: (err) => {
        log.fatal(
          { err },
          'the batch writer stopped: nothing more can be stored; exiting so a supervisor restarts mqlite',
        );
        on.onFatal(err);
      },
    };
  }

  private committed(batch: MessageBatch, r: BatchResult, log: Logger): void {
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
    m.observeCommit(batch.length, r.commitSeconds, Date.now());
  }

  /**
   * Per-message latencies, a chunk at a time (batch-writer.ts SETTLE_CHUNK). payloadTs has one entry
   * per stored message, fewer than the batch when some were duplicates or dead letters: each chunk
   * takes the same index range of it, so together the chunks observe every entry once.
   */
  private settledChunk(batch: MessageBatch, from: number, to: number, r: BatchResult, at: CommitClock): void {
    const receiveMono = batch.receivedMono.subarray(from, to);
    const n = r.payloadTs.length;
    this.metrics.observeLatencies({
      receiveMono,
      payloadTs: r.payloadTs.subarray(Math.min(from, n), Math.min(to, n)),
      nowMono: at.mono,
      nowWall: at.wall,
    });
  }

  snapshot(queue: { length: number; bytes: number }, heldAcks: number): SummarySnapshot {
    return {
      received: this.receivedCount,
      committed: this.committedCount,
      queueMessages: queue.length,
      queueBytes: queue.bytes,
      heldAcks,
      deadLetters: this.deadLetterCount,
      duplicates: this.duplicateCount,
      dropped: this.droppedCount,
      commitErrors: this.commitErrorCount,
    };
  }
}

/** SUBACK reason codes ≥ 0x80 refuse a filter ([MQTT-3.9.3]); 0x9E: shared subscriptions not supported. */
export function refusedFilters(granted: readonly number[], filters: readonly string[]): string[] {
  return filters.flatMap((f, i) => {
    const code = granted[i];
    if (code === undefined || code < 0x80) return [];
    return [
      `${f} (0x${code.toString(16).toUpperCase()}${code === 0x9e ? ': shared subscriptions not supported' : ''})`,
    ];
  });
}
