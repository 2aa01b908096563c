/**
 * The PostgreSQL adapter: one connection, the schema made on first use, and one transaction per
 * batch that inserts the rows (re-sent ones are skipped by their key) and advances this source's
 * cursor. The cursor is read back from PostgreSQL at every (re)connect, so a batch whose COMMIT
 * was lost with the connection is either in (cursor moved) or not (sent again): exactly once.
 *
 * Every await is bounded by withTimeout; after a timeout or an error the caller drops the
 * connection (drop()) and opens a new one, so a half-done transaction is never continued.
 */
import { readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withTimeout } from '../lib/timeout.js';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';
import type { CopyEncoding } from './outbox-copy-sql.js';
import { binaryFromTuples, binaryMessages, binaryReadings } from './pg-copy-binary.js';
import { copyMessages, copyReadings, messageArrays, readingArrays } from './pg-encode.js';
import * as sql from './pg-schema.js';
import type { OutboxBatch } from './types.js';

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

export interface PgDestinationSettings {
  readonly connection: PgConnection;
  readonly schema: string;
  readonly source: string;
  readonly connectTimeoutMs: number;
  readonly batchTimeoutMs: number;
  readonly method: ForwardMethod;
}

/**
 * copy: COPY text into a session staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING;
 * copy-direct: binary COPY straight into the tables (pg-copy-binary.ts), falling back to binary
 * staging for a batch after a unique violation; unnest: one INSERT … SELECT FROM unnest(arrays)
 * … ON CONFLICT DO NOTHING. BENCHMARKS.md "Forwarding" and "Forwarder CPU, stop 20" compare them.
 */
export type ForwardMethod = 'copy' | 'copy-direct' | 'unnest';

export interface WriteResult {
  /** Rows new to PostgreSQL (the rest were there already: a re-send). */
  readonly inserted: number;
}

/** SQLSTATE of text PostgreSQL cannot hold: bytes that are not UTF-8, or U+0000. */
const CHARACTER_NOT_IN_REPERTOIRE = '22021';

export class PgDestination {
  private client: pg.Client | undefined;
  private schemaReady = false;
  /** messages.readings' type, read when the schema was made or found (pg-schema.ts). */
  private readingsType: sql.ReadingsType = 'json';
  /** The last direct COPY hit rows already there: the next attempt goes through staging. */
  private stageNext = false;
  /**
   * PostgreSQL refused the text of SQLite-encoded rows (22021: not UTF-8, or U+0000): the next
   * batches are read as rows and encoded here, where text that is not UTF-8 reads as U+FFFD.
   */
  private rowsNext = false;
  private readonly names: sql.Names;
  /** COPY data made ahead by prepare() (while the server worked on the previous batch). */
  private prepared: ({ batch: OutboxBatch } & CopyRows) | undefined;

