/**
 * A private PostgreSQL cluster whose processes all run under `valgrind --tool=callgrind`, for
 * instruction counts of a backend's work: repeatable to a fraction of a percent on a machine
 * whose CPU times swing with other people's load.
 *
 * How: PostgreSQL on Linux forks its backends from the postmaster without exec, so there is no
 * hook to wrap one backend in valgrind; but valgrind follows fork, so a postmaster started under
 * callgrind gives every backend its own profile, written as `<dir>/callgrind.<pid>` when the
 * backend exits (`%p` is expanded in the child). A bench connects, does its work, reads its
 * backend's pid first (pg_backend_pid()), disconnects, and reads that file's totals. The cluster
 * is initdb'd in a temp directory with the machine's PostgreSQL binaries (PG_BIN, default
 * /usr/lib/postgresql/15/bin) and the database locale of the machine's server (C.UTF-8 here:
 * a collation other than "C", so text comparisons go through strcoll as on a real server),
 * listens on 127.0.0.1 at a free port and on a socket in the temp directory only, and runs with
 * autovacuum off (no other process touches the tables) and fsync off (waits, not instructions).
 * As root, initdb and postgres refuse to run: both are started as the `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface CallgrindCluster {
  readonly connection: pg.ClientConfig;
  /** Instructions (Ir) the backend `pid` executed in its life; waits for it to exit and dump. */
  instructions(pid: number): Promise<number>;
  /** The backend's profile, for callgrind_annotate (kept after stop() only with `keep`). */
  profile(pid: number): string;
  stop(): Promise<void>;
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** uid/gid to run PostgreSQL as: ourselves, or `postgres` when we are root. */
function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `keep`: leave the temp directory (data and profiles) for a look with callgrind_annotate. */
export async function startCallgrindCluster(keep = false, locale = 'C.UTF-8'): Promise<CallgrindCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-pg-callgrind-'));
  const as = owner();
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  execFileSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', `--locale=${locale}`, '-E', 'UTF8'],
    { stdio: 'ignore', ...(as ?? {}) },
  );
  const port = await freePort();
  const postmaster: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${join(dir, 'callgrind.%p')}`,
      '--quiet',
      join(PG_BIN, 'postgres'),
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'autovacuum=off',
      '-c',
      'fsync=off',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(as ?? {}) },
  );
  let log = '';
  postmaster.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => postmaster.once('exit', () => r()));
  const connection: pg.ClientConfig = { host: '127.0.0.1', port, database: 'postgres', user: 'postgres' };

  const stop = async () => {
    if (postmaster.exitCode === null && postmaster.signalCode === null) {
      postmaster.kill('SIGINT'); // fast shutdown: backends end, the postmaster exits
      await Promise.race([exited, sleep(60_000)]);
      if (postmaster.exitCode === null && postmaster.signalCode === null) postmaster.kill('SIGKILL');
    }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };

  // Under callgrind the server takes several seconds to start.
  for (let waited = 0; ; waited += 500) {
    const c = new pg.Client(connection);
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      if (waited > 120_000 || postmaster.exitCode !== null) {
        await stop();
        throw new Error(`the callgrind PostgreSQL did not start: ${String(err)}\n${log}`);
      }
      await sleep(500);
    }
  }

  return {
    connection,
    stop,
    profile: (pid) => join(dir, `callgrind.${pid}`),
    async instructions(pid) {
      const file = join(dir, `callgrind.${pid}`);
      for (let waited = 0; waited < 120_000; waited += 200) {
        if (existsSync(file)) {
          const m = /^totals: (\d+)/m.exec(readFileSync(file, 'utf8'));
          if (m) return Number(m[1]);
        }
        await sleep(200);
      }
      throw new Error(`no callgrind totals for backend ${pid} in ${file}`);
    },
  };
}
