/**
 * `mqlite purge` and `mqlite vacuum`: retention by hand, on the operator's own connection. Safe
 * while the daemon runs: every step is one small IMMEDIATE transaction (busy_timeout waits for the
 * daemon's batch to commit), and between steps the command pauses at least as long as the step
 * took, so the daemon's writer, waiting in its busy handler, gets the lock before the next step.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Config } from './config/index.js';
import { volumeOf } from './daemon-retention.js';
import { MqliteError } from './lib/errors.js';
import type { MaintenanceOp, StepResult } from './sink/purge-types.js';
import { SqlitePurge } from './sink/sqlite-purge.js';

/** Pause between steps: at least this, so a writer in its busy handler (it sleeps 1..100 ms) wins. */
const MIN_PAUSE_MS = 20;

export type PurgeTier = 'raw' | 'deadLetters' | 'rollup5m' | 'rollup1h';

export interface Progress {
  /** Overwrites the current line on a terminal; nothing otherwise. */
  update(text: string): void;
  /** A final line, always printed. */
  done(text: string): void;
}

export function terminalProgress(out: NodeJS.WriteStream = process.stderr): Progress {
  return {
    update: (text) => {
      if (out.isTTY) out.write(`\r\x1b[2K${text}`);
    },
    done: (text) => {
      if (out.isTTY) out.write('\r\x1b[2K');
      process.stdout.write(`${text}\n`);
    },
  };
}

function open(c: Config): Database.Database {
  try {
    // fileMustExist: purging a database that is not there is a typo, not a request to create one.
    const db = new Database(c.db.path, { fileMustExist: true, timeout: c.db.busyTimeoutMs });
    return db;
  } catch (err) {
    throw new MqliteError('MQLITE_DB_OPEN_FAILED', `cannot open database ${c.db.path}: ${String(err)}`, {
      cause: err,
    });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/** Deletes rows of one tier older than `olderThanMs` (from now), in chunks; returns rows deleted. */
export async function purgeCommand(
  c: Config,
  opts: { olderThanMs: number; tier: PurgeTier; now?: number },
  progress: Progress,
): Promise<number> {
  const db = open(c);
  try {
    const purge = new SqlitePurge(db);
    const beforeTs = (opts.now ?? Date.now()) - opts.olderThanMs;
    const maxRows = c.retention.chunkRows;
    let rows = 0;
    let bytes = 0;
    let fromId: number | undefined;
    for (;;) {
      const op: MaintenanceOp =
        opts.tier === 'raw'
          ? { kind: 'raw-older', beforeTs, maxRows, ...(fromId === undefined ? {} : { fromId }) }
          : opts.tier === 'deadLetters'
            ? { kind: 'dead-letters-older', beforeTs, maxRows, ...(fromId === undefined ? {} : { fromId }) }
            : { kind: 'tier-older', tier: opts.tier, beforeTs, maxRows };
      const r = purge.run(op);
      if (r.kind !== 'step') break;
      const s: StepResult = r.step;
      rows += s.rows;
      bytes += s.bytes;
      progress.update(`purge ${opts.tier}: ${rows} rows, ${mb(bytes)} freed`);
      if (!s.more) break;
      fromId = s.nextId ?? undefined;
      await sleep(Math.max(MIN_PAUSE_MS, 2 * s.seconds * 1000));
    }
    const stats = purge.stats();
    progress.done(
      `purged ${rows} ${opts.tier} rows older than ${new Date(beforeTs).toISOString()} (${mb(bytes)} of pages freed; ${mb(stats.freelistCount * stats.pageSize)} free in the file: run \`mqlite vacuum\` to give it back)`,
    );
    return rows;
  } finally {
    db.close();
  }
}

/**
 * Gives free pages back to the file system. Incremental (default): PRAGMA incremental_vacuum in
 * steps, safe beside the daemon. --full: a VACUUM that also switches an old database to incremental
 * auto-vacuum; it rewrites the whole file, needs up to its size again free, and blocks the daemon's
 * commits for its duration (they retry: nothing is lost, acknowledgements wait).
 */
export async function vacuumCommand(
  c: Config,
  opts: { full: boolean; pages: number },
  progress: Progress,
): Promise<void> {
  const db = open(c);
  try {
    const purge = new SqlitePurge(db);
    const before = purge.stats();
    if (opts.full) {
      const size = statSync(c.db.path).size;
      const vol = await volumeOf(c.db.path);
      if (vol.freeBytes < size) {
        throw new MqliteError(
          'MQLITE_USAGE',
          `vacuum --full needs up to ${mb(size)} free next to ${c.db.path}; the volume has ${mb(vol.freeBytes)}. Free space first, or run \`mqlite vacuum\` (incremental)`,
        );
      }
      progress.update('vacuum --full: rewriting the database (the daemon waits for it)…');
      db.pragma('auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
      const after = purge.stats();
      progress.done(
        `vacuumed: ${mb(before.pageCount * before.pageSize)} → ${mb(after.pageCount * after.pageSize)}; auto_vacuum is now incremental`,
      );
      return;
    }
    if (!before.incremental) {
      progress.done(
        `${c.db.path} was created before incremental auto-vacuum: its ${mb(before.freelistCount * before.pageSize)} of free pages are reused by new rows but cannot be given back step by step. \`mqlite vacuum --full\` converts it (needs its size free, blocks writes while it runs).`,
      );
      return;
    }
    let freed = 0;
    for (;;) {
      const r = purge.run({ kind: 'vacuum', pages: opts.pages });
      if (r.kind !== 'step') break;
      freed += r.step.bytes;
      progress.update(`vacuum: ${mb(freed)} given back`);
      if (!r.step.more) break;
      await sleep(Math.max(MIN_PAUSE_MS, 2 * r.step.seconds * 1000));
    }
    // The file shrinks when the WAL is checkpointed; PASSIVE never waits for the daemon's readers.
    db.pragma('wal_checkpoint(PASSIVE)');
    progress.done(`vacuum: ${mb(freed)} given back to the file system`);
  } finally {
    db.close();
  }
}
