/**
 * Wires store and forward into the daemon: config → the forwarder worker's settings, and its
 * reports onto metrics and logs. undefined when forward.postgres has neither url nor host.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config/index.js';
import { hideUrlPassword } from './config/index.js';
import { Forwarder } from './forward/forwarder.js';
import type { ForwardWorkerInit } from './forward/protocol.js';
import { createForwardMetrics } from './observe/forward-metrics.js';

/** A lagging purge_protect row only protects more; once a second is plenty and spares the writer. */
const PROTECT_EVERY_MS = 1000;
/** Backlog gauges: a few indexed reads each time. */
const BACKLOG_EVERY_MS = 5000;

export function forwardInit(c: Readonly<Config>): ForwardWorkerInit | undefined {
  const p = c.forward.postgres;
  if (p.url === undefined && p.host === undefined) return undefined;
  return {
    dbPath: c.db.path,
    busyTimeoutMs: c.db.busyTimeoutMs,
    connection: {
      url: p.url,
      host: p.host,
      port: p.port,
      database: p.database,
      user: p.user,
      password: p.password,
      passwordFile: p.passwordFile,
      tls: { ...p.tls },
    },
    schema: p.schema,
    source: p.source,
    method: p.method,
    batchMessages: p.batchMessages,
    batchBytes: p.batchBytes,
    pollMs: p.pollMs,
    maxDelayMs: p.maxDelayMs,
    connectTimeoutMs: p.connectTimeoutMs,
    batchTimeoutMs: p.batchTimeoutMs,
    retry: { ...p.retry },
    protectUndelivered: p.protectUndelivered,
    protectEveryMs: PROTECT_EVERY_MS,
    backlogEveryMs: BACKLOG_EVERY_MS,
    prefetch: true,
    nice: p.nice,
  };
}

export function createForwarder(
  c: Readonly<Config>,
  deps: { registry: Registry; logger: Logger; workerUrl?: URL },
): Forwarder | undefined {
  // Registered even when forwarding is off: dashboards and alerts (MqliteForwardingBehind) find
  // the series at 0 rather than missing.
  const m = createForwardMetrics(deps.registry);
  const init = forwardInit(c);
  if (!init) return undefined;
  const log = deps.logger;
  const p = c.forward.postgres;
  const target = p.url !== undefined ? hideUrlPassword(p.url) : `${p.host}:${p.port}/${p.database}`;
  let failing = false;
  return new Forwarder(
    init,
    {
      onReady: (source) => log.info({ source, target, schema: p.schema }, 'forwarding to PostgreSQL'),
      onConnected: (cursor) => {
        m.connected.set(1);
        m.cursor.set(cursor);
        if (failing) log.info({ cursor }, 'PostgreSQL reachable again: forwarding resumes');
        failing = false;
      },
      onBatch: (b) => {
        m.forwarded.inc(b.inserted);
        m.duplicates.inc(b.messages - b.inserted);
        m.batchDuration.observe(b.seconds);
        m.cursor.set(b.cursor);
      },
      onError: (stage, error, retryInMs) => {
        m.errors.inc({ stage });
        if (stage === 'connect' || stage === 'write') m.connected.set(0);
        // The first failure of a run is a warning; the retries that follow are debug noise.
        const level = failing && stage !== 'worker' ? 'debug' : 'warn';
        if (stage === 'connect' || stage === 'write') failing = true;
        log[level]({ stage, err: error, retryInMs, target }, 'forwarding failed: retrying');
      },
      onBacklog: (s) => {
        m.backlogMessages.set(s.rows);
        m.backlogBytes.set(s.bytes);
        m.oldestAge.set(s.oldestAgeSeconds);
      },
    },
    ...(deps.workerUrl ? [deps.workerUrl] : []),
  );
}
