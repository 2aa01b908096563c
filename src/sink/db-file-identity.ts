/**
 * Is the file SQLite writes still the file at its path? An open connection keeps writing to its
 * inode after the file is deleted, replaced (`mv other.db mqlite.db`) or moved: every commit
 * "succeeds" into an inode nobody will ever open again, and acknowledging those messages loses
 * them silently (probed: 20,379 acknowledged messages went into an unlinked database). A stat of
 * the database, its -wal and its -shm after each commit, compared with (dev, ino) recorded at
 * open, catches it before the batch's acks are released: a few µs per batch.
 *
 * The -wal matters as much as the database: committed pages live there until a checkpoint, and a
 * deleted -wal means a crash loses them. A vanished mount shows as a stat error (ENOENT, EIO,
 * ENOTCONN, ESTALE): same verdict.
 */
import { statSync } from 'node:fs';
import { errorCode, errorMessage } from '../lib/errors.js';

/** Stable code of the error a batch fails with when the file moved under the connection. */
export const DB_FILE_REPLACED = 'MQLITE_DB_FILE_REPLACED';

const SUFFIXES = ['', '-wal', '-shm'] as const;

interface FileId {
  readonly dev: number;
  readonly ino: number;
}

export class DbFileIdentity {
  /** undefined: the file did not exist yet when last looked at (SQLite creates -wal/-shm lazily). */
  private readonly ids = new Map<string, FileId | undefined>();

  private constructor(private readonly path: string) {}

  /** Records what is at `path` (and its -wal, -shm) now: call right after opening the database. */
  static capture(path: string): DbFileIdentity {
    const identity = new DbFileIdentity(path);
    for (const s of SUFFIXES) identity.ids.set(s, statId(`${path}${s}`));
    return identity;
  }

  /**
   * undefined while the connection's files are still the ones at the path; otherwise what
   * changed, for the log. A file that appears for the first time is recorded, not a change.
   */
  check(): string | undefined {
    for (const s of SUFFIXES) {
      const file = `${this.path}${s}`;
      const was = this.ids.get(s);
      let now: FileId | undefined;
      try {
        now = statId(file);
      } catch (err) {
        return `${file} cannot be checked (${errorMessage(err)}): its file system may be gone`;
      }
      if (was === undefined) {
        this.ids.set(s, now);
        continue;
      }
      if (now === undefined) return `${file} was deleted while the database was open`;
      if (now.dev !== was.dev || now.ino !== was.ino) {
        return `${file} was replaced or moved while the database was open (another file is at its path now)`;
      }
    }
    return undefined;
  }
}

/** (dev, ino) of a file, undefined if it does not exist; other stat errors throw. */
function statId(file: string): FileId | undefined {
  try {
    const st = statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
