/**
 * `tsx bench/store-write.ts [--store path/to/store.ts] [--messages N] [--cpu-prof]`: the SQLite side
 * alone (SinkStore.writeBatch: decode + insert + latest/rollups + commit), no broker, no worker thread,
 * on the bench payload at live density (100 devices, 40k msg/s of payload time). Reports wall and CPU
 * µs per message and bytes on disk per message. `--store` points at another checkout's store.ts to
 * compare schema versions on the same machine in the same minute.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { packBatch } from '../src/sink/protocol.js';
import type { DecodeFn } from '../src/sink/types.js';
import { benchDecode as minimalDecode, benchMessage } from './lib/sink-input.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: resolve('src/sink/store.ts') },
    messages: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '5000' },
    devices: { type: 'string', default: '100' },
    // The daemon's decoder with the bench's config (idField: seq), instead of the minimal one below.
    'real-decoder': { type: 'boolean', default: false },
  },
});
const N = Number(values.messages);
const BATCH = Number(values.batch);
const DEVICES = Number(values.devices);

async function realDecoder(): Promise<DecodeFn> {
  const { loadConfig } = await import('../src/config/index.js');
  const { decodeSettings } = await import('../src/daemon-settings.js');
  const { createDecoder } = await import('../src/decode/decoder.js');
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-store-write-cfg-'));
  const file = join(dir, 'mqlite.yaml');
  writeFileSync(
    file,
    "subscribe:\n  formats:\n    - filter: 'bench/#'\n      idField: seq\n      format: json\n",
  );
  const config = loadConfig({ file, env: {}, flags: {} });
  rmSync(dir, { recursive: true, force: true });
  return createDecoder(decodeSettings(config)) as DecodeFn;
}

const decode = values['real-decoder'] ? await realDecoder() : minimalDecode;

const { SinkStore } = (await import(
  resolve(values.store as string)
)) as typeof import('../src/sink/store.js');
const dir = mkdtempSync(join(tmpdir(), 'mqlite-store-write-'));
try {
  const path = join(dir, 'w.db');
  const store = SinkStore.open(
    { path, synchronous: 'FULL', busyTimeoutMs: 5000, deadLetterPayloadBytes: 64 },
    decode,
  );
  const t0Ts = Date.now();
  // Packed up front: only the store is measured.
  const packed = [];
  for (let at = 0; at < N; at += BATCH) {
    const msgs = [];
    for (let k = at; k < Math.min(N, at + BATCH); k++) {
      const seq = Math.floor(k / DEVICES);
      const ts = t0Ts + Math.floor(k / 40); // 40 messages per ms: 40k msg/s
      msgs.push(benchMessage(k % DEVICES, seq, ts));
    }
    packed.push(packBatch(msgs).packed);
  }
  // Decoding alone, for the split of the total below.
  const d0 = process.cpuUsage();
  for (const b of packed) {
    for (let i = 0; i < b.topics.length; i++) {
      decode(
        b.topics[i] as string,
        b.payload.subarray(b.offsets[i], b.offsets[i + 1]),
        b.receivedAt[i] as number,
      );
    }
  }
  const dc = process.cpuUsage(d0);
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  let stored = 0;
  for (const b of packed) stored += store.writeBatch(b).stored;
  const wall = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  store.close();
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const perTable = Object.fromEntries(
    (
      db.prepare('SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC').all() as {
        name: string;
        b: number;
      }[]
    )
      .filter((r) => r.b > 8192)
      .map((r) => [r.name, Math.round((r.b / N) * 10) / 10]),
  );
  db.close();
  const bytes = statSync(path).size;
  console.log(
    JSON.stringify({
      store: values.store,
      stored,
      wallUsPerMsg: Math.round(((wall * 1000) / stored) * 10) / 10,
      cpuUsPerMsg: Math.round(((cpu.user + cpu.system) / stored) * 10) / 10,
      decodeCpuUsPerMsg: Math.round(((dc.user + dc.system) / N) * 10) / 10,
      bytesPerMsg: Math.round((bytes / stored) * 10) / 10,
      perTable,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
