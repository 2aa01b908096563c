/**
 * The PostgreSQL adapter: one connection, the schema made on first use, and one transaction per
 * batch that inserts the rows (re-sent ones are skipped by their key) and advances this source's
 * cursor. The cursor is read back from PostgreSQL at every (re)connect, so a batch whose COMMIT
 * was lost with the connection is either in (cursor moved) or not (sent again): exactly once.
 *
 * Every await is bounded by withTimeout; after a timeout or an error the caller drops the
 * connection (drop()) and opens a new one, so a half-done transaction is never continued.
 */
import pg from 'pg';
import { errorCode } from '../lib/errors.js';
import { withTimeout } from '../lib/timeout.js';
import type { CopyEncoding } from './outbox-copy-sql.js';
import { clientConfig, destroySocket, type PgConnection, tlsError } from './pg-connection.js';
import { CHARACTER_NOT_IN_REPERTOIRE, type CopyRows, columnTypesError, copy, copyRows } from './pg-copy.js';
import { messageArrays, readingArrays } from './pg-encode.js';
import * as sql from './pg-schema.js';
import type { OutboxBatch } from './types.js';

// Where they were defined before pg-connection.ts (tests and bench scripts import them from here).
export { type PgConnection, type TlsMode, tlsError, tlsOptions } from './pg-connection.js';

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
    const client = new pg.Client(clientConfig(this.s.connection, this.s));
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

  /** A batch as COPY data for this method, source and readings type (pg-copy.ts). */
  private encode(batch: OutboxBatch): CopyRows {
    return copyRows(batch, this.s.method === 'copy-direct', this.s.source, this.readingsType);
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
