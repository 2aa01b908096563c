/**
 * Subscriber mode against a Mosquitto the test starts, secured the ways deployments secure
 * it: TLS with a private CA, TLS with client certificates, and a password file. Each case
 * either stores what a separate publisher sent, or keeps the daemon up but not ready and
 * says in its log what to fix.
 *
 * Not repeated here: an unreadable TLS file is a config error naming broker.tls.ca
 * (test/unit/config/load.test.ts), and config errors exit 2 (test/integration/cli.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CertFiles, generateCerts, mosquittoTlsLines } from '../helpers/certs.js';
import { type DaemonProcess, startDaemon } from '../helpers/daemon-process.js';
import { deviceName, payloadFor } from '../helpers/devices.js';
import { type MosquittoOptions, startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { countMessages } from '../helpers/verify-db.js';
import { waitFor } from '../helpers/wait-for.js';

const MESSAGES = 5;
const PASSWORD = 'pw-Zq81-secret';

let pki: CertFiles;
/** A CA that signed nothing the broker presents. */
let otherPki: CertFiles;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(() => {
  pki = generateCerts('mqlite test CA');
  otherPki = generateCerts('some other CA');
});
afterAll(() => {
  pki?.cleanup();
  otherPki?.cleanup();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(opts: MosquittoOptions) {
  const b = await startMosquitto(opts);
  cleanups.push(() => b.stop());
  return b;
}

async function daemon(url: string, extra: string[], env: Record<string, string> = {}) {
  const tmp = tmpDir();
  cleanups.push(tmp.cleanup);
  const db = join(tmp.dir, 'mqlite.db');
  const d = await startDaemon(
    ['--broker', url, '--db', db, '--http', '127.0.0.1:0', '--qos', '1', '--topic', 'devices/#', ...extra],
    env,
  );
  cleanups.push(() => d.kill9());
  return { d, db };
}

/** A separate MQTT.js client publishing MESSAGES QoS 1 messages; resolves when all are PUBACKed. */
async function publish(url: string, opts: IClientOptions): Promise<void> {
  const client: MqttClient = mqtt.connect(url, {
    clientId: 'tls-auth-publisher',
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...opts,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error(`publisher could not connect to ${url}`)));
    });
    const base = Date.now() - 60_000;
    for (let seq = 0; seq < MESSAGES; seq++) {
      await client.publishAsync(`devices/${deviceName(1)}/telemetry`, payloadFor(1, seq, base), { qos: 1 });
    }
  } finally {
    await client.endAsync();
  }
}

/** Waits for every message, stops the daemon cleanly and checks what is in the database. */
async function expectStored(d: DaemonProcess, db: string): Promise<void> {
  await waitFor(() => countMessages(db) >= MESSAGES, `${MESSAGES} rows in messages`);
  expect(await d.stop()).toBe(0);
  const sql = new Database(db, { readonly: true });
  try {
    const seqs = sql
      .prepare("SELECT json_extract(payload, '$.seq') FROM messages WHERE device = ? ORDER BY 1")
      .pluck()
      .all(deviceName(1));
    expect(seqs).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(sql.prepare('SELECT count(*) FROM dead_letters').pluck().get()).toBe(0);
  } finally {
    sql.close();
  }
}

/** The daemon kept running, logged a connection error, and reports itself not ready. */
async function expectNotReady(d: DaemonProcess): Promise<Record<string, unknown>> {
  const find = () => d.logs.find((l) => l.msg === 'broker connection error');
  await waitFor(find, 'a broker connection error in the log');
  const line = find() ?? {};
  const r = await d.readyz();
  expect(r.status).toBe(503);
  expect(JSON.parse(r.body)).toMatchObject({ ready: false, checks: { connected: false } });
  expect(d.proc.exitCode).toBeNull();
  expect(d.proc.signalCode).toBeNull();
  return line;
}

const read = (path: string) => readFileSync(path);

describe('subscriber over TLS (mqtts://)', () => {
  it('verifies the broker with --tls-ca and stores what is published', async () => {
    const b = await broker({ scheme: 'mqtts', listenerLines: mosquittoTlsLines(pki) });
    const { d, db } = await daemon(b.url, ['--tls-ca', pki.ca]);
    await waitFor(async () => (await d.readyz()).status === 200, 'daemon ready (subscribed)');
    await publish(b.url, { ca: read(pki.ca) });
    await expectStored(d, db);
  });

  it('presents --tls-cert/--tls-key when the broker requires a client certificate', async () => {
    const b = await broker({ scheme: 'mqtts', listenerLines: mosquittoTlsLines(pki, true) });
    const { d, db } = await daemon(b.url, [
      '--tls-ca',
      pki.ca,
      '--tls-cert',
      pki.clientCert,
      '--tls-key',
      pki.clientKey,
    ]);
    await waitFor(async () => (await d.readyz()).status === 200, 'daemon ready (subscribed)');
    await publish(b.url, { ca: read(pki.ca), cert: read(pki.clientCert), key: read(pki.clientKey) });
    await expectStored(d, db);
  });

  it('stays up but not ready without a client certificate the broker requires', async () => {
    const b = await broker({ scheme: 'mqtts', listenerLines: mosquittoTlsLines(pki, true) });
    const { d } = await daemon(b.url, ['--tls-ca', pki.ca]);
    const line = await expectNotReady(d);
    // TLS 1.3: the broker's alert arrives after the handshake, as the connection's error.
    expect(String(line.err)).toMatch(/certificate required/i);
  });

  it('refuses a broker certificate from another CA, and says so', async () => {
    const b = await broker({ scheme: 'mqtts', listenerLines: mosquittoTlsLines(pki) });
    const { d } = await daemon(b.url, ['--tls-ca', otherPki.ca]);
    const line = await expectNotReady(d);
    // OpenSSL's verify error: Mosquitto sends its CA along, which our CA file does not hold.
    expect(String(line.err)).toMatch(/self-signed certificate in certificate chain|unable to verify/i);
  });
});

describe('subscriber with username and password', () => {
  it('authenticates with --username and MQLITE_PASSWORD, and never logs the password', async () => {
    const b = await broker({ users: { u: PASSWORD } });
    const { d, db } = await daemon(b.url, ['--username', 'u'], { MQLITE_PASSWORD: PASSWORD });
    await waitFor(async () => (await d.readyz()).status === 200, 'daemon ready (subscribed)');
    await publish(b.url, { username: 'u', password: PASSWORD });
    await expectStored(d, db);
    expect(JSON.stringify(d.logs) + d.stderr.join('')).not.toContain(PASSWORD);
  });

  it('stays up but not ready with a wrong password, and points at MQLITE_PASSWORD', async () => {
    const b = await broker({ users: { u: PASSWORD } });
    const { d } = await daemon(b.url, ['--username', 'u'], { MQLITE_PASSWORD: 'not-the-password' });
    const line = await expectNotReady(d);
    expect(String(line.err)).toMatch(/bad user ?name or password|not authori[sz]ed/i);
    expect(String(line.hint)).toContain('MQLITE_PASSWORD');
  });
});
