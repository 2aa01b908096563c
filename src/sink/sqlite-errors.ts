/**
 * Which SQLite failures are about the database (retry the whole batch later) and which are about
 * one row (store the others, dead-letter that one). better-sqlite3 reports extended result codes
 * as strings (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, ...), so match on the primary prefix.
 */
import { errorCode, MqliteError } from '../lib/errors.js';

const TRANSIENT_PRIMARY = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_NOMEM',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_CORRUPT',
] as const;

export function isTransientSqliteCode(code: string | undefined): boolean {
  if (code === undefined) return false;
  return TRANSIENT_PRIMARY.some((p) => code === p || code.startsWith(`${p}_`));
}

/** A row-level error: the batch is redone message by message so that only this one is dead-lettered. */
export function isRowLevelError(err: unknown): boolean {
  return !isTransientSqliteCode(errorCode(err));
}

/** The SQLite code of an error, or a generic one for errors that are not SQLite's. */
export function sqliteCodeOf(err: unknown): string {
  return errorCode(err) ?? 'SQLITE_ERROR';
}

/**
 * How SqliteSink.write fails: an MqliteError like every other, with code
 * MQLITE_SINK_WORKER_FAILED when the worker died, timed out or could not start, else
 * MQLITE_SINK_COMMIT_FAILED; `sqliteCode` says why (SQLITE_BUSY, SQLITE_FULL, ... or the worker
 * code), and labels mqlite_commit_errors_total. `retryable`:
 * the same batch may succeed later, so keep it and retry. Nothing of it was committed, except
 * after a timeout, where the worker may have committed just before it was stopped: the retry then
 * stores it twice unless the decoder gave it an identity (at-least-once, never at-most-once).
 */
export class SinkWriteError extends MqliteError {
  readonly sqliteCode: string;
  readonly retryable: boolean;
  constructor(sqliteCode: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(
      sqliteCode === 'MQLITE_SINK_WORKER_FAILED' ? 'MQLITE_SINK_WORKER_FAILED' : 'MQLITE_SINK_COMMIT_FAILED',
      message,
      options,
    );
    this.name = 'SinkWriteError';
    this.sqliteCode = sqliteCode;
    this.retryable = retryable;
  }
}

/** The label of mqlite_commit_errors_total: the SQLite code when there is one. */
export function commitErrorCode(err: unknown): string {
  if (err instanceof SinkWriteError) return err.sqliteCode;
  return errorCode(err) ?? 'unknown';
}
