/**
 * `npm run build && node --import tsx bench/sink-worker.ts [--messages N] [--batch N]`: the daemon's
 * sink as it runs (SqliteSink: pack on the main thread, transfer, decode + store + commit in the worker
 * thread, the daemon's decoder with the bench config), without a broker. Reports the process's CPU
 * per message split by thread (main, the worker, V8's helper threads: GC), so a change to the worker
 * or its heap settings shows where it moves CPU. Batches of the size the live bench sees (~500).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { decodeSettings, sinkSettings } from '../src/daemon-settings.js';
import { SqliteSink } from '../src/sink/sqlite-sink.js';
import { cpuSecondsByThread, diffThreads } from './lib/proc-stats.js';
import { benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '500' },
    devices: { type: 'string', default: '100' },
  },
});
const N = Number(values.messages);
const BATCH = Number(values.batch);
const DEVICES = Number(values.devices);

const dir = mkdtempSync(join(tmpdir(), 'mqlite-sink-worker-'));
try {
  const file = join(dir, 'mqlite.yaml');
  writeFileSync(
    file,
    "subscribe:\n  formats:\n    - filter: 'bench/#'\n      idField: seq\n      format: json\n",
  );
  const db = join(dir, 'w.db');
  const config = loadConfig({ file, env: {}, flags: { db } });
  const sink = new SqliteSink(
    sinkSettings(config, decodeSettings(config), { ackOnReceipt: false }),
    new URL('../dist/worker.js', import.meta.url),
  );
  await sink.start();
  const t0 = Date.now();
  const batches = [];
  for (let at = 0; at < N; at += BATCH) {
    const msgs = [];
    for (let k = at; k < Math.min(N, at + BATCH); k++) {
      msgs.push(benchMessage(k % DEVICES, Math.floor(k / DEVICES), t0 + Math.floor(k / 20)));
    }
    batches.push(msgs);
  }
  const th0 = cpuSecondsByThread(process.pid);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  let stored = 0;
  // Per batch: the writer's own time (decode + transaction + commit, and any checkpoint the commit
  // ran), the round trip the main thread waits for, and the WAL file's size (its peak is the disk
  // the WAL takes between checkpoints).
  const commitMs: number[] = [];
  const roundTripMs: number[] = [];
  let walPeak = 0;
  for (const b of batches) {
    const r0 = performance.now();
    const r = await sink.write(b);
    roundTripMs.push(performance.now() - r0);
    commitMs.push(r.commitSeconds * 1000);
    stored += r.stored;
    walPeak = Math.max(walPeak, statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  }
  const wall = performance.now() - w0;
  const c = process.cpuUsage(c0);
  const threads = diffThreads(th0, cpuSecondsByThread(process.pid));
  await sink.stop();
  const per = (s: number) => Math.round(((s * 1e6) / stored) * 10) / 10;
  // src/worker.ts names the SQLite thread; the rest are V8's and libuv's helpers.
  const helpers = Object.entries(threads).filter(([k]) => k !== 'main' && k !== 'mqlite-sqlite');
  const pct = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0) * 100) / 100;
  };
  console.log(
    JSON.stringify({
      stored,
      batch: BATCH,
      wallUsPerMsg: per(wall / 1000),
      cpuUsPerMsg: per((c.user + c.system) / 1e6),
      mainUsPerMsg: per(threads.main ?? 0),
      workerUsPerMsg: per(threads['mqlite-sqlite'] ?? 0),
      commitMsP50: pct(commitMs, 0.5),
      commitMsP99: pct(commitMs, 0.99),
      commitMsMax: pct(commitMs, 1),
      roundTripMsP99: pct(roundTripMs, 0.99),
      walPeakMB: Math.round(walPeak / 1e5) / 10,
      otherThreadsUsPerMsg: per(helpers.reduce((a, [, v]) => a + v, 0)),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
