/**
 * How the forwarder reaches PostgreSQL: the connection settings (URL or host, user, a password
 * from the config or a file read at each connect, TLS by libpq's sslmode names) as node-pg's
 * client config, TLS failures as errors that name the setting to look at, and a socket close
 * that cannot hang. pg-destination.ts holds the session; this file only sets it up.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';

export interface PgConnection {
  readonly url?: string | undefined;
  readonly host?: string | undefined;
  readonly port: number;
  readonly database: string;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly passwordFile?: string | undefined;
  readonly tls: {
    readonly mode: TlsMode;
    readonly ca?: string | undefined;
    readonly cert?: string | undefined;
    readonly key?: string | undefined;
  };
}

/** forward.postgres.tls.mode: libpq's sslmode values, less the ones that fall back to plain text. */
export type TlsMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** The session's name and bounds, from the destination's settings. */
export interface SessionSettings {
  /** The source's name: the session's application_name, which finds its backend. */
  readonly source: string;
  readonly connectTimeoutMs: number;
  readonly batchTimeoutMs: number;
}

/** pg.Client has no public destroy; its connection's socket is the one thing that cannot hang. */
export function destroySocket(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** The client's settings: where, who, TLS, and the session's bounds (see each). */
export function clientConfig(c: PgConnection, s: SessionSettings): pg.ClientConfig {
  const password = c.passwordFile !== undefined ? readFileSync(c.passwordFile, 'utf8').trim() : c.password;
  const config: pg.ClientConfig = {
    ...(c.url !== undefined
      ? { connectionString: c.url }
      : { host: c.host, port: c.port, database: c.database }),
    ...(c.user !== undefined ? { user: c.user } : {}),
    ...(password !== undefined ? { password } : {}),
    application_name: `mqlite ${s.source}`,
    connectionTimeoutMillis: s.connectTimeoutMs,
    // Server side too: a statement stuck on a lock ends there, not only in our timer.
    statement_timeout: s.batchTimeoutMs,
    // A transaction abandoned on a silent link (timed out here, the connection dropped) would
    // otherwise stay open at the server until its TCP keepalive notices, hours by default,
    // holding the keys of the rows it inserted: the retry of the same batch waits on them and
    // times out, again and again. No batch of ours sits idle inside its transaction longer than
    // batchTimeoutMs (that bounds the whole transaction), so past it the session is an orphan.
    idle_in_transaction_session_timeout: s.batchTimeoutMs,
    keepAlive: true,
  };
  const ssl = tlsOptions(c.tls);
  if (ssl) config.ssl = ssl;
  return config;
}

/**
 * tls.mode → Node's TLS options (pg sends SSLRequest first, then upgrades the socket with these,
 * naming the host it connected to for the host-name check). Files are read at each connect, so
 * a renewed certificate is picked up by the next one.
 */
export function tlsOptions(t: PgConnection['tls']): ConnectionOptions | undefined {
  if (t.mode === 'disable') return undefined;
  return {
    // require encrypts only: like libpq's sslmode=require without a root certificate.
    rejectUnauthorized: t.mode !== 'require',
    // verify-ca: the chain is checked, the name is not (a server reached under another name).
    ...(t.mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    ...(t.ca !== undefined ? { ca: readFileSync(t.ca, 'utf8') } : {}),
    ...(t.cert !== undefined ? { cert: readFileSync(t.cert, 'utf8') } : {}),
    ...(t.key !== undefined ? { key: readFileSync(t.key, 'utf8') } : {}),
  };
}

/** Node's certificate verification codes (X509_V_ERR_* without the prefix) that mean "not trusted". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * A connect failure that is TLS's, as an MQLITE_FORWARD_TLS error saying which setting to look
 * at; undefined for any other failure (refused, timed out, authentication…).
 */
export function tlsError(mode: TlsMode, err: unknown): MqliteError | undefined {
  if (mode === 'disable') return undefined;
  const code = errorCode(err) ?? '';
  const message = errorMessage(err);
  let why: string;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    why =
      "the server's certificate is not issued for the host name or address connected to (forward.postgres.host or the URL's host; verify-ca skips this check)";
  else if (UNTRUSTED.has(code))
    why = "the server's certificate is not signed by a CA in forward.postgres.tls.ca";
  else if (EXPIRED.has(code)) why = "the server's certificate has expired or is not valid yet";
  else if (message === 'The server does not support SSL connections')
    why = 'the server does not offer TLS (its ssl setting is off)';
  else if (/^ERR_(SSL|TLS)_/.test(code) || /\bSSL\b|\bTLS\b|certificate/i.test(message))
    why = 'the TLS handshake failed';
  else return undefined;
  return new MqliteError(
    'MQLITE_FORWARD_TLS',
    `TLS to PostgreSQL failed (tls.mode ${mode}): ${why}: ${message}${code ? ` (${code})` : ''}`,
    { cause: err },
  );
}
