/**
 * The status page (`GET /`) and its JSON under the API namespace. The page is static files read
 * once at construction (every asset served from here: an edge gateway may have no internet);
 * the data comes from the query workers (devices, dead letters) and from the daemon's own
 * counters (status). The same access rule as the query API guards the page and its data.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { errorMessage } from '../lib/errors.js';
import type { HttpRoute, Readiness } from './http-server.js';
import type { SummarySnapshot } from './summary.js';

export interface StatusSnapshot {
  readonly version: string;
  /** Where messages come from: mode, and the broker URL (password hidden) or the embedded listener. */
  readonly intake: Record<string, unknown>;
  readonly startedAt: number;
  readonly readiness: Readiness;
  readonly counters: SummarySnapshot;
  readonly queueLimits: { readonly messages: number; readonly bytes: number };
  readonly db: {
    readonly path: string;
    readonly bytes: number;
    readonly walBytes: number;
    /** What the disk budget allows now (db.maxBytes, db.minFreeBytes); undefined: no budget. */
    readonly budgetBytes: number | undefined;
    /** Pages in use, as retention last measured them (what the budget limits); undefined before. */
    readonly usedBytes: number | undefined;
    /** db.maxBytes; 0: no cap. */
    readonly maxBytes: number;
    /** db.minFreeBytes: the free space the volume keeps. */
    readonly minFree: { readonly bytes: number } | { readonly percentOfVolume: number };
    /** Over budget with nothing more that may be purged. */
    readonly budgetUnmet: boolean;
  };
}

/** What the routes need from the query service (src/query/index.ts), as plain functions. */
export interface StatusDeps {
  readonly snapshot: () => StatusSnapshot;
  readonly allowed: (authorization: string | undefined) => Promise<boolean>;
  /** Runs a status read on a query worker; resolves with its JSON-able answer. */
  readonly read: (what: 'devices' | 'sparklines' | 'dead_letters') => Promise<unknown>;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** Compressed once at start: uPlot is 51 KB as is, ~23 KB gzipped. */
  readonly gzip?: Buffer;
}

const PAGE_DIR = 'status-page';
const ASSET_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const PAGE_FILES = ['index.html', 'app.js', 'style.css', 'favicon.svg'];
/** uPlot's files: copied beside the page by the build (scripts/copy-status-assets.mjs), or from node_modules in development. */
const UPLOT_FILES: Record<string, string> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

export function loadAssets(
  dir = join(dirname(fileURLToPath(import.meta.url)), PAGE_DIR),
): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const require = createRequire(import.meta.url);
  const read = (name: string, fallback?: string): void => {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, name));
    } catch (err) {
      if (!fallback) throw err;
      body = readFileSync(require.resolve(fallback));
    }
    const ext = name.slice(name.lastIndexOf('.'));
    out.set(name, { type: ASSET_TYPES[ext] ?? 'application/octet-stream', body, gzip: gzipSync(body) });
  };
  for (const f of PAGE_FILES) read(f);
  for (const [f, fallback] of Object.entries(UPLOT_FILES)) read(f, fallback);
  return out;
}

/**
 * The page's files, or a page saying they are missing (a build by tsc alone): a missing page must
 * not stop the daemon from ingesting.
 */
function assetsOrNotice(): Map<string, Asset> {
  try {
    return loadAssets();
  } catch (err) {
    const body = Buffer.from(
      `the status page's files are missing from this build (${errorMessage(err)}): run npm run build\n`,
    );
    return new Map([['index.html', { type: 'text/plain; charset=utf-8', body }]]);
  }
}

export function statusRoutes(deps: StatusDeps, assets: Map<string, Asset> = assetsOrNotice()): HttpRoute[] {
  const guarded =
    (answer: (req: IncomingMessage) => Promise<Reply>) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        send(req, res, text(405, 'method not allowed\n'));
        return;
      }
      deps
        .allowed(req.headers.authorization)
        .then((ok) => (ok ? answer(req) : text(401, 'Unauthorized\n')))
        .then(
          (r) => send(req, res, r),
          (err: unknown) =>
            send(req, res, json(500, { status: 'error', errorType: 'internal', error: errorMessage(err) })),
        );
    };
  const page = assets.get('index.html') as Asset;
  return [
    { path: '/', handle: guarded(async (req) => ({ status: 200, ...encoded(req, page) })) },
    {
      // Static code and styles, no data: served without credentials so a login prompt comes once, for the page.
      path: '/status/',
      handle: (req, res) => {
        const name = (req.url ?? '').split('?', 1)[0]?.slice('/status/'.length) ?? '';
        const a = assets.get(name);
        if (!a || name === 'index.html') send(req, res, text(404, 'not found\n'));
        else send(req, res, { status: 200, ...encoded(req, a), cache: 'public, max-age=3600' });
      },
    },
    { path: '/api/v1/mqlite/status', handle: guarded(() => status(deps.snapshot())) },
    { path: '/api/v1/mqlite/devices', handle: guarded(async () => success(await deps.read('devices'))) },
    {
      path: '/api/v1/mqlite/sparklines',
      handle: guarded(async () => success(await deps.read('sparklines'))),
    },
    {
      path: '/api/v1/mqlite/dead_letters',
      handle: guarded(async () => success(await deps.read('dead_letters'))),
    },
  ];
}

/** The gzip form when the client takes it (every browser does); `Vary` keeps caches honest. */
function encoded(req: IncomingMessage, a: Asset): Pick<Reply, 'type' | 'body' | 'encoding'> {
  const gzip = a.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  return gzip && a.gzip
    ? { type: a.type, body: a.gzip, encoding: 'gzip' }
    : { type: a.type, body: a.body, encoding: 'identity' };
}

async function status(s: StatusSnapshot): Promise<Reply> {
  return success({ ...s, now: Date.now() });
}

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: Buffer | string;
  readonly cache?: string;
  readonly encoding?: 'gzip' | 'identity';
}

function success(data: unknown): Reply {
  return json(200, { status: 'success', data });
}

function json(status: number, body: unknown): Reply {
  return { status, type: 'application/json', body: JSON.stringify(body) };
}

function text(status: number, body: string): Reply {
  return { status, type: 'text/plain; charset=utf-8', body };
}

function send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
  res.statusCode = r.status;
  res.setHeader('Content-Type', r.type);
  res.setHeader('Content-Length', Buffer.byteLength(r.body));
  res.setHeader('Cache-Control', r.cache ?? 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (r.encoding) res.setHeader('Vary', 'Accept-Encoding');
  if (r.encoding === 'gzip') res.setHeader('Content-Encoding', 'gzip');
  if (r.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="mqlite", charset="UTF-8"');
  res.end(req.method === 'HEAD' ? undefined : r.body);
}
