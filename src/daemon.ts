/**
 * Composition root: builds the stages, starts them in pipeline order and stops them in
 * reverse. The only file that knows every stage; stages know only lib/ and their own deps.
 */
import { Mutex } from 'async-mutex';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import type { Config } from './config/index.js';
import { parseHostPort } from './config/index.js';
import { decodeSettings, sinkSettings, sourceSettings, writerSettings } from './daemon-settings.js';
import { MqliteError } from './lib/errors.js';
import type { InboundMessage } from './lib/message.js';
import { withTimeout } from './lib/timeout.js';
import { createMetrics, type Metrics } from './observe/metrics.js';
import { HttpServer } from './observe/http-server.js';
import { stageLogger } from './observe/logger.js';
import { Summary } from './observe/summary.js';
import { SystemdNotifier } from './observe/systemd-notify.js';
import { BoundedQueue } from './queue/bounded-queue.js';
import { MqttSource } from './source/mqtt-source.js';
import { BatchWriter } from './sink/batch-writer.js';
import { SqliteSink } from './sink/sqlite-sink.js';
import { Telemetry } from './daemon-telemetry.js';
import { createRetention } from './daemon-retention.js';
import type { RetentionScheduler } from './retention/scheduler.js';
import { errorCode } from './lib/errors.js';

