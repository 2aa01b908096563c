/**
 * Composition root: builds the stages, starts them in pipeline order and stops them in
 * reverse. The only file that knows every stage; stages know only lib/ and their own deps.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from './config/index.js';
import { clientIdOnVolatileHost, hideUrlPassword } from './config/index.js';
import { createIntake, type Intake, type IntakeSettings } from './daemon-intake.js';
import { checkEmbeddedPort, checkHttpPort } from './daemon-preflight.js';
import { decodeSettings, intakeSettings, listener, sinkSettings, writerSettings } from './daemon-settings.js';
import { decoderReportHandler } from './daemon-decoder-report.js';
import { Telemetry } from './daemon-telemetry.js';
import type { DecodeSettings } from './decode/types.js';
import type { TestHooks } from './daemon-test-hooks.js';
import type { InboundMessage } from './lib/message.js';
import { withTimeout } from './lib/timeout.js';
import { HttpServer } from './observe/http-server.js';
import { stageLogger } from './observe/logger.js';
import { createMetrics, type Metrics } from './observe/metrics.js';
import { createSparkplugMetrics } from './observe/sparkplug-metrics.js';
import { Summary } from './observe/summary.js';
import { SystemdNotifier } from './observe/systemd-notify.js';
import { BoundedQueue } from './queue/bounded-queue.js';
import { BatchWriter } from './sink/batch-writer.js';
import { DbLock } from './sink/db-lock.js';
import { SqliteSink } from './sink/sqlite-sink.js';
import { createRetention } from './daemon-retention.js';
import { createForwarder } from './daemon-forward.js';
import type { Forwarder } from './forward/forwarder.js';
import type { RetentionObservation, RetentionScheduler } from './retention/scheduler.js';
import { errorCode } from './lib/errors.js';
import { buildQueryService } from './daemon-query.js';
import { buildStatusRoutes } from './daemon-status.js';
import type { QueryService } from './query/index.js';

export interface DaemonOptions {
  readonly logger: Logger;
  readonly version: string;
  /** Where the compiled SQLite worker lives; tests running from src/ point at dist/. */
  readonly workerUrl?: URL;
  /** How flags are written in hints (`npm start -- --broker …` when run through npm). */
  readonly usage?: (flags: string) => string;
  /**
   * The pipeline died (the batch writer stopped): the process must stop and exit non-zero so
   * a supervisor restarts it, rather than stay up, unready, forever.
   */
  readonly onFatal?: (err: unknown) => void;
  /** Test and benchmark knobs (daemon-test-hooks.ts); none by default. */
  readonly testHooks?: TestHooks;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Of shutdown.graceMs, what the steps after the drain (close intake, checkpoint and close
 * SQLite, close HTTP) are guaranteed: the drain gets the rest. All of it ends by one deadline.
 */
const CLOSE_SHARE = 0.3;
/** Whatever the deadline says, each closing step gets this long to try. */
const MIN_STEP_MS = 250;
/** Closing SQLite after the write in progress gave up: checkpoint of a WAL bounded by autocheckpoint. */
const SINK_CLOSE_MS = 1000;

