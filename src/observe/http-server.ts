/**
 * /metrics, /healthz and /readyz on node:http. No framework: three fixed routes do not need
 * one, and every dependency here is one more thing a scrape can break.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';
import { withTimeout } from '../lib/timeout.js';
import { MetricsCache } from './metrics-cache.js';

export interface HttpSettings {
  readonly host: string;
  readonly port: number;
  /** Open connections beyond this are closed at once (http.maxConnections). */
  readonly maxConnections: number;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, boolean>;
}

/** A route another stage serves on this listener (the query API): it owns method and reply. */
export interface HttpRoute {
  /** An exact path, or a prefix when it ends with '/' ('/' alone is exact: the status page). */
  readonly path: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface HttpDeps {
  readonly registry: Registry;
  readonly readiness: () => Readiness;
  /** Monotonic ms for the metrics cache; tests pin it. */
  readonly now?: () => number;
  readonly routes?: readonly HttpRoute[];
}

/** A scraper that stalls mid-request must not hold a socket for ever (slowloris). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Prometheus reuses its connection between scrapes (default interval 15 s). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** A rendered /metrics answers every scrape for this long (metrics-cache.ts). */
const METRICS_CACHE_MS = 1000;
/**
 * /metrics responses being written at once; more get 503 + Retry-After at once instead of
 * queueing on the event loop the daemon ingests with. A few Prometheus servers need a handful.
 */
const MAX_METRICS_IN_FLIGHT = 16;
/** Bounds listen() and close(): neither touches the disk, so this is generous. */
const LIFECYCLE_TIMEOUT_MS = 5_000;

export class HttpServer {
  private server: Server | undefined;
  private bound: { host: string; port: number } | undefined;
  private stopping: Promise<void> | undefined;
  private readonly cache: MetricsCache;
  private metricsInFlight = 0;

  constructor(
    private readonly settings: HttpSettings,
    private readonly deps: HttpDeps,
  ) {
    this.cache = new MetricsCache(() => deps.registry.metrics(), METRICS_CACHE_MS, deps.now);
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Node closes connections over this right after accepting them.
    server.maxConnections = this.settings.maxConnections;
    this.server = server;
    const { host, port } = this.settings;
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port }, () => {
            server.off('error', reject);
            resolve();
          });
        }),
        LIFECYCLE_TIMEOUT_MS,
        `http listen on ${host}:${port}`,
      );
    } catch (err) {
      this.server = undefined;
      server.close();
      throw listenError(err, host, port);
    }
    const a = server.address() as AddressInfo;
    this.bound = { host: a.address, port: a.port };
  }

  /** The address actually bound (port 0 resolves here). */
  address(): { host: string; port: number } {
    if (!this.bound) throw new MqliteError('MQLITE_HTTP_FAILED', 'http server is not started');
    return { ...this.bound };
  }

  stop(): Promise<void> {
    if (!this.server) return Promise.resolve();
    this.stopping ??= this.close(this.server);
    return this.stopping;
  }

  private async close(server: Server): Promise<void> {
    const closed = new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
    // close() alone waits for idle keep-alive sockets (Prometheus holds one) to time out.
    server.closeAllConnections();
    await withTimeout(closed, LIFECYCLE_TIMEOUT_MS, 'http close');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const route = findRoute(this.deps.routes, req.url);
    if (route) {
      route.handle(req, res);
      return;
    }
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', method);
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/metrics':
        this.metrics(res, method);
        return;
      case '/healthz':
        // Answering at all is the check: a blocked event loop cannot.
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n', method);
        return;
      case '/readyz':
        this.ready(res, method);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n', method);
    }
  }

  private metrics(res: ServerResponse, method: string): void {
    if (this.metricsInFlight >= MAX_METRICS_IN_FLIGHT) {
      res.setHeader('Retry-After', '1');
      send(res, 503, 'text/plain; charset=utf-8', 'busy: too many concurrent scrapes, retry\n', method);
      return;
    }
    this.metricsInFlight++;
    res.once('close', () => this.metricsInFlight--);
    const { registry } = this.deps;
    this.cache.get().then(
      (text) => send(res, 200, registry.contentType, text, method),
      (err: unknown) =>
        send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${errorMessage(err)}\n`, method),
    );
  }

  private ready(res: ServerResponse, method: string): void {
    let body: string;
    let status: number;
    try {
      const r = this.deps.readiness();
      status = r.ready ? 200 : 503;
      body = readinessJson(r);
    } catch (err) {
      status = 503;
      body = JSON.stringify({ ready: false, failing: ['readiness'], error: errorMessage(err), checks: {} });
    }
    send(res, status, 'application/json', `${body}\n`, method);
  }
}

function findRoute(routes: readonly HttpRoute[] | undefined, url: string | undefined): HttpRoute | undefined {
  if (!routes) return undefined;
  const path = (url ?? '/').split('?', 1)[0] ?? '/';
  return routes.find((r) =>
    r.path !== '/' && r.path.endsWith('/') ? path.startsWith(r.path) : path === r.path,
  );
}

/** `{"ready":false,"failing":["connected"],"checks":{...}}`: failing first, for people reading curl output. */
export function readinessJson(r: Readiness): string {
  const failing = Object.entries(r.checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  return JSON.stringify({ ready: r.ready, failing, checks: r.checks });
}

function send(res: ServerResponse, status: number, type: string, body: string, method: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(method === 'HEAD' ? undefined : body);
}

function listenError(err: unknown, host: string, port: number): MqliteError {
  const code = errorCode(err);
  if (code === 'EADDRINUSE') {
    return new MqliteError(
      'MQLITE_HTTP_FAILED',
      `${host}:${port} is already in use: choose another with --http HOST:PORT or set http.listen: off`,
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new MqliteError(
      'MQLITE_HTTP_FAILED',
      `${host}:${port}: permission denied (ports below 1024 need privileges): choose another with --http HOST:PORT`,
      { cause: err },
    );
  }
  return new MqliteError('MQLITE_HTTP_FAILED', `cannot listen on ${host}:${port}: ${errorMessage(err)}`, {
    cause: err,
  });
}