export interface DaemonOptions {
  readonly logger: Logger;
  readonly version: string;
  /** Where the compiled SQLite worker lives; tests running from src/ point at dist/. */
  readonly workerUrl?: URL;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Daemon {
  readonly registry = new Registry();
  private readonly metrics: Metrics;
  private readonly telemetry: Telemetry;
  private readonly queue: BoundedQueue;
  private readonly sink: SqliteSink;
  private readonly writer: BatchWriter;
  /** Held by each batch commit and each retention step: one transaction at a time on the writer. */
  private readonly mutex = new Mutex();
  private readonly retention: RetentionScheduler;
  private readonly source: MqttSource | undefined;
  private readonly broker: EmbeddedBroker | undefined;
  private readonly http: HttpServer | undefined;
  private readonly summary: Summary;
  private readonly notifier: SystemdNotifier;
  private state: State = 'new';
  private dbOpen = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly opts: DaemonOptions,
  ) {
    const log = opts.logger;
    this.metrics = createMetrics(this.registry, { version: opts.version });
    this.telemetry = new Telemetry(this.metrics);
    this.queue = new BoundedQueue(config.queue, { onDrop: (m, reason) => this.telemetry.dropped(m, reason) });
    const accept = (m: InboundMessage) => {
      this.telemetry.received(m);
      return this.queue.push(m);
    };
    const sinkLog = stageLogger(log, 'sink');
    this.sink = new SqliteSink(
      {
        ...sinkSettings(config, decodeSettings(config)),
        onMigrationProgress: (p) => {
          sinkLog.info(p, 'migrating the database schema');
          // Shown by `systemctl status` while the unit is still starting.
          this.notifier.status(`migrating the database to schema ${p.version}: ${p.done}/${p.total}`);
        },
      },
      opts.workerUrl ?? defaultWorkerUrl(),
    );
    const embedded = config.broker.url === undefined;
    if (embedded) {
      const hp = parseHostPort(config.embedded.listen);
      if (!hp)
        throw new MqliteError(
          'MQLITE_CONFIG_INVALID',
          `embedded.listen: bad address ${config.embedded.listen}`,
        );
      this.broker = new EmbeddedBroker(
        {
          host: hp.host,
          port: hp.port,
          allowAnonymous: config.embedded.allowAnonymous,
          users: config.embedded.users.map((u) => ({ ...u })),
          maxPayloadBytes: config.limits.maxPayloadBytes,
        },
        { accept, hooks: this.telemetry.brokerHooks(stageLogger(log, 'broker')) },
      );
    } else {
      this.source = new MqttSource(sourceSettings(config), {
        accept,
        hooks: this.telemetry.sourceHooks(stageLogger(log, 'source')),
      });
    }
    this.retention = createRetention(config, {
      target: this.sink,
      mutex: this.mutex,
      registry: this.registry,
      logger: stageLogger(log, 'retention'),
    });
    const writerHooks = this.telemetry.writerHooks(stageLogger(log, 'sink'), () =>
      this.source?.forceReconnect('commits are failing: reconnecting so the broker redelivers'),
    );
    this.writer = new BatchWriter({
      queue: this.queue,
      sink: this.sink,
      mutex: this.mutex,
      settings: writerSettings(config, embedded),
      hooks: {
        ...writerHooks,
        onCommitted: (batch, result) => {
          writerHooks.onCommitted(batch, result);
          let bytes = 0;
          for (const m of batch) bytes += m.payload.length;
          this.retention.noteWritten(bytes);
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
      heldAcks: () => this.source?.heldAcks ?? 0,
      connected: () => (this.source ? this.source.connected : this.state === 'running'),
      subscribed: () => (this.source ? this.source.subscribed : this.state === 'running'),
      dbBytes: () => (this.dbOpen ? this.sink.fileSizes().dbBytes : 0),
      walBytes: () => (this.dbOpen ? this.sink.fileSizes().walBytes : 0),
    });
    const http = config.http.listen === 'off' ? undefined : parseHostPort(config.http.listen);
    this.http = http
      ? new HttpServer(http, { registry: this.registry, readiness: () => this.readiness() })
      : undefined;
    this.summary = new Summary(
      { intervalMs: config.log.summaryIntervalMs },
      {
        logger: stageLogger(log, 'summary'),
        snapshot: () => this.telemetry.snapshot(this.queue, this.source),
      },
    );
    this.notifier = new SystemdNotifier({ logger: stageLogger(log, 'systemd') });
  }

  /** What /readyz reports: every condition that must hold for data to flow and be stored. */
  readiness(): { ready: boolean; checks: Record<string, boolean> } {
    const checks: Record<string, boolean> = {
      started: this.state === 'running',
      connected: this.source ? this.source.connected : this.state === 'running',
      subscribed: this.source ? this.source.subscribed : this.state === 'running',
      database: this.dbOpen,
      writer: this.writer.healthy,
    };
    return { ready: Object.values(checks).every(Boolean), checks };
  }

  /** Start in pipeline order: storage first, then HTTP, then intake. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    const log = this.opts.logger;
    await this.sink.start();
    this.dbOpen = true;
    await this.writer.start();
    await this.retention.start();
    await this.http?.start();
    if (this.broker) await this.broker.start();
    if (this.source) await this.source.start();
    this.state = 'running';
    await this.summary.start();
    this.notifier.ready();
    log.info(
      {
        mode: this.broker ? 'embedded' : 'subscriber',
        broker: this.broker ? this.broker.address() : this.config.broker.url,
        db: this.config.db.path,
        http: this.http?.address(),
        version: this.opts.version,
      },
      'mqlite started',
    );
  }

  /** Addresses actually bound (port 0 in tests). */
  addresses(): { broker?: { host: string; port: number }; http?: { host: string; port: number } } {
    return {
      ...(this.broker ? { broker: this.broker.address() } : {}),
      ...(this.http ? { http: this.http.address() } : {}),
    };
  }

  /**
   * Stop intake, drain and commit (which releases the held acks), then close the database
   * and HTTP. Past the grace period, what is left is abandoned: never acked, so redelivered.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const log = this.opts.logger;
    const started = this.state !== 'new';
    this.state = 'stopping';
    this.notifier.stopping();
    this.source?.pause();
    this.queue.close();
    const grace = this.config.shutdown.graceMs;
    if (started) {
      try {
        await withTimeout(this.writer.stop(), grace, 'draining the queue');
      } catch (err) {
        const left = this.queue.abandonAll();
        log.warn(
          { err, abandoned: left },
          'grace period over: unstored messages left unacknowledged for redelivery',
        );
      }
    }
    await this.step('retention', () => this.retention.stop());
    await this.step('summary', () => this.summary.stop());
    await this.step('source', () => this.source?.stop());
    await this.step('broker', () => this.broker?.stop());
    await this.step('sink', async () => {
      this.dbOpen = false;
      await this.sink.stop();
    });
    await this.step('http', () => this.http?.stop());
    await this.step('systemd', () => this.notifier.stop());
    this.state = 'stopped';
    log.info('mqlite stopped');
  }

  /** A failing step is logged and does not keep the others from stopping. */
  private async step(name: string, fn: () => Promise<void> | undefined): Promise<void> {
    try {
      await withTimeout(Promise.resolve(fn()), this.config.shutdown.graceMs, `stopping ${name}`);
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
