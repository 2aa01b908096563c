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
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withTimeout } from '../lib/timeout.js';
import { errorCode } from '../lib/errors.js';
import {
  copyDirectMessages,
  copyDirectReadings,
  copyMessages,
  copyReadings,
  messageArrays,
  readingArrays,
} from './pg-encode.js';
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
    readonly enabled: boolean;
    readonly ca?: string | undefined;
    readonly cert?: string | undefined;
    readonly key?: string | undefined;
    readonly rejectUnauthorized: boolean;
  };
}

export interface PgDestinationSettings {
  readonly connection: PgConnection;
  readonly schema: string;
  readonly source: string;
  readonly connectTimeoutMs: number;
  readonly batchTimeoutMs: number;
  readonly method: ForwardMethod;
}

/**
 * copy: COPY into a session staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING (the
 * default: fastest measured, BENCHMARKS.md "Forwarding"); copy-direct: COPY straight into the
 * tables, falling back to staging for a batch after a unique violation (slower: the ISO time text
 * costs more on both sides than integer ms converted in SQL); unnest: one INSERT … SELECT FROM
 * unnest(arrays) … ON CONFLICT DO NOTHING.
 */
export type ForwardMethod = 'copy' | 'copy-direct' | 'unnest';

export interface WriteResult {
  /** Rows new to PostgreSQL (the rest were there already: a re-send). */
  readonly inserted: number;
}

export class PgDestination {
  private client: pg.Client | undefined;
  private schemaReady = false;
  /** The last direct COPY hit rows already there: the next attempt goes through staging. */
  private stageNext = false;
  private readonly names: sql.Names;

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
    await withTimeout(client.connect(), t, 'connecting to PostgreSQL');
    if (!this.schemaReady) {
      await withTimeout(this.createSchema(client), this.s.batchTimeoutMs, 'creating the PostgreSQL schema');
      this.schemaReady = true;
    }
    if (this.s.method !== 'unnest') {
      await withTimeout(client.query(sql.STAGE_MESSAGES), t, 'creating staging tables');
      await withTimeout(client.query(sql.STAGE_READINGS), t, 'creating staging tables');
    }
    const r = await withTimeout(
      client.query<{ after_id: string }>(sql.readCursor(this.names), [this.s.source]),
      t,
      'reading the forwarding cursor',
    );
    return Number(r.rows[0]?.after_id ?? 0);
  }

  /** One transaction: the batch's rows and the cursor at its last id. */
  async write(batch: OutboxBatch): Promise<WriteResult> {
    const client = this.client;
    if (!client) throw new Error('not connected to PostgreSQL');
    const staged = this.s.method === 'copy' || this.stageNext;
    try {
      const r = await withTimeout(
        this.transaction(client, batch, staged),
        this.s.batchTimeoutMs,
        'forwarding a batch',
      );
      this.stageNext = false;
      return r;
    } catch (err) {
      if (errorCode(err) === sql.UNIQUE_VIOLATION) this.stageNext = true;
      throw err;
    }
  }

  private async transaction(client: pg.Client, batch: OutboxBatch, staged: boolean): Promise<WriteResult> {
    const source = this.s.source;
    // On any failure the caller drops the connection, which rolls the transaction back: no
    // ROLLBACK round trip on a link that may be dead.
    await client.query('BEGIN');
    let inserted: number;
    if (this.s.method === 'copy-direct' && !staged) {
      inserted = await copy(client, sql.copyDirectMessages(this.names), copyDirectMessages(batch, source));
      if (batch.readingsAt.length > 0)
        await copy(client, sql.copyDirectReadings(this.names), copyDirectReadings(batch, source));
    } else if (this.s.method !== 'unnest') {
      await copy(client, sql.COPY_MESSAGES, copyMessages(batch));
      inserted = (await client.query(sql.insertStagedMessages(this.names), [source])).rowCount ?? 0;
      if (batch.readingsAt.length > 0) {
        await copy(client, sql.COPY_READINGS, copyReadings(batch));
        await client.query(sql.insertStagedReadings(this.names), [source]);
      }
    } else {
      const r = await client.query(sql.insertUnnestMessages(this.names), [source, ...messageArrays(batch)]);
      inserted = r.rowCount ?? 0;
      if (batch.readingsAt.length > 0)
        await client.query(sql.insertUnnestReadings(this.names), [source, ...readingArrays(batch)]);
    }
    await client.query(sql.advanceCursor(this.names), [source, batch.lastId, inserted]);
    await client.query('COMMIT');
    return { inserted };
  }

  private async createSchema(client: pg.Client): Promise<void> {
    await client.query('BEGIN');
    // N instances starting at once: one makes the schema, the others wait and find it made.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [sql.lockKey(this.names)]);
    const ts = await client.query(sql.HAS_TIMESCALE);
    for (const stmt of sql.createSchema(this.names, (ts.rowCount ?? 0) > 0)) await client.query(stmt);
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

/** Rows copied. */
async function copy(client: pg.Client, text: string, rows: string): Promise<number> {
  const stream = client.query(copyFrom(text));
  stream.end(Buffer.from(rows));
  await finished(stream);
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
    keepAlive: true,
  };
  if (c.tls.enabled) {
    config.ssl = {
      rejectUnauthorized: c.tls.rejectUnauthorized,
      ...(c.tls.ca !== undefined ? { ca: readFileSync(c.tls.ca, 'utf8') } : {}),
      ...(c.tls.cert !== undefined ? { cert: readFileSync(c.tls.cert, 'utf8') } : {}),
      ...(c.tls.key !== undefined ? { key: readFileSync(c.tls.key, 'utf8') } : {}),
    };
  }
  return config;
}