export class Daemon {
  readonly registry = new Registry();
  private readonly metrics: Metrics;
  private readonly telemetry: Telemetry;
  private readonly queue: BoundedQueue;
  private readonly sink: SqliteSink<DecodeSettings>;
  private readonly writer: BatchWriter;
  private readonly intake: Intake;
  /** Held by each batch commit and each retention step: one transaction at a time on the writer. */
  private readonly mutex = new Mutex();
  private readonly retention: RetentionScheduler;
  /** Store and forward to PostgreSQL; undefined when not configured. */
  private readonly forwarder: Forwarder | undefined;
  private readonly http: HttpServer | undefined;
  private readonly query: QueryService | undefined;
  private readonly summary: Summary;
  private readonly notifier: SystemdNotifier;
  private state: State = 'new';
  private dbOpen = false;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private lock: DbLock | undefined;
  private readonly intakeSettings: IntakeSettings;
  private retentionSeen: RetentionObservation | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly opts: DaemonOptions,
  ) {
    const log = opts.logger;
    this.metrics = createMetrics(this.registry, { version: opts.version });
    this.telemetry = new Telemetry(this.metrics);
    this.queue = new BoundedQueue(config.queue, { onDrop: (reason) => this.telemetry.dropped(reason) });
    const accept = (m: InboundMessage) => {
      this.telemetry.received(m);
      return this.queue.push(m);
    };
    const hooks = opts.testHooks ?? { ackOnReceipt: false };
    const sinkLog = stageLogger(log, 'sink');
    this.sink = new SqliteSink(
      {
        ...sinkSettings(config, decodeSettings(config), hooks),
        onMigrationProgress: (p) => {
          sinkLog.info(p, 'migrating the database schema');
          // Shown by `systemctl status` while the unit is still starting.
          this.notifier.status(`migrating the database to schema ${p.version}: ${p.done}/${p.total}`);
        },
      },
      opts.workerUrl ?? defaultWorkerUrl(),
    );
    const intake = intakeSettings(config, hooks);
    this.intakeSettings = intake;
    this.intake = createIntake(intake, {
      accept,
      brokerHooks: () => this.telemetry.brokerHooks(stageLogger(log, 'broker')),
      sourceHooks: () =>
        this.telemetry.sourceHooks(stageLogger(log, 'source'), {
          clientId: intake.mode === 'subscriber' ? intake.source.clientId : '',
          stableMs: config.broker.reconnect.stableMs,
          stopping: () => this.state === 'stopping' || this.state === 'stopped',
        }),
      shownUrl: hideUrlPassword,
    });
    this.retention = createRetention(config, {
      target: this.sink,
      mutex: this.mutex,
      registry: this.registry,
      logger: stageLogger(log, 'retention'),
      observed: (o) => {
        this.retentionSeen = o;
      },
    });
    this.forwarder = createForwarder(config, {
      registry: this.registry,
      logger: stageLogger(log, 'forward'),
    });
    const writerHooks = this.telemetry.writerHooks(sinkLog, {
      onStuck: () => this.intake.onCommitsStuck('commits are failing: reconnecting so the broker redelivers'),
      onFatal: (err) => opts.onFatal?.(err),
    });
    const onDecoderReport = decoderReportHandler({
      metrics: createSparkplugMetrics(this.registry),
      publish: (topic, payload) => this.intake.publish(topic, payload),
      log: stageLogger(log, 'sparkplug'),
    });
    this.writer = new BatchWriter({
      queue: this.queue,
      sink: this.sink,
      mutex: this.mutex,
      settings: writerSettings(config, intake.mode),
      hooks: {
        ...writerHooks,
        onCommitted: (batch, result) => {
          writerHooks.onCommitted(batch, result);
          this.retention.noteWritten(batch.packed.payload.length);
          if (result.decoder !== undefined) onDecoderReport(result.decoder);
        },
        onCommitError: (err, attempt) => {
          writerHooks.onCommitError(err, attempt);
          // SQLITE_FULL with purgeable data: purge a chunk, and the retried batch reuses its pages.
          if (errorCode(err)?.startsWith('SQLITE_FULL')) this.retention.diskFull();
        },
      },
    });
    this.metrics.bindGauges({
      queueMessages: () => this.queue.length,
      queueBytes: () => this.queue.bytes,
      queueCapacityMessages: () => this.queue.capacity.messages,
      queueCapacityBytes: () => this.queue.capacity.bytes,
      heldAcks: () => this.intake.heldAcks(),
      connected: () => this.intake.health().connected,
      subscribed: () => this.intake.health().subscribed,
      dbBytes: () => (this.dbOpen ? this.sink.fileSizes().dbBytes : 0),
      walBytes: () => (this.dbOpen ? this.sink.fileSizes().walBytes : 0),
    });
    this.query = buildQueryService(config, this.registry, opts.version);
    this.http =
      config.http.listen === 'off'
        ? undefined
        : new HttpServer(
            { ...listener(config.http.listen), maxConnections: config.http.maxConnections },
            {
              registry: this.registry,
              readiness: () => this.readiness(),
              routes: [
                ...buildStatusRoutes(this.query, config.query.enabled, {
                  version: opts.version,
                  startedAt: Date.now(),
                  dbPath: config.db.path,
                  queueLimits: { messages: this.queue.capacity.messages, bytes: this.queue.capacity.bytes },
                  readiness: () => this.readiness(),
                  intake: () => this.intake.describe(),
                  counters: () => this.telemetry.snapshot(this.queue, this.intake.heldAcks()),
                  fileSizes: () => (this.dbOpen ? this.sink.fileSizes() : { dbBytes: 0, walBytes: 0 }),
                  budget: () => ({
                    maxBytes: config.db.maxBytes,
                    minFree: config.db.minFreeBytes,
                    observed: this.retentionSeen,
                  }),
                }),
                ...(this.query?.routes ?? []),
              ],
            },
          );
    this.summary = new Summary(
      { intervalMs: config.log.summaryIntervalMs },
      {
        logger: stageLogger(log, 'summary'),
        snapshot: () => this.telemetry.snapshot(this.queue, this.intake.heldAcks()),
      },
    );
    this.notifier = new SystemdNotifier({
      logger: stageLogger(log, 'systemd'),
      alive: () => this.writer.alive,
    });
  }

  /** What /readyz reports: every condition that must hold for data to flow and be stored. */
  readiness(): { ready: boolean; checks: Record<string, boolean> } {
    const running = this.state === 'running';
    const intake = this.intake.health();
    const checks: Record<string, boolean> = {
      started: running,
      connected: running && intake.connected,
      subscribed: running && intake.subscribed,
      database: this.dbOpen,
      writer: this.writer.healthy,
    };
    return { ready: Object.values(checks).every(Boolean), checks };
  }

  /**
   * Start in pipeline order: what can fail without side effects (ports), the database lock,
   * storage, HTTP, then intake. A stop() meanwhile ends it at the next step.
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    const log = this.opts.logger;
    const usage = this.opts.usage ?? ((flags: string) => flags);
    const dbPath = resolve(this.config.db.path);
    const intake = this.intakeSettings;
    const steps: (() => Promise<void> | void)[] = [
      () => (intake.mode === 'embedded' ? checkEmbeddedPort(intake.broker, usage) : undefined),
      () =>
        this.config.http.listen === 'off'
          ? undefined
          : checkHttpPort(listener(this.config.http.listen), usage),
      // The folder for the lock file; a folder that cannot be made is reported by the sink, naming it.
      () =>
        mkdir(dirname(dbPath), { recursive: true }).then(
          () => undefined,
          () => undefined,
        ),
      () => {
        this.lock = DbLock.acquire(dbPath, {
          onHeartbeatError: (err) =>
            log.warn({ err, path: `${dbPath}.lock` }, 'cannot refresh the database lock file'),
        });
      },
      async () => {
        await this.sink.start();
        this.dbOpen = true;
      },
      () => this.writer.start(),
      // Before retention: the forwarder registers its purge protection as it starts, and the
      // first retention pass must already see it, or it could purge rows never delivered.
      () => this.forwarder?.start(),
      () => this.retention.start(),
      () => this.query?.start(),
      () => this.http?.start(),
      () => this.intake.start(),
    ];
    for (const step of steps) {
      await step();
      if (this.state !== 'starting') return; // stop() came in: it undoes what was done
    }
    this.state = 'running';
    await this.summary.start();
    this.notifier.ready();
    log.info(
      {
        ...this.intake.describe(),
        db: this.config.db.path,
        http: this.http?.address(),
        version: this.opts.version,
      },
      'mqlite started',
    );
    if (clientIdOnVolatileHost(this.config, hostname())) {
      log.warn(
        { clientId: this.config.broker.clientId, hostname: hostname() },
        'the derived client id comes from a host name that changes when this container is recreated: ' +
          "the broker would keep the old session (and, in a share group, this instance's share of the " +
          'stream) under an id nothing connects with again; set broker.clientId / MQLITE_CLIENT_ID',
      );
    }
  }

  /**
   * Stop intake, drain and commit (which releases the held acks), then close the database
   * and HTTP, all by one deadline, shutdown.graceMs from now. What is left then is abandoned:
   * never acked, so redelivered.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const log = this.opts.logger;
    const grace = this.config.shutdown.graceMs;
    const deadline = performance.now() + grace;
    const left = (): number => Math.max(MIN_STEP_MS, deadline - performance.now());
    this.state = 'stopping';
    this.notifier.stopping();
    this.intake.pause();
    this.queue.close();
    // A start in progress ends at its next step; let it, so what it opened is closed below.
    if (this.starting) await this.step('start', () => this.starting?.catch(() => undefined), left());
    try {
      const drainMs = Math.max(MIN_STEP_MS, deadline - grace * CLOSE_SHARE - performance.now());
      await withTimeout(this.writer.stop(), drainMs, 'draining the queue');
    } catch (err) {
      const abandoned = this.queue.abandonAll();
      log.warn({ err, abandoned }, 'grace period over: unstored messages left unacknowledged for redelivery');
    }
    await this.step('retention', () => this.retention.stop(), left());
    // Before the sink closes: the forwarder's last cursor mirror writes to the same file.
    await this.step(
      'forward',
      () => this.forwarder?.stop(Math.max(MIN_STEP_MS, left() - MIN_STEP_MS)),
      left(),
    );
    await this.step('summary', () => this.summary.stop(), left());
    await this.step('intake', () => this.intake.stop(), left());
    // The one step allowed past the deadline: a write in progress may be waiting out
    // busy_timeout on a lock held elsewhere, and exiting while the worker is inside that call
    // aborts the process (better-sqlite3 #842, see cli.ts). Bounded: busy_timeout plus a second.
    await this.step('query', () => this.query?.stop(), left());
    await this.step(
      'sink',
      async () => {
        this.dbOpen = false;
        await this.sink.stop();
      },
      Math.max(left(), this.config.db.busyTimeoutMs + SINK_CLOSE_MS),
    );
    await this.step('query', () => this.query?.stop(), left());
    this.lock?.release();
    await this.step('http', () => this.http?.stop(), left());
    await this.step('systemd', () => this.notifier.stop(), left());
    this.state = 'stopped';
    log.info('mqlite stopped');
  }

  /** A failing step is logged and counted and does not keep the others from stopping. */
  private async step(name: string, fn: () => Promise<unknown> | undefined, ms: number): Promise<void> {
    try {
      await withTimeout(Promise.resolve(fn()), ms, `stopping ${name}`);
    } catch (err) {
      this.metrics.stopFailures.inc({ stage: name });
      this.opts.logger.error({ err, stage: name }, 'stop failed');
    }
  }
}

function defaultWorkerUrl(): URL {
  // From dist/daemon.js this is dist/worker.js; from src/daemon.ts (tests) use the build.
  return import.meta.url.endsWith('.ts')
    ? new URL('../dist/worker.js', import.meta.url)
    : new URL('./worker.js', import.meta.url);
}
