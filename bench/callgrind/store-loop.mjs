/**
 * The SQLite worker's per-message work alone, in one thread: the daemon's decoder (bench config:
 * format json, idField seq) + SinkStore.writeBatch (insert, latest/rollups, commit) on the bench
 * payload, 100 devices, batches of 500, from a built dist/ (DIST=path, default this tree's), so
 * that two builds run the same input. N measured messages after WARM; FLUSH = rollup flush ms.
 * Prints CPU µs a message. Under callgrind (store-loop.sh) CG=<prefix> hands the measured
 * window to the script through files, so that only it is instrumented.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const D = process.env.DIST ?? new URL('../../dist', import.meta.url).pathname;
const { loadConfig } = await import(`${D}/config/index.js`);
const { decodeSettings } = await import(`${D}/daemon-settings.js`);
const { createDecoder } = await import(`${D}/decode/decoder.js`);
const { packBatch } = await import(`${D}/sink/protocol.js`);
const { SinkStore } = await import(`${D}/sink/store.js`);
const dir = mkdtempSync(join(tmpdir(), 'qos0st-'));
const file = join(dir, 'm.yaml');
writeFileSync(
  file,
  "subscribe:\n  formats:\n    - filter: 'bench/#'\n      idField: seq\n      format: json\n",
);
const decode = createDecoder(decodeSettings(loadConfig({ file, env: {}, flags: {} })));
const N = +(process.env.N ?? 100000),
  WARM = +(process.env.WARM ?? 20000),
  BATCH = 500;
const t0 = 1796270712004;
const packed = [];
for (let at = 0; at < N + WARM; at += BATCH) {
  const msgs = [];
  for (let k = at; k < Math.min(N + WARM, at + BATCH); k++) {
    const seq = Math.floor(k / 100);
    const ts = t0 + Math.floor(k / 40);
    const temp = 18 + (seq % 70) / 10;
    msgs.push({
      topic: `bench/dev-${String(k % 100).padStart(4, '0')}/telemetry`,
      payload: Buffer.from(
        `{"ts":${ts},"seq":${seq},"temp":${temp.toFixed(1)},"hum":${40 + (seq % 20)},"bat":3.71,"rssi":-67}`,
      ),
      qos: 0,
      retain: false,
      dup: false,
      receivedAt: ts,
      receivedMono: 0,
      settle: () => undefined,
    });
  }
  packed.push(packBatch(msgs).packed);
}
const store = SinkStore.open(
  {
    path: join(dir, 'w.db'),
    synchronous: process.env.SYNC ?? 'FULL',
    busyTimeoutMs: 5000,
    deadLetterPayloadBytes: 64,
    rollupFlushMs: +(process.env.FLUSH ?? 1000),
  },
  decode,
);
let i = 0,
  stored = 0;
for (; i < WARM / BATCH; i++) store.writeBatch(packed[i]);
if (process.env.CG) {
  writeFileSync(`${process.env.CG}.pid`, String(process.pid));
  const sab = new Int32Array(new SharedArrayBuffer(4));
  const { existsSync } = await import('node:fs');
  while (!existsSync(`${process.env.CG}.go`)) Atomics.wait(sab, 0, 0, 50);
}
const c0 = process.cpuUsage();
const w0 = performance.now();
for (; i < packed.length; i++) stored += store.writeBatch(packed[i]).stored;
const cpu = process.cpuUsage(c0);
const wall = performance.now() - w0;
if (process.env.CG) {
  writeFileSync(`${process.env.CG}.done`, '1');
  const sab = new Int32Array(new SharedArrayBuffer(4));
  const { existsSync } = await import('node:fs');
  while (!existsSync(`${process.env.CG}.stop`)) Atomics.wait(sab, 0, 0, 50);
}
store.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    stored,
    cpuUs: +((cpu.user + cpu.system) / stored).toFixed(2),
    userUs: +(cpu.user / stored).toFixed(2),
    wallUs: +((wall * 1000) / stored).toFixed(2),
  }),
);
