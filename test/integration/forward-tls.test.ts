/**
 * Forwarding over TLS, with the server's certificate verified. The machine's PostgreSQL has no
 * TLS, so a TLS-terminating proxy in the test process (helpers/pg-tls-proxy.ts: SSLRequest, 'S',
 * the handshake with a certificate from a throwaway CA, then the plain stream to the real server)
 * stands in for a TLS-enabled server; it refuses plain-text clients, so a row that arrives went
 * through a TLS session.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Forwarder } from '../../src/forward/forwarder.js';
import type { TlsMode } from '../../src/forward/pg-destination.js';
import type { ForwardWorkerInit } from '../../src/forward/protocol.js';
import { type CertFiles, generateCerts } from '../helpers/certs.js';
import { configArgs, logsWithMsg } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, runCli, startDaemon } from '../helpers/daemon-process.js';
import { forwardInit } from '../helpers/forward-init.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { PG, type TestSchema, testSchema } from '../helpers/pg-test-schema.js';
import { type PgTlsProxy, startPgTlsProxy } from '../helpers/pg-tls-proxy.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertBuilt } from './sink-fixture.js';

const WORKER = new URL('../../dist/forward/forward-worker.js', import.meta.url);
const BACKLOG = 2000;

/** The server's certificate: issued for 127.0.0.1 and localhost by this CA. */
let pki: CertFiles;
/** A CA that signed nothing the proxy presents. */
let otherPki: CertFiles;

beforeAll(() => {
  pki = generateCerts('mqlite pg test CA');
  otherPki = generateCerts('some other CA');
});
afterAll(() => {
  pki?.cleanup();
  otherPki?.cleanup();
});

let tmp: ReturnType<typeof tmpDir>;
let pg: TestSchema;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeEach(async () => {
  assertBuilt();
  tmp = tmpDir('mqlite-forward-tls-');
  pg = await testSchema();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pg.drop();
  tmp.cleanup();
});

async function proxy(host = '127.0.0.1'): Promise<PgTlsProxy> {
  const p = await startPgTlsProxy({
    cert: readFileSync(pki.serverCert, 'utf8'),
    key: readFileSync(pki.serverKey, 'utf8'),
    target: { host: PG.host, port: PG.port },
    host,
  });
  cleanups.push(() => p.close());
  return p;
}

function backlog(): string {
  const db = join(tmp.dir, 'm.db');
  writeOutbox(db, 1, BACKLOG);
  return db;
}

