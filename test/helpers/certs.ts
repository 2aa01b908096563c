/**
 * Throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for
 * 127.0.0.1/localhost and a client certificate, all signed by that CA, in a temp dir.
 * P-256 keys: generating them takes milliseconds, where RSA would slow every test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  dir: string;
  /** CA certificate (PEM): what clients and the broker trust. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Removes the directory. Idempotent. */
  cleanup(): void;
}

const OPENSSL_TIMEOUT_MS = 10_000;

export function opensslBinary(): string {
  if (existsSync('/usr/bin/openssl')) return '/usr/bin/openssl';
  throw new Error('this test needs openssl at /usr/bin/openssl (install it: apt-get install openssl)');
}

function run(bin: string, args: string[]): void {
  execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: OPENSSL_TIMEOUT_MS });
}

function newKey(bin: string, path: string): void {
  run(bin, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

/** A leaf certificate for `cn` signed by the CA, with the extensions in `ext` (an x509v3 config). */
function issue(bin: string, dir: string, name: string, cn: string, ext: string, ca: [string, string]) {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  newKey(bin, key);
  run(bin, ['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
  writeFileSync(extFile, ext);
  run(bin, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca[0],
    '-CAkey',
    ca[1],
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Generates a fresh CA and its server and client certificates; `label` names the CA's subject. */
export function generateCerts(label = 'mqlite test CA'): CertFiles {
  const bin = opensslBinary();
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-certs-'));
  let removed = false;
  const cleanup = (): void => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const caKey = join(dir, 'ca.key');
    const ca = join(dir, 'ca.pem');
    newKey(bin, caKey);
    run(bin, [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      '2',
      '-subj',
      `/CN=${label}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      ca,
    ]);
    const server = issue(
      bin,
      dir,
      'server',
      'localhost',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
        'subjectAltName=IP:127.0.0.1,DNS:localhost\n',
      [ca, caKey],
    );
    const client = issue(
      bin,
      dir,
      'client',
      'mqlite-client',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
      [ca, caKey],
    );
    return {
      dir,
      ca,
      serverCert: server.cert,
      serverKey: server.key,
      clientCert: client.cert,
      clientKey: client.key,
      cleanup,
    };
  } catch (err) {
    cleanup();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl failed: ${(err as Error).message}${stderr ? `\n${stderr}` : ''}`, {
      cause: err,
    });
  }
}

/** Mosquitto listener lines serving `certs` over TLS; with requireCertificate clients must present one. */
export function mosquittoTlsLines(certs: CertFiles, requireCertificate = false): string[] {
  return [
    `cafile ${certs.ca}`,
    `certfile ${certs.serverCert}`,
    `keyfile ${certs.serverKey}`,
    `require_certificate ${requireCertificate ? 'true' : 'false'}`,
  ];
}
