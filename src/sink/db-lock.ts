/**
 * One daemon per database. Two daemons on one file share the default client id (it is derived
 * from the host and the path), so each one's CONNECT takes the other's session over and they knock
 * each other off the broker forever. The second one must refuse to start and name the first.
 *
 * The lock is a file beside the database, created with O_EXCL, holding who took it. A crash
 * (kill -9) cannot remove it, so a lock is stale, and taken over, when its holder is gone: on the
 * same host the pid is checked (with the process start time from /proc, so a reused pid does not
 * count as alive, and the boot id, so a reboot frees it); on another host (a shared folder, a
 * recreated container with a new hostname) the holder refreshes the file's mtime every
 * HEARTBEAT_MS and the lock is stale after STALE_AFTER_MS without a refresh.
 */
import { readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { errorCode, errorMessage, MqliteError } from '../lib/errors.js';

/** How often the holder proves it is alive (mtime of the lock file). */
const HEARTBEAT_MS = 10_000;
/** Three missed heartbeats: the holder on another host is gone. */
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
/** An empty lock file younger than this belongs to a process between create and write. */
const UNWRITTEN_GRACE_MS = 2000;

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  /** Linux: /proc/<pid>/stat field 22 and the boot id, which identify the process exactly. */
  readonly procStart?: string;
  readonly bootId?: string;
}

export interface LockDeps {
  readonly now?: () => number;
  /** Reported once if the heartbeat cannot touch the file (deleted, read-only). */
  readonly onHeartbeatError?: (err: unknown) => void;
}

export class DbLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    private readonly holder: LockHolder,
  ) {}

  /** Takes the lock on `dbPath` (file `<dbPath>.lock`) or throws MQLITE_DB_LOCKED naming the holder. */
  static acquire(dbPath: string, deps: LockDeps = {}): DbLock {
    const path = `${dbPath}.lock`;
    const me = currentHolder();
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, `${JSON.stringify(me)}\n`, { flag: 'wx', mode: 0o644 });
        const lock = new DbLock(path, me);
        lock.startHeartbeat(deps.onHeartbeatError);
        return lock;
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') {
          throw new MqliteError(
            'MQLITE_DB_OPEN_FAILED',
            `cannot create the lock file ${path}: ${errorMessage(err)}`,
            { cause: err },
          );
        }
      }
      const found = readHolder(path);
      const ageMs = (deps.now ?? Date.now)() - mtimeMs(path);
      if (found === undefined && ageMs < UNWRITTEN_GRACE_MS) {
        throw new MqliteError('MQLITE_DB_LOCKED', `${dbPath} is being locked by another process (${path})`);
      }
      if (found !== undefined && !isStale(found, ageMs)) {
        throw new MqliteError(
          'MQLITE_DB_LOCKED',
          `${dbPath} is in use by another mqlite (pid ${found.pid} on ${found.host}, since ${found.since}). ` +
            'Two daemons on one database take each other off the broker (same client id). Stop that ' +
            `one, or use another --db. If it is gone, ${path} expires ${STALE_AFTER_MS / 1000} s after its last update.`,
        );
      }
      // Stale (or unreadable: a crash between create and write): take it over.
      try {
        unlinkSync(path);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }
    throw new MqliteError('MQLITE_DB_LOCKED', `${path}: another process keeps taking the lock`);
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    const found = readHolder(this.path);
    if (found?.pid === this.holder.pid && found.host === this.holder.host) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }

  private startHeartbeat(onError: ((err: unknown) => void) | undefined): void {
    let reported = false;
    this.timer = setInterval(() => {
      const t = new Date();
      try {
        utimesSync(this.path, t, t);
      } catch (err) {
        if (!reported) onError?.(err);
        reported = true;
      }
    }, HEARTBEAT_MS);
    this.timer.unref();
  }
}

function currentHolder(): LockHolder {
  const procStart = procStartOf(process.pid);
  const bootId = readBootId();
  return {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    ...(procStart === undefined ? {} : { procStart }),
    ...(bootId === undefined ? {} : { bootId }),
  };
}

/** Whether the lock's holder is gone. Exported for the unit tests. */
export function isStale(h: LockHolder, ageMs: number, me: LockHolder = currentHolder()): boolean {
  if (h.host !== me.host) return ageMs > STALE_AFTER_MS;
  if (h.bootId !== undefined && me.bootId !== undefined && h.bootId !== me.bootId) return true;
  if (h.pid === me.pid) return h.procStart !== me.procStart;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: the process exists under another user, so it is alive.
    if (errorCode(err) === 'ESRCH') return true;
  }
  const now = procStartOf(h.pid);
  return h.procStart !== undefined && now !== undefined && now !== h.procStart;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof v !== 'object' || v === null) return undefined;
    const r = v as Record<string, unknown>;
    if (typeof r.pid !== 'number' || typeof r.host !== 'string') return undefined;
    const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
    const procStart = str(r.procStart);
    const bootId = str(r.bootId);
    return {
      pid: r.pid,
      host: r.host,
      since: str(r.since) ?? '?',
      ...(procStart === undefined ? {} : { procStart }),
      ...(bootId === undefined ? {} : { bootId }),
    };
  } catch {
    return undefined;
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Start time of a live process in clock ticks since boot (proc(5), /proc/pid/stat field 22);
 * 'gone' for a zombie (state Z or X: killed, not yet reaped, still answers kill(pid, 0)).
 */
function procStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return 'gone';
    return fields[19];
  } catch {
    return undefined;
  }
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
