/**
 * CPU of the PostgreSQL backend serving mqlite's forwarder, for the benches that forward to the
 * local server (bench/forward.ts, bench/forward-live.ts). The forwarder names its connection
 * `mqlite <source>` (pg-destination.ts), so each bench gives its run a source of its own.
 */
import type pg from 'pg';
import { cpuSeconds } from './proc-stats.js';

/**
 * CPU seconds so far (user + system, /proc) of the backends serving `source`: all the
 * forwarder's work on the server, as long as it has not reconnected (an old backend takes its CPU
 * with it). NaN when none is found or readable: a server on another host or in a container.
 */
export async function forwarderBackendCpu(client: pg.Client, source: string): Promise<number> {
  const r = await client.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
    [`mqlite ${source}`],
  );
  let total = 0;
  let read = 0;
  for (const { pid } of r.rows) {
    try {
      total += cpuSeconds(pid);
      read++;
    } catch {
      // Gone, or not a process of this machine.
    }
  }
  return read > 0 ? total : Number.NaN;
}
