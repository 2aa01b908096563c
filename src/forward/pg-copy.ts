/**
 * COPY for the forwarder: a batch's rows as COPY data (text for staging, binary for copy-direct,
 * or framing the tuples SQLite made), streaming them into a COPY, and what PostgreSQL's refusals
 * of them mean (22021: text SQLite encoded that PostgreSQL cannot hold, sent again from rows by
 * pg-destination.ts; 08P01/22P03: tables whose column types were changed).
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';
import { binaryFromTuples, binaryMessages, binaryReadings } from './pg-copy-binary.js';
import { copyMessages, copyReadings } from './pg-encode.js';
import type { ReadingsType } from './pg-schema.js';
import type { OutboxBatch } from './types.js';

/** SQLSTATE of text PostgreSQL cannot hold: bytes that are not UTF-8, or U+0000. */
export const CHARACTER_NOT_IN_REPERTOIRE = '22021';

export interface CopyRows {
  readonly messages: Buffer;
  readonly readings: Buffer | undefined;
}

/**
 * A batch as COPY data: text for staging (copy), binary (copy-direct, `direct`); readings_at only
 * when any. Rows SQLite encoded (batch.binary) are framed as they are, if they were made for this
 * source and readings type.
 */
export function copyRows(
  batch: OutboxBatch,
  direct: boolean,
  source: string,
  readingsType: ReadingsType,
): CopyRows {
  const some = batch.readingsAt.length > 0;
  const b = batch.binary;
  // Rows SQLite encoded for another method, source or readings type cannot be sent as they are;
  // failing makes the loop read the batch again, as this destination now asks.
  if (b && (!direct || b.source !== source || b.readingsType !== readingsType))
    throw new Error('a batch encoded by SQLite for another destination setting reached PostgreSQL');
  if (direct)
    return {
      messages: b ? binaryFromTuples(b.chunks) : binaryMessages(batch, source, readingsType),
      readings: some ? binaryReadings(batch, source) : undefined,
    };
  return {
    messages: Buffer.from(copyMessages(batch)),
    readings: some ? Buffer.from(copyReadings(batch)) : undefined,
  };
}

/**
 * Rows copied. `whileServerWorks`, when given, runs once the rows are on the socket (the write's
 * callback: pg-copy-streams calls it when the socket took them) and the end of the COPY has been
 * queued after them (a tick later), while the server is still inserting; not if the COPY has
 * failed by then (the failure is what this rejects with).
 */
export async function copy(
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

/**
 * A binary field the column's type cannot read (08P01: fewer bytes than the type needs; 22P03:
 * more): the table was altered since mqlite made it. Binary COPY has no conversion to fall back
 * on; text COPY through staging converts in SQL.
 */
export function columnTypesError(schema: string, err: unknown): MqliteError | undefined {
  const code = errorCode(err);
  if (code !== '08P01' && code !== '22P03') return undefined;
  return new MqliteError(
    'MQLITE_FORWARD_COLUMN_TYPES',
    `PostgreSQL rejected the binary rows for ${schema} (${errorMessage(err)}): a column of ${schema}.messages or ${schema}.readings_at no longer has the type mqlite created. Set forward.postgres.method: copy, which converts in SQL`,
    { cause: err },
  );
}
