/**
 * The status page's routes on the real HTTP server (port 0) with stand-in deps: the access rule
 * of the query API guards the page and its data, static assets are served (gzipped when asked)
 * without credentials, and the dead-letter payload preview is printable.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../src/observe/http-server.js';
import { type StatusSnapshot, statusRoutes } from '../../src/observe/status-routes.js';
import { preview } from '../../src/query/status-data.js';

const snapshot: StatusSnapshot = {
  version: '9.9.9',
  intake: { mode: 'embedded' },
  startedAt: 0,
  readiness: { ready: true, checks: { started: true } },
  counters: {
    received: 3,
    committed: 3,
    queueMessages: 0,
    queueBytes: 0,
    heldAcks: 0,
    deadLetters: 1,
    dropped: 0,
    commitErrors: 0,
    duplicates: 0,
  },
  queueLimits: { messages: 10, bytes: 1024 },
  db: {
    path: '/x.db',
    bytes: 4096,
    walBytes: 0,
    budgetBytes: undefined,
    usedBytes: undefined,
    maxBytes: 0,
    minFree: { percentOfVolume: 5 },
    budgetUnmet: false,
  },
};

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(allowed: (auth: string | undefined) => boolean): Promise<string> {
  server = new HttpServer(
    { host: '127.0.0.1', port: 0, maxConnections: 64 },
    {
      registry: { metrics: async () => '', contentType: 'text/plain' } as never,
      readiness: () => ({ ready: true, checks: {} }),
      routes: statusRoutes({
        snapshot: () => snapshot,
        allowed: async (auth) => allowed(auth),
        read: async (what) => ({ what, devices: [], deadLetters: [] }),
      }),
    },
  );
  await server.start();
  return `http://127.0.0.1:${server.address().port}`;
}

describe('status routes', () => {
  it('ask for credentials on the page and its data when the access rule says so, but not for static code', async () => {
    const base = await serve((auth) => auth === 'Basic b2s6b2s=');
    for (const path of [
      '/',
      '/api/v1/mqlite/status',
      '/api/v1/mqlite/devices',
      '/api/v1/mqlite/sparklines',
      '/api/v1/mqlite/dead_letters',
    ]) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(401);
      expect(r.headers.get('www-authenticate'), path).toContain('Basic');
    }
    const ok = await fetch(`${base}/api/v1/mqlite/status`, { headers: { Authorization: 'Basic b2s6b2s=' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: { version: string } }).data.version).toBe('9.9.9');
    const js = await fetch(`${base}/status/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
  });

  it('serve the page and uPlot gzipped to a client that accepts it, identical once unzipped', async () => {
    const base = await serve(() => true);
    const plain = await fetch(`${base}/status/uPlot.iife.min.js`, {
      headers: { 'Accept-Encoding': 'identity' },
    });
    const plainBody = Buffer.from(await plain.arrayBuffer());
    // node:http's raw view: fetch would unzip it silently.
    const { request } = await import('node:http');
    const gz = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
      request(`${base}/status/uPlot.iife.min.js`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
    expect(gz.enc).toBe('gzip');
    expect(gz.body.length).toBeLessThan(plainBody.length / 2);
    expect(gunzipSync(gz.body).equals(plainBody)).toBe(true);
    const page = await fetch(`${base}/`);
    expect(await page.text()).toContain('/status/uPlot.iife.min.js');
    expect((await fetch(`${base}/status/nothing.js`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
    // '/' is exact: other paths still reach the server's own routes.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('show a bad payload as printable text, cut to a preview', () => {
    expect(preview(Buffer.from([0x7b, 0x00, 0xff, 0x0a]))).toBe('{·\uFFFD·');
    expect(preview('x'.repeat(500))).toHaveLength(121);
    expect(preview(null)).toBe('');
  });
});
