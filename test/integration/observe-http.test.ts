/** HttpServer over real TCP on an ephemeral port, with a real createMetrics registry. */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MqliteError } from '../../src/lib/errors.js';
import { HttpServer, type Readiness } from '../../src/observe/http-server.js';
import { createMetrics } from '../../src/observe/metrics.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function startServer(
  readiness: () => Readiness = () => ({ ready: true, checks: { started: true } }),
  opts: { maxConnections?: number; now?: () => number } = {},
) {
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: '9.9.9' });
  const server = new HttpServer(
    { host: '127.0.0.1', port: 0, maxConnections: opts.maxConnections ?? 128 },
    { registry, readiness, ...(opts.now ? { now: opts.now } : {}) },
  );
  servers.push(server);
  await server.start();
  return { server, metrics, registry, port: server.address().port };
}

describe('HttpServer', () => {
  it('binds an ephemeral port and reports it', async () => {
    const { server, port } = await startServer();
    expect(port).toBeGreaterThan(0);
    expect(server.address()).toEqual({ host: '127.0.0.1', port });
  });

  it('serves /metrics in the Prometheus text format with live values', async () => {
    const { metrics, registry, port } = await startServer();
    metrics.messagesReceived.inc({ qos: '1' }, 5);
    metrics.bindGauges({ queueMessages: () => 17 });
    const r = await call(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(registry.contentType);
    expect(r.body).toContain('mqlite_messages_received_total{qos="1"} 5\n');
    expect(r.body).toContain('mqlite_queue_messages 17\n');
    expect(r.body).toContain('mqlite_build_info{version="9.9.9"');
    expect(r.body).toContain('# TYPE process_resident_memory_bytes gauge');
  });

  it('answers /healthz with ok', async () => {
    const { port } = await startServer();
    const r = await call(port, '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok\n');
  });

  it('answers /readyz 200 when ready and 503 with the failing checks when not', async () => {
    let state: Readiness = { ready: true, checks: { started: true, connected: true } };
    const { port } = await startServer(() => state);
    let r = await call(port, '/readyz');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({
      ready: true,
      failing: [],
      checks: { started: true, connected: true },
    });
    state = { ready: false, checks: { started: true, connected: false, subscribed: false } };
    r = await call(port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({
      ready: false,
      failing: ['connected', 'subscribed'],
      checks: { started: true, connected: false, subscribed: false },
    });
  });

  it('answers /readyz 503 when the readiness function throws', async () => {
    const { port } = await startServer(() => {
      throw new Error('not wired');
    });
    const r = await call(port, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ ready: false, failing: ['readiness'], error: 'not wired' });
  });

  it('ignores the query string, 404s unknown paths and 405s other methods', async () => {
    const { port } = await startServer();
    expect((await call(port, '/healthz?x=1')).status).toBe(200);
    const nf = await call(port, '/');
    expect(nf.status).toBe(404);
    expect(nf.body).toContain('/metrics');
    const post = await call(port, '/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('answers HEAD with headers and no body', async () => {
    const { port } = await startServer();
    const r = await call(port, '/metrics', 'HEAD');
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
    expect(r.body).toBe('');
  });

  it('rejects with MQLITE_HTTP_FAILED naming the address when the port is taken', async () => {
    const { port } = await startServer();
    const second = new HttpServer(
      { host: '127.0.0.1', port, maxConnections: 128 },
      { registry: new Registry(), readiness: () => ({ ready: true, checks: {} }) },
    );
    const err = await second.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MqliteError);
    expect((err as MqliteError).code).toBe('MQLITE_HTTP_FAILED');
    expect((err as MqliteError).message).toBe(
      `127.0.0.1:${port} is already in use: choose another with --http HOST:PORT or set http.listen: off`,
    );
    await second.stop();
  });

  it('stop() closes connections a client holds open, and is idempotent', async () => {
    const { server, port } = await startServer();
    // A client that sent half a request: close() alone would wait for it (headersTimeout).
    const sock = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    await server.stop();
    await closed;
    await server.stop();
    await expect(call(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('stop() before start() resolves', async () => {
    const s = new HttpServer(
      { host: '127.0.0.1', port: 0, maxConnections: 128 },
      { registry: new Registry(), readiness: () => ({ ready: true, checks: {} }) },
    );
    await s.stop();
  });
});

describe('HttpServer under a scrape storm', () => {
  /** Counts renders of the registry: what a storm costs. */
  function countRenders(registry: Registry): () => number {
    let renders = 0;
    const render = registry.metrics.bind(registry);
    registry.metrics = () => {
      renders++;
      return render();
    };
    return () => renders;
  }

  it('answers 400 concurrent scrapes with one render per second of data, the rest 503 with Retry-After, none failing', async () => {
    let clock = 0;
    const { registry, metrics, port } = await startServer(undefined, {
      maxConnections: 1000,
      now: () => clock,
    });
    const renders = countRenders(registry);
    metrics.messagesReceived.inc({ qos: '1' }, 3);
    const replies = await Promise.all(Array.from({ length: 400 }, () => call(port, '/metrics')));
    const ok = replies.filter((r) => r.status === 200);
    const busy = replies.filter((r) => r.status === 503);
    expect(ok.length + busy.length).toBe(400);
    expect(ok.length).toBeGreaterThanOrEqual(16);
    for (const r of ok) expect(r.body).toContain('mqlite_messages_received_total{qos="1"} 3\n');
    for (const r of busy) expect(r.headers['retry-after']).toBe('1');
    expect(renders()).toBe(1);

    // Within the second: the same answer. After it: a fresh render with the new values.
    metrics.messagesReceived.inc({ qos: '1' }, 1);
    expect((await call(port, '/metrics')).body).toContain('mqlite_messages_received_total{qos="1"} 3\n');
    clock += 1000;
    expect((await call(port, '/metrics')).body).toContain('mqlite_messages_received_total{qos="1"} 4\n');
    expect(renders()).toBe(2);
    // Health and readiness are never refused for being busy.
    expect((await call(port, '/healthz')).status).toBe(200);
  });

  it('closes connections beyond http.maxConnections at once, and serves again when they go', async () => {
    const { port } = await startServer(undefined, { maxConnections: 5 });
    const held = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect(port, '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 50)); // the server has accepted all five
    await expect(call(port, '/healthz')).rejects.toThrow(/ECONNRESET|socket hang up/);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await call(port, '/healthz')).status).toBe(200);
  });
});
