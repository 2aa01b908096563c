/**
 * mqlite as a bench target: the real daemon (`node dist/cli.js run ...`), ready when /readyz says 200.
 * Settings are mqlite's defaults except what the bench must set (broker, database, topic, QoS, client id,
 * HTTP port) and one format rule: identity from the payload's `seq`. Without it the default identity
 * (device + metric + payload ts, in ms) would merge two messages a device sends within one millisecond,
 * which the as-fast-as-possible load generator does all the time; real devices that send that often
 * carry a message id the same way.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep } from './process.js';

export interface MqliteProcess {
  readonly child: ChildProcess;
  readonly httpPort: number;
}

interface MqliteContext {
  readonly mqliteFormat: 'json' | 'raw';
  readonly brokerUrl: string;
  readonly protocolVersion: 4 | 5;
  readonly qos: 0 | 1;
  readonly topic: string;
  readonly dir: string;
  readonly repoDir: string;
  /** bench/share.ts: subscribe as a member of this shared-subscription group. */
  readonly shareGroup?: string;
}

export function mqliteEntry(repoDir: string): string {
  return join(repoDir, 'dist', 'cli.js');
}

export async function startMqlite(
  ctx: MqliteContext,
  clientId: string,
  dbPath: string,
  ackOnReceipt: boolean,
  spawnNode: (entry: string, args: string[], env: Record<string, string>) => ChildProcess,
): Promise<MqliteProcess> {
  const entry = mqliteEntry(ctx.repoDir);
  if (!existsSync(entry)) throw new Error(`mqlite: ${entry} not found; run \`npm run build\` first`);
  const httpPort = await freePort();
  // Per database: instances sharing a directory (bench/share.ts) each write their own.
  const configPath = `${dbPath}.yaml`;
  const lines = [
    'subscribe:',
    '  formats:',
    `    - filter: '${ctx.topic}'`,
    '      idField: seq',
    `      format: ${ctx.mqliteFormat}`,
    'broker:',
    // aedes fallback only: it does not speak MQTT 5.
    `  protocolVersion: ${ctx.protocolVersion}`,
  ];
  // More top-level YAML for a what-if run, e.g. BENCH_MQLITE_YAML=$'db:\n  maxBytes: 24MB' (ingesting
  // at the disk budget, purging as it goes: the verification then reports the purged rows missing).
  const extra = process.env.BENCH_MQLITE_YAML;
  writeFileSync(configPath, `${[...lines, ...(extra ? [extra] : [])].join('\n')}\n`);
  const child = spawnNode(
    entry,
    [
      'run',
      '--config',
      configPath,
      '--broker',
      ctx.brokerUrl,
      '--db',
      dbPath,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--topic',
      ctx.topic,
      '--qos',
      String(ctx.qos),
      '--client-id',
      clientId,
      '--log-level',
      'warn',
      ...(ctx.shareGroup === undefined ? [] : ['--share-group', ctx.shareGroup]),
    ],
    ackOnReceipt ? { MQLITE_TEST_ACK_ON_RECEIPT: '1' } : {},
  );
  return { child, httpPort };
}

async function get(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined; // not listening yet
  }
}

/** Waits for /readyz 200 (connected, subscribed, database open); fails fast if the daemon exits. */
export async function mqliteReady(p: MqliteProcess, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mqlite exited (code ${child.exitCode}, signal ${child.signalCode}) before /readyz`);
    }
    const res = await get(p.httpPort, '/readyz');
    if (res?.status === 200) return;
    await sleep(50);
  }
  throw new Error(`mqlite: /readyz not 200 after ${timeoutMs} ms`);
}

/** Prometheus samples without labels, plus summed counters, keyed by name. */
export async function scrapeMetrics(port: number): Promise<Record<string, number>> {
  const res = await get(port, '/metrics');
  if (res?.status !== 200) return {};
  const out: Record<string, number> = {};
  for (const line of res.body.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m?.[1] || !m[3]) continue;
    // Keep ours and the loop-lag gauges; histogram buckets would only bloat the JSON.
    if (m[1].endsWith('_bucket') || !/^(mqlite_|nodejs_eventloop_lag)/.test(m[1])) continue;
    const name = m[2] ? `${m[1]}${m[2]}` : m[1];
    const value = Number(m[3]);
    if (Number.isFinite(value)) out[name] = value;
  }
  return out;
}