  constructor(private readonly s: PgDestinationSettings) {
    this.names = { schema: s.schema };
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects, makes the schema if needed, and returns this source's delivered cursor. */
  async open(): Promise<number> {
    this.drop();
    const client = new pg.Client(clientConfig(this.s));
    // An error between queries (the server went away) arrives here; the next query fails too.
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    this.client = client;
    const t = this.s.connectTimeoutMs;
    try {
      await withTimeout(client.connect(), t, 'connecting to PostgreSQL');
    } catch (err) {
      throw tlsError(this.s.connection.tls.mode, err) ?? err;
    }
    if (!this.schemaReady) {
      await withTimeout(this.createSchema(client), this.s.batchTimeoutMs, 'creating the PostgreSQL schema');
      this.schemaReady = true;
    }
    if (this.s.method === 'copy') {
      await withTimeout(client.query(sql.STAGE_MESSAGES), t, 'creating staging tables');
      await withTimeout(client.query(sql.STAGE_READINGS), t, 'creating staging tables');
    } else if (this.s.method === 'copy-direct') {
      await withTimeout(
        client.query(sql.stageBinaryMessages(this.readingsType)),
        t,
        'creating staging tables',
      );
      await withTimeout(client.query(sql.STAGE_BINARY_READINGS), t, 'creating staging tables');
    }
    const r = await withTimeout(
      client.query<{ after_id: string }>(sql.readCursor(this.names), [this.s.source]),
      t,
      'reading the forwarding cursor',
    );
    return Number(r.rows[0]?.after_id ?? 0);
  }

  /**
   * Encodes a batch for COPY ahead of write(): the loop calls it while the server is busy with
   * the previous batch. Only the newest is kept; write() of another batch ignores it.
   */
  prepare(batch: OutboxBatch): void {
    if (this.s.method === 'unnest') return;
    this.prepared = { batch, ...this.encode(batch) };
  }

  private rows(batch: OutboxBatch): CopyRows {
    const p = this.prepared;
    this.prepared = undefined;
    return p?.batch === batch ? p : this.encode(batch);
  }

  /**
   * copy-direct: SQLite may encode the messages (outbox-copy-sql.ts) for this source and readings
   * type, once the schema is known; not after PostgreSQL refused such rows, until a batch is in.
   */
  copyEncoding(): CopyEncoding | undefined {
    if (this.s.method !== 'copy-direct' || !this.schemaReady || this.rowsNext) return undefined;
    return { source: this.s.source, readingsType: this.readingsType };
  }

  /** A batch as COPY data: text for staging (copy), binary (copy-direct); readings_at only when any. */
  private encode(batch: OutboxBatch): CopyRows {
    const some = batch.readingsAt.length > 0;
    const b = batch.binary;
    // Rows SQLite encoded for another method, source or readings type cannot be sent as they are;
    // failing makes the loop read the batch again, as this destination now asks.
    if (
      b &&
      (this.s.method !== 'copy-direct' || b.source !== this.s.source || b.readingsType !== this.readingsType)
    )
      throw new Error('a batch encoded by SQLite for another destination setting reached PostgreSQL');
    if (this.s.method === 'copy-direct')
      return {
        messages: b ? binaryFromTuples(b.chunks) : binaryMessages(batch, this.s.source, this.readingsType),
        readings: some ? binaryReadings(batch, this.s.source) : undefined,
      };
    return {
      messages: Buffer.from(copyMessages(batch)),
      readings: some ? Buffer.from(copyReadings(batch)) : undefined,
    };
  }

  /** One transaction: the batch's rows and the cursor at its last id. */
  async write(batch: OutboxBatch, whileServerWorks?: () => void): Promise<WriteResult> {
    const client = this.client;
    if (!client) throw new Error('not connected to PostgreSQL');
    const staged = this.s.method === 'copy' || this.stageNext;
    try {
      const r = await withTimeout(
        this.transaction(client, batch, staged, whileServerWorks),
        this.s.batchTimeoutMs,
        'forwarding a batch',
      );
      this.stageNext = false;
      this.rowsNext = false;
      return r;
    } catch (err) {
      const code = errorCode(err);
      if (code === sql.UNIQUE_VIOLATION) this.stageNext = true;
      if (code === CHARACTER_NOT_IN_REPERTOIRE && batch.binary) this.rowsNext = true;
      throw err;
    }
  }

  private async transaction(
    client: pg.Client,
    batch: OutboxBatch,
    staged: boolean,
    whileServerWorks: (() => void) | undefined,
  ): Promise<WriteResult> {
    const source = this.s.source;
    // On any failure the caller drops the connection, which rolls the transaction back: no
    // ROLLBACK round trip on a link that may be dead.
    await client.query('BEGIN');
    let inserted: number;
    if (this.s.method === 'copy-direct') {
      const rows = this.rows(batch);
      if (!staged) {
        // The server parses and inserts the rows as they arrive: the local side prepares the next
        // batch once the last COPY's data is on the socket, not after the server has finished.
        const last = rows.readings === undefined;
        try {
          inserted = await copy(
            client,
            sql.copyBinaryMessages(this.names),
            rows.messages,
            last ? whileServerWorks : undefined,
          );
          if (rows.readings)
            await copy(client, sql.copyBinaryReadings(this.names), rows.readings, whileServerWorks);
        } catch (err) {
          throw columnTypesError(this.names.schema, err) ?? err;
        }
      } else {
        await copy(client, sql.COPY_BINARY_STAGE_MESSAGES, rows.messages);
        if (rows.readings) await copy(client, sql.COPY_BINARY_STAGE_READINGS, rows.readings);
        const insertingMessages = client.query(sql.insertBinaryStagedMessages(this.names));
        whileServerWorks?.();
        inserted = (await insertingMessages).rowCount ?? 0;
        if (rows.readings) await client.query(sql.insertBinaryStagedReadings(this.names));
      }
    } else if (this.s.method === 'copy') {
      const rows = this.rows(batch);
      await copy(client, sql.COPY_MESSAGES, rows.messages);
      if (rows.readings) await copy(client, sql.COPY_READINGS, rows.readings);
      // The INSERT … SELECT (check the readings' JSON, both indexes) and the COMMIT that follows
      // are the server's longest part, and the query text is already on the socket when
      // client.query returns: the local side uses that time, with nothing of its own to send.
      const insertingMessages = client.query(sql.insertStagedMessages(this.names, this.readingsType), [
        source,
      ]);
      whileServerWorks?.();
      inserted = (await insertingMessages).rowCount ?? 0;
      if (rows.readings) await client.query(sql.insertStagedReadings(this.names), [source]);
    } else {
      const insertingMessages = client.query(sql.insertUnnestMessages(this.names, this.readingsType), [
        source,
        ...messageArrays(batch),
      ]);
      whileServerWorks?.();
      inserted = (await insertingMessages).rowCount ?? 0;
      if (batch.readingsAt.length > 0)
        await client.query(sql.insertUnnestReadings(this.names), [source, ...readingArrays(batch)]);
    }
    await client.query(sql.advanceCursor(this.names), [source, batch.lastId, inserted]);
    // A durable commit, on purpose. synchronous_commit = off would still lose rows and cursor
    // together (one transaction), so PostgreSQL alone stays exactly once; but the cursor is
    // mirrored into purge_protect once this returns, and retention may then purge rows whose
    // commit a server crash loses: gone on both sides. Live, a commit comes every ~10k rows, so
    // there is no CPU to win (BENCHMARKS.md "Forwarding live, fwdpg branch").
    await client.query('COMMIT');
    return { inserted };
  }

  private async createSchema(client: pg.Client): Promise<void> {
    await client.query('BEGIN');
    // N instances starting at once: one makes the schema, the others wait and find it made.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sql.lockKey(this.names)]);
    const ts = await client.query(sql.HAS_TIMESCALE);
    const table = `${this.names.schema}.messages`;
    const made = await client.query<{ made: boolean }>(sql.MESSAGES_MADE, [table]);
    for (const stmt of sql.createSchema(this.names, (ts.rowCount ?? 0) > 0, made.rows[0]?.made === true))
      await client.query(stmt);
    // A schema made by an earlier version keeps its jsonb readings: rows are encoded for it.
    const found = await client.query<{ type: string }>(sql.READINGS_TYPE, [table]);
    this.readingsType = sql.readingsType(found.rows[0]?.type);
    await client.query(sql.readingsView(this.names, this.readingsType));
    await client.query('COMMIT');
  }

  /** Closes the connection now, without waiting for the server (it may be unreachable). */
  drop(): void {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // Not end(): it waits for the server's goodbye, which a dead link never sends. The server
    // sees the reset (or its keepalive does) and rolls back an open transaction.
    destroySocket(c);
  }

  /** A polite close: the server ends the session at once instead of noticing a reset. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    try {
      await withTimeout(c.end(), this.s.connectTimeoutMs, 'closing the PostgreSQL connection');
    } catch {
      destroySocket(c);
    }
  }
}

/** pg.Client has no public destroy; its connection's socket is the one thing that cannot hang. */
function destroySocket(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * A binary field the column's type cannot read (08P01: fewer bytes than the type needs; 22P03:
 * more): the table was altered since mqlite made it. Binary COPY has no conversion to fall back
 * on; text COPY through staging converts in SQL.
 */
function columnTypesError(schema: string, err: unknown): MqliteError | undefined {
  const code = errorCode(err);
  if (code !== '08P01' && code !== '22P03') return undefined;
  return new MqliteError(
    'MQLITE_FORWARD_COLUMN_TYPES',
    `PostgreSQL rejected the binary rows for ${schema} (${errorMessage(err)}): a column of ${schema}.messages or ${schema}.readings_at no longer has the type mqlite created. Set forward.postgres.method: copy, which converts in SQL`,
    { cause: err },
  );
}

interface CopyRows {
  readonly messages: Buffer;
  readonly readings: Buffer | undefined;
}

/**
 * Rows copied. `whileServerWorks`, when given, runs once the rows are on the socket (the write's
 * callback: pg-copy-streams calls it when the socket took them) and the end of the COPY has been
 * queued after them (a tick later), while the server is still inserting; not if the COPY has
 * failed by then (the failure is what this rejects with).
 */
async function copy(
  client: pg.Client,
  text: string,
  rows: Buffer,
  whileServerWorks?: () => void,
): Promise<number> {
  const stream = client.query(copyFrom(text));
  const sent = new Promise<void>((resolve) => stream.write(rows, () => resolve()));
  stream.end();
  const done = finished(stream);
  if (whileServerWorks) {
    await Promise.race([sent.then(() => new Promise<void>((r) => setImmediate(r))), done]);
    whileServerWorks();
  }
  await done;
  return stream.rowCount;
}

function clientConfig(s: PgDestinationSettings): pg.ClientConfig {
  const c = s.connection;
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
