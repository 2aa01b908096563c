/**
 * `tsx bench/overload-keepalive.ts [--dist dist,../ovl-old/dist] [--pairs 4] [--broker deploy,stock]
 *  [--devices 20] [--per-device 4000] [--keepalive 5] [--max-batch 20]`
 *
 * Keepalive while the queue is full (BENCHMARKS.md "Overload: keepalive while the queue is full"):
 * devices publish QoS 1 as fast as Mosquitto takes it, to a daemon whose writer is slower (an fsync
 * per `--max-batch` messages), so its queue stays full and it stops reading for longer than the
 * keepalive. Reported per run: reconnects, redeliveries the daemon recognised (a reconnect makes the
 * broker resend everything unacknowledged), held acks lost, "connection closed with acks held" log
 * lines, keepalive re-pings, Mosquitto's connections from the daemon, and whether every message was
 * stored exactly once (with the stock broker config Mosquitto may drop some itself: max_queued_messages
 * 1000, counted in mqlite_broker_dropped_messages).
 *
 * `--dist a,b` alternates builds run by run (a, b, a, b…) within each broker config: A/B on a shared
 * machine. A build outside the repo needs its own node_modules next to it (a git worktree with
 * `cp -al node_modules`). Uses the test helpers (publisher, database checks); run with tsx.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '../test/helpers/free-port.js';
import { mosquittoBinary } from '../test/helpers/mosquitto.js';
import { startPublisher } from '../test/helpers/resilient-publisher.js';
import { countMessages, readStored } from '../test/helpers/verify-db.js';

const repoDir = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    pairs: { type: 'string', default: '4' },
    broker: { type: 'string', default: 'deploy,stock' },
    devices: { type: 'string', default: '20' },
    'per-device': { type: 'string', default: '4000' },
    keepalive: { type: 'string', default: '5' },
    'max-batch': { type: 'string', default: '20' },
  },
});
const dists = (values.dist ?? 'dist').split(',').map((d) => resolve(repoDir, d));
const brokers = (values.broker ?? 'deploy').split(',') as ('deploy' | 'stock')[];
const pairs = Number(values.pairs);
const devices = Number(values.devices);
const perDevice = Number(values['per-device']);
const total = devices * perDevice;
/** No new row for this long: the run is reported as stalled, not waited for forever. */
const STALL_MS = 60_000;
const LOST_ACKS = 'connection closed with acks held: the broker will redeliver those messages';
const RE_PING = 'keepalive timeout while reading waits for the queue: pinging again';

/** Keys the bench sets itself (as bench/lib/broker.ts does); the rest comes from deploy/mosquitto.conf. */
const REPLACED =
  /^(listener|allow_anonymous|password_file|acl_file|persistence_location|log_dest|log_type|connection_messages|pid_file)\b/;

interface Broker {
  url: string;
  log: () => string;
  stop: () => Promise<void>;
}

