/**
 * The query API's routes on the daemon's HTTP listener: Prometheus's /api/v1 (GET, and POST
 * form-encoded as Grafana sends long queries) and, opted in, /readings/metrics. Requests are
 * authorised here, parsed here, and evaluated in the query pool's worker threads.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './access.js';
import type { DataRoute } from './api.js';
import type { Params } from './api-params.js';
import type { ExpositionSettings } from './exposition.js';
import type { CacheCounts, JobResult, QueryJob } from './protocol.js';
import { QueryError, STATUS_OF } from './query-error.js';

/** The shape the HTTP server takes (observe/http-server.ts HttpRoute). */
export interface Route {
  /** An exact path, or a prefix when it ends with '/'. */
  readonly path: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export interface QueryHooks {
  /** One per request answered: which endpoint, the HTTP status, how long it took. */
  request(endpoint: string, status: number, seconds: number): void;
  /** Series left out of one exposition by the cap. */
  refusedSeries(n: number): void;
  /** How one query's series were read: the query workers' cache of recent readings, or SQL. */
  cache(c: CacheCounts): void;
}

export interface QueryRoutesDeps {
  readonly run: (job: QueryJob) => Promise<JobResult>;
  readonly access: Access;
  readonly hooks: QueryHooks;
  readonly version: string;
  /** undefined: the exposition is off. */
  readonly exposition: ExpositionSettings | undefined;
}

/** Grafana and promtool send queries in form bodies; a PromQL query is short. */
const MAX_BODY_BYTES = 1024 * 1024;
const DATA_ROUTES: Record<string, DataRoute> = {
  '/api/v1/query': 'query',
  '/api/v1/query_range': 'query_range',
  '/api/v1/series': 'series',
  '/api/v1/labels': 'labels',
  '/api/v1/metadata': 'metadata',
};

export function queryRoutes(deps: QueryRoutesDeps): Route[] {
  const routes: Route[] = [
    { path: '/api/v1/', handle: (req, res) => serve(deps, req, res, () => api(deps, req)) },
  ];
  const expo = deps.exposition;
  if (expo) {
    routes.push({
      path: '/readings/metrics',
      handle: (req, res) =>
        serve(deps, req, res, async () => {
          const r = await deps.run({ kind: 'exposition', now: Date.now(), settings: expo });
          if (r.kind !== 'exposition') throw new QueryError('internal', 'unexpected answer');
          if (r.refused > 0) deps.hooks.refusedSeries(r.refused);
          return { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: r.text };
        }),
    });
  }
  return routes;
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

function serve(
  deps: QueryRoutesDeps,
  req: IncomingMessage,
  res: ServerResponse,
  answer: () => Promise<Reply>,
): void {
  const started = process.hrtime.bigint();
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const endpoint = path.startsWith('/api/v1/label/') ? '/api/v1/label/:name/values' : path;
  const done = (r: Reply): void => {
    res.statusCode = r.status;
    res.setHeader('Content-Type', r.type);
    res.setHeader('Content-Length', Buffer.byteLength(r.body));
    res.setHeader('Cache-Control', 'no-store');
    for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
    if (r.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="mqlite", charset="UTF-8"');
    res.end(req.method === 'HEAD' ? undefined : r.body);
    deps.hooks.request(endpoint, r.status, Number(process.hrtime.bigint() - started) / 1e9);
  };
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    res.setHeader('Allow', 'GET, HEAD, POST');
    done({ status: 405, type: 'text/plain; charset=utf-8', body: 'method not allowed\n' });
    return;
  }
  deps.access
    .allowed(req.headers.authorization)
    .then((ok) =>
      ok ? answer() : { status: 401, type: 'text/plain; charset=utf-8', body: 'Unauthorized\n' },
    )
    .then(done, (err: unknown) => done(errorReply(err)));
}

function errorReply(err: unknown): Reply {
  const e =
    err instanceof QueryError
      ? err
      : new QueryError('internal', err instanceof Error ? err.message : String(err));
  return {
    status: STATUS_OF[e.type],
    type: 'application/json',
    body: JSON.stringify({ status: 'error', errorType: e.type, error: e.message }),
  };
}

function success(data: unknown): Reply {
  return { status: 200, type: 'application/json', body: JSON.stringify({ status: 'success', data }) };
}

async function api(deps: QueryRoutesDeps, req: IncomingMessage): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  switch (path) {
    case '/api/v1/status/buildinfo':
      // The Prometheus API level served (Grafana picks features by it), and who serves it.
      return success({
        version: '3.0.0',
        revision: '',
        branch: '',
        buildUser: '',
        buildDate: '',
        goVersion: '',
        application: `mqlite ${deps.version}`,
      });
    case '/api/v1/query_exemplars':
      return success([]);
    case '/api/v1/rules':
      return success({ groups: [] });
    case '/api/v1/alerts':
      return success({ alerts: [] });
  }
  const labelValues = /^\/api\/v1\/label\/([^/]+)\/values$/.exec(path);
  const route = labelValues ? 'label_values' : DATA_ROUTES[path];
  if (!route) throw new QueryError('not_found', `${path} is not served by mqlite's Prometheus API`);
  const params = await readParams(req, url);
  const label = labelValues ? decodeURIComponent(labelValues[1] ?? '') : undefined;
  const r = await deps.run({
    kind: 'api',
    req: { route, params, now: Date.now(), ...(label !== undefined ? { label } : {}) },
  });
  if (r.kind !== 'api') throw new QueryError('internal', 'unexpected answer');
  if (r.cache) deps.hooks.cache(r.cache);
  // Which data answered (raw readings, 5m or 1h rollups): for users and tests, beside the body.
  return {
    status: 200,
    type: 'application/json',
    body: `{"status":"success","data":${r.json}}`,
    ...(r.resolution ? { headers: { 'Mqlite-Resolution': r.resolution } } : {}),
  };
}

/** Query string and, for POST, the form body (body values first, as Go's ParseForm). */
async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const out: Record<string, string[]> = {};
  const add = (sp: URLSearchParams): void => {
    for (const [k, v] of sp) {
      const list = out[k] ?? [];
      list.push(v);
      out[k] = list;
    }
  };
  if (req.method === 'POST') {
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded'))
      throw new QueryError(
        'bad_data',
        `POST needs Content-Type application/x-www-form-urlencoded, got "${type}"`,
      );
    add(new URLSearchParams(await readBody(req)));
  }
  add(url.searchParams);
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new QueryError('bad_data', `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
