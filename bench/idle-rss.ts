/**
 * `npm run bench:idle [-- --pairs N] [--dist a,b,transport] [--settle ms]`: the daemon's idle RSS
 * (issue #11) as `npm run bench` measures it: the real daemon (`node --import loop-probe dist/cli.js
 * run …`, bench/lib/mqlite-target.ts's config) against a fresh broker, VmRSS `--settle` ms (1000) after
 * /readyz says 200. No load.
 *
 * With `--dist a,b` it alternates builds run by run (a, b, a, b, …: A/B on a shared machine, medians),
 * e.g. a copy of the previous dist/ kept inside the repo so its bare imports resolve from node_modules;
 * `transport` in the list runs the MQTT.js baseline (bench/baselines/transport.ts) in the rotation.
 * IDLE_NODE_ARGS adds node flags to the targets (a what-if such as `--max-semi-space-size=2`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { brokerInfo, startBroker } from './lib/broker.js';
import { compileBench } from './lib/compile.js';
import { waitForMessage } from './lib/ipc.js';
import { mqliteReady, startMqlite } from './lib/mqlite-target.js';
import { installSignalHandlers, sleep, stopChild, track } from './lib/process.js';
import { rssBytes } from './lib/proc-stats.js';

const benchDir = import.meta.dirname;
const repoDir = resolve(benchDir, '..');

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '4' },
    dist: { type: 'string', default: 'dist' },
    /** After /readyz: the bench connects its devices and sends the config before it reads VmRSS. */
    settle: { type: 'string', default: '1000' },
    qos: { type: 'string', default: '1' },
  },
});
// `transport` in the list: the MQTT.js subscriber baseline (bench/baselines/transport.ts) the issue compares with.
const dists = (values.dist ?? 'dist').split(',').map((d) => (d === 'transport' ? d : resolve(repoDir, d)));
const runs = Number(values.pairs) * (dists.length > 1 ? 1 : 2);
const settleMs = Number(values.settle);
const qos = values.qos === '0' ? 0 : 1;
for (const d of dists) {
  if (d !== 'transport' && !existsSync(join(d, 'cli.js')))
    throw new Error(`${d}/cli.js not found; run \`npm run build\` first`);
}

const label = (d: string): string => (d === 'transport' ? d : d.slice(repoDir.length + 1) || '.');

function vm(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

installSignalHandlers();
const deployConf = join(repoDir, 'deploy', 'mosquitto.conf');
const info = brokerInfo(deployConf);
const compiled = compileBench(benchDir, repoDir);
const probe = compiled.path('lib/loop-probe.ts');
const byDist = new Map<string, number[]>(dists.map((d) => [d, []]));
try {
  for (let i = 0; i < runs; i++) {
    for (const dist of dists) {
      const broker = await startBroker(info, deployConf, compiled.path('lib/aedes-child.ts'));
      const dir = mkdtempSync(join(tmpdir(), 'mqlite-idle-'));
      try {
        const ctx = {
          mqliteFormat: 'json' as const,
          brokerUrl: broker.url,
          protocolVersion: info.protocolVersion,
          qos: qos as 0 | 1,
          topic: 'bench/#',
          dir,
          repoDir: dirname(dist),
        };
        // Extra node flags for the target, e.g. IDLE_NODE_ARGS=--max-semi-space-size=1 for a what-if.
        const extra = (process.env.IDLE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
        const spawnNode = (entry: string, args: string[], env: Record<string, string> = {}) =>
          track(
            spawn(process.execPath, [...extra, '--import', probe, entry, ...args], {
              cwd: repoDir,
              env: { ...process.env, ...env },
              stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
            }),
          );
        const p =
          dist === 'transport'
            ? {
                child: spawnNode(compiled.path('baselines/transport.ts'), [
                  JSON.stringify({
                    url: broker.url,
                    clientId: 'bench-transport',
                    topic: ctx.topic,
                    qos,
                    protocolVersion: info.protocolVersion,
                  }),
                ]),
                httpPort: 0,
              }
            : await startMqlite(ctx, 'bench-mqlite', join(dir, 'mqlite.db'), false, (_e, args, env) =>
                spawnNode(join(dist, 'cli.js'), args, env),
              );
        try {
          if (dist === 'transport') await waitForMessage(p.child, 'ready', 30_000, 'transport ready');
          else await mqliteReady(p, p.child, 30_000);
          await sleep(settleMs);
          const pid = p.child.pid ?? 0;
          const rss = rssBytes(pid) / 1024 ** 2;
          byDist.get(dist)?.push(rss);
          console.log(
            `${label(dist)}: idle VmRSS ${rss.toFixed(1)} MB ` +
              `(anon ${vm(pid, 'RssAnon').toFixed(1)}, file ${vm(pid, 'RssFile').toFixed(1)})`,
          );
        } finally {
          await stopChild(p.child, 10_000);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await broker.stop();
      }
    }
  }
} finally {
  compiled.dispose();
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
for (const [dist, xs] of byDist) {
  console.log(
    `${label(dist)}: median idle VmRSS ${median(xs).toFixed(1)} MB over ${xs.length} ` +
      `(${xs.map((x) => x.toFixed(1)).join(', ')})`,
  );
}