async function startBroker(kind: 'deploy' | 'stock'): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-ovl-mosq-'));
  const port = await freePort();
  const deploy = readFileSync(join(repoDir, 'deploy', 'mosquitto.conf'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !REPLACED.test(l));
  const logFile = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence_location ${dir}/`,
    `log_dest file ${logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    // As root Mosquitto drops to user "mosquitto", which cannot write our temp dir.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
    ...(kind === 'deploy' ? deploy : []),
  ];
  writeFileSync(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
  const child = spawn(mosquittoBinary(), ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !readLogFile(logFile).includes('running'); i++) await sleep(50);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    log: () => readLogFile(logFile),
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Run {
  dist: string;
  broker: string;
  seconds: number;
  reconnects: number;
  redeliveries: number;
  acksDropped: number;
  lostAckLines: number;
  rePingLines: number;
  connects: number;
  brokerDropped: number;
  stored: number;
  duplicates: number;
  missing: number;
  stalled: boolean;
}

async function runOnce(dist: string, kind: 'deploy' | 'stock', n: number): Promise<Run> {
  const broker = await startBroker(kind);
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-ovl-'));
  const db = join(dir, 'mqlite.db');
  const clientId = `mqlite-ovl-${process.pid}-${n}`;
  const config = join(dir, 'mqlite.yaml');
  writeFileSync(
    config,
    stringify({
      broker: { url: broker.url, clientId, keepaliveSeconds: Number(values.keepalive) },
      subscribe: { topics: ['ovl/#'], qos: 1 },
      batch: { maxBatch: Number(values['max-batch']) },
      db: { path: db, synchronous: 'FULL' },
    }),
  );
  const httpPort = await freePort();
  const daemon = spawn(
    process.execPath,
    [join(dist, 'cli.js'), 'run', '--config', config, '--http', `127.0.0.1:${httpPort}`],
    {
      env: { ...process.env, MQLITE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const msgs: string[] = [];
  createInterface({ input: daemon.stdout! }).on('line', (line) => {
    try {
      msgs.push(String((JSON.parse(line) as { msg?: unknown }).msg));
    } catch {
      // not a log record
    }
  });
  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`).catch(() => undefined);
    return res === undefined ? '' : res.text();
  };
  try {
    for (let i = 0; ; i++) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
      if (res?.status === 200) break;
      if (i > 300) throw new Error('daemon not ready in 30 s');
      await sleep(100);
    }
    const t0 = performance.now();
    const publisher = await startPublisher({ url: broker.url, devices, perDevice, prefix: 'ovl' });
    let last = -1;
    let lastAt = Date.now();
    let stalled = false;
    for (let tick = 0; ; tick++) {
      const rows = countMessages(db);
      if (rows >= total) break;
      // What Mosquitto dropped (stock max_queued_messages) never comes: stop waiting for it.
      if (tick % 10 === 0 && rows + metric(await metrics(), 'mqlite_broker_dropped_messages') >= total) break;
      if (rows !== last) {
        last = rows;
        lastAt = Date.now();
      } else if (Date.now() - lastAt > STALL_MS) {
        stalled = true;
        break;
      }
      await sleep(200);
    }
    const seconds = (performance.now() - t0) / 1000;
    await publisher.stop();
    const m = await metrics();
    await stopChild(daemon);
    if (process.env.OVL_DEBUG) console.log(broker.log());
    const stored = readStored(db);
    return {
      dist: relative(repoDir, dist) || '.',
      broker: kind,
      seconds,
      reconnects: metric(m, 'mqlite_reconnects_total'),
      redeliveries: metric(m, 'mqlite_messages_duplicate_total'),
      acksDropped: metric(m, 'mqlite_acks_dropped_total'),
      lostAckLines: msgs.filter((x) => x === LOST_ACKS).length,
      rePingLines: msgs.filter((x) => x === RE_PING).length,
      connects: broker
        .log()
        .split('\n')
        .filter((l) => l.includes('New client connected') && l.includes(` as ${clientId} `)).length,
      brokerDropped: metric(m, 'mqlite_broker_dropped_messages'),
      stored: stored.total,
      duplicates: stored.duplicates.length,
      missing: total - stored.distinct,
      stalled,
    };
  } finally {
    await stopChild(daemon);
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

function readLogFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const runs: Run[] = [];
let n = 0;
for (const kind of brokers) {
  for (let p = 0; p < pairs; p++) {
    for (const dist of dists) {
      const r = await runOnce(dist, kind, n++);
      runs.push(r);
      console.log(JSON.stringify(r));
    }
  }
}
console.log(
  '\n| build | broker | run | s | reconnects | redeliveries | acks lost | lost-ack lines | re-pings | connections | stored | missing | broker dropped |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const seen = new Map<string, number>();
for (const r of runs) {
  const key = `${r.dist}/${r.broker}`;
  const i = (seen.get(key) ?? 0) + 1;
  seen.set(key, i);
  console.log(
    `| ${r.dist} | ${r.broker} | ${i} | ${r.seconds.toFixed(1)}${r.stalled ? ' (stalled)' : ''} | ${r.reconnects} | ${r.redeliveries} | ${r.acksDropped} | ${r.lostAckLines} | ${r.rePingLines} | ${r.connects} | ${r.stored}${r.duplicates > 0 ? ` (${r.duplicates} dup)` : ''} | ${r.missing} | ${r.brokerDropped} |`,
  );
}
process.exit(0);