describe('the daemon forwarding over TLS', () => {
  async function daemon(db: string, p: PgTlsProxy, ca: string): Promise<DaemonProcess> {
    const args = configArgs(tmp.dir, {
      db: { path: db },
      embedded: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      forward: {
        postgres: {
          host: p.host,
          port: p.port,
          database: PG.database,
          user: PG.user,
          schema: pg.name,
          tls: { mode: 'verify-full', ca },
          pollMs: 50,
          retry: { baseMs: 20, capMs: 200 },
        },
      },
    });
    const d = await startDaemon(args);
    cleanups.push(() => d.kill9());
    return d;
  }

  it('with the CA that signed the server certificate: every message arrives, through TLS', async () => {
    const p = await proxy();
    const d = await daemon(backlog(), p, pki.ca);
    await waitFor(
      async () => (await pg.count('messages')) === BACKLOG,
      `${BACKLOG} rows in PostgreSQL`,
      60_000,
    );
    expect(p.sessions).toBeGreaterThanOrEqual(1);
    expect(p.plaintextRefused).toBe(0);
    const text = await d.metrics();
    expect(metricValue(text, 'mqlite_forward_connected')).toBe(1);
    expect(metricValue(text, 'mqlite_forward_errors_total', { stage: 'connect' })).toBe(0);
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('with a CA that did not sign it: a TLS error in the log and the metrics, nothing delivered', async () => {
    const p = await proxy();
    const d = await daemon(backlog(), p, otherPki.ca);
    await waitFor(
      async () => metricValue(await d.metrics(), 'mqlite_forward_errors_total', { stage: 'connect' }) >= 3,
      'three failed connects',
    );
    const failed = logsWithMsg(d, 'forwarding failed: retrying');
    const err = failed[0]?.err as { code?: string; message?: string } | undefined;
    expect(err?.code).toBe('MQLITE_FORWARD_TLS');
    expect(err?.message).toMatch(
      /^TLS to PostgreSQL failed \(tls\.mode verify-full\): the server's certificate is not signed by a CA in forward\.postgres\.tls\.ca/,
    );
    const text = await d.metrics();
    expect(metricValue(text, 'mqlite_forward_connected')).toBe(0);
    expect(metricValue(text, 'mqlite_forwarded_messages_total')).toBe(0);
    // Not even the schema: the connection never got past the handshake.
    expect(p.sessions).toBe(0);
    expect(p.handshakeFailures).toBeGreaterThanOrEqual(3);
    expect(await pg.count('messages')).toBe(0);
    expect(await d.stop()).toBe(0);
  }, 90_000);
});

describe('the server certificate is checked against the host name (verify-full) or only its CA (verify-ca)', () => {
  function init(db: string, p: PgTlsProxy, mode: TlsMode): ForwardWorkerInit {
    return forwardInit(db, pg.name, {
      connection: {
        host: p.host,
        port: p.port,
        database: PG.database,
        user: PG.user,
        tls: { mode, ca: pki.ca },
      },
      batchMessages: 500,
    });
  }

  async function forward(db: string, p: PgTlsProxy, mode: TlsMode) {
    const seen = { delivered: 0, errors: [] as { code: string | undefined; message: string }[] };
    const f = new Forwarder(
      init(db, p, mode),
      {
        onReady: () => undefined,
        onConnected: () => undefined,
        onBatch: (b) => {
          seen.delivered = b.cursor;
        },
        onError: (_stage, e) => {
          seen.errors.push(e);
        },
        onBacklog: () => undefined,
      },
      WORKER,
    );
    await f.start();
    cleanups.push(() => f.stop());
    return { f, seen };
  }

  it('reached as 127.0.0.2, a name the certificate does not list', async () => {
    const db = backlog();
    // 127.0.0.2 is this machine too (all of 127/8 is loopback), but not in the certificate.
    const p = await proxy('127.0.0.2');

    const full = await forward(db, p, 'verify-full');
    await waitFor(() => full.seen.errors.length >= 2, 'two failed connects');
    await full.f.stop();
    expect(full.seen.errors[0]?.code).toBe('MQLITE_FORWARD_TLS');
    expect(full.seen.errors[0]?.message).toMatch(
      /not issued for the host name or address connected to.*ERR_TLS_CERT_ALTNAME_INVALID/,
    );
    expect(full.seen.delivered).toBe(0);
    expect(p.sessions).toBe(0);
    expect(await pg.count('messages')).toBe(0);

    const ca = await forward(db, p, 'verify-ca');
    await waitFor(() => ca.seen.delivered === BACKLOG, 'verify-ca to deliver everything', 60_000);
    expect(ca.seen.errors).toEqual([]);
    expect(await pg.count('messages')).toBe(BACKLOG);
    expect(p.sessions).toBeGreaterThanOrEqual(1);
  }, 90_000);
});

describe('check-config', () => {
  it('shows the TLS settings and hides the password', async () => {
    const args = configArgs(tmp.dir, {
      db: { path: join(tmp.dir, 'm.db') },
      forward: {
        postgres: {
          url: 'postgres://ingest:tls-s3cret@db.example/telemetry',
          tls: { mode: 'verify-full', ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
        },
      },
    });
    const r = await runCli(['check-config', ...args]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verify-full');
    expect(r.stdout).toContain(pki.ca);
    expect(r.stdout).toContain('postgres://ingest:***@db.example/telemetry');
    expect(r.stdout).not.toMatch(/tls-s3cret/);
    // Paths only: the key's content never appears.
    expect(r.stdout).not.toContain(readFileSync(pki.clientKey, 'utf8').split('\n')[1]);
  });

  it('refuses TLS set in the URL, and files given while TLS is off', async () => {
    const args = configArgs(tmp.dir, {
      db: { path: join(tmp.dir, 'm.db') },
      forward: {
        postgres: {
          url: 'postgres://ingest:tls-s3cret@db.example/telemetry?sslmode=verify-full',
          tls: { ca: pki.ca },
        },
      },
    });
    const r = await runCli(['check-config', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /forward\.postgres\.url: expected no sslmode parameter: set TLS with forward\.postgres\.tls\.mode/,
    );
    expect(r.stderr).toMatch(
      /forward\.postgres\.tls\.ca: expected tls\.mode require, verify-ca or verify-full/,
    );
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/tls-s3cret/);
  });
});
