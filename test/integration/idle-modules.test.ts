/**
 * Idle memory (issue #11): what a daemon started with the default configuration (embedded broker,
 * or an external one as the bench runs it) holds in memory once it is ready, before any message.
 * Every module costs RSS for the life of the process (its source, bytecode and what it builds at
 * load), so the code of features the configuration does not use must not be loaded: the embedded
 * broker (aedes) or MQTT.js, whichever the mode does not use, forwarding
 * (pg, its worker), the query worker (started by the first query), maintenance commands, and the
 * binary payload formats (see lazy-format-libs.test.ts). And MQTT.js must not build mqtt-packet's
 * number cache (65,536 Buffers, ~6.6 MB of heap; client-options.ts `writeCache`), nor be loaded
 * through the ES module loader (source/mqtt-lib.ts).
 *
 * The real CLI (dist/cli.js) with a preloaded probe that records every module the main thread
 * loads (CommonJS cache and ESM loader) and reports on SIGUSR2. No RSS threshold: a module list
 * does not depend on the machine.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAedes, startAedes } from '../helpers/aedes-broker.js';
import { type DaemonProcess, startDaemon } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const repo = join(import.meta.dirname, '../..');

// Runs off the main thread (module.register): posts each URL the ESM loader loads.
const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) {
  port.postMessage(url);
  return next(url, context);
}
`;

const PROBE = (hooksUrl: string, out: string, repoDir: string) => `
import { register, createRequire } from 'node:module';
import { MessageChannel, isMainThread } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
if (isMainThread) {
  const esm = [];
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => esm.push(url));
  port1.unref();
  register(${JSON.stringify(hooksUrl)}, { data: { port: port2 }, transferList: [port2] });
  const require = createRequire(${JSON.stringify(`${repoDir}/package.json`)});
  process.on('SIGUSR2', () => {
    // The copy MQTT.js loads (resolved from mqtt's own folder).
    const numbers = createRequire(require.resolve('mqtt'))('mqtt-packet/numbers.js');
    writeFileSync(${JSON.stringify(out)}, JSON.stringify({
      cjs: Object.keys(require.cache),
      esm,
      numberCache: Object.keys(numbers.cache).length,
    }));
  });
}
`;

interface Report {
  cjs: string[];
  esm: string[];
  numberCache: number;
}

/** Starts the CLI with the probe, waits for /readyz 200 (where the bench reads idle RSS), asks for the report. */
async function probeDaemon(
  dir: string,
  args: string[],
  before?: (d: DaemonProcess) => Promise<() => Promise<void>>,
): Promise<{ daemon: DaemonProcess; report: Report }> {
  const hooks = join(dir, 'hooks.mjs');
  const probe = join(dir, 'probe.mjs');
  const out = join(dir, 'report.json');
  writeFileSync(hooks, HOOKS);
  writeFileSync(probe, PROBE(pathToFileURL(hooks).href, out, repo));
  const daemon = await startDaemon(['run', '--db', join(dir, 'm.db'), '--http', '127.0.0.1:0', ...args], {
    NODE_OPTIONS: `--import=${pathToFileURL(probe).href}`,
  });
  try {
    await waitFor(async () => (await daemon.readyz()).status === 200, 'readyz 200');
    const after = await before?.(daemon);
    daemon.proc.kill('SIGUSR2');
    const report = (await waitFor((): Report | false => {
      try {
        return JSON.parse(readFileSync(out, 'utf8')) as Report;
      } catch {
        return false; // not written yet
      }
    }, 'the probe report')) as Report;
    await after?.();
    return { daemon, report };
  } catch (err) {
    await daemon.kill9(); // never leave a daemon behind a failed setup
    throw err;
  }
}

function packagesOf(report: Report): Set<string> {
  return new Set(
    [...report.cjs, ...report.esm].flatMap((p) => {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p);
      return m?.[1] ? [m[1]] : [];
    }),
  );
}

function ownFilesOf(report: Report): string[] {
  return report.esm.flatMap((u) => {
    const m = /\/dist\/(.+)$/.exec(u);
    return m?.[1] ? [m[1]] : [];
  });
}

const UNUSED_LIBS = ['pg', 'pg-copy-streams', '@bufbuild/protobuf', 'cbor-x', 'msgpackr'];
const UNUSED_FILES = [
  'forward/forward-worker.js',
  'forward/pg-destination.js',
  'query/query-worker.js',
  'query/sqlite-reader.js',
  'query/export-command.js',
  'maintenance-commands.js',
];

describe('a daemon started with the default configuration and an external broker', () => {
  const tmp = tmpDir('mqlite-idle-modules-');
  let broker: RunningAedes;
  let daemon: DaemonProcess;
  let report: Report;

  beforeAll(async () => {
    broker = await startAedes();
    // aedes speaks MQTT 3.1.1 only.
    ({ daemon, report } = await probeDaemon(tmp.dir, ['--broker', broker.url, '--mqtt-version', '4']));
  });

  afterAll(async () => {
    await daemon?.stop();
    await broker?.stop();
    tmp.cleanup();
  });

  it('has not loaded the libraries of features it does not use', () => {
    const packages = packagesOf(report);
    // Positive control: the probe sees what the daemon does load.
    expect(packages).toContain('mqtt');
    expect(packages).toContain('better-sqlite3');
    for (const lib of ['aedes', ...UNUSED_LIBS]) expect(packages, lib).not.toContain(lib);
  });

  it('has not loaded the code of stages and commands it does not use', () => {
    const own = ownFilesOf(report);
    expect(own).toContain('source/mqtt-source.js');
    for (const file of ['broker/embedded-broker.js', ...UNUSED_FILES]) expect(own, file).not.toContain(file);
  });

  it('has not built the MQTT packet writer number cache', () => {
    expect(report.numberCache).toBe(0);
  });

  it('loaded MQTT.js with require(), not through the ES module loader', () => {
    // source/mqtt-lib.ts: an ES import of MQTT.js costs ~7 MB more RSS.
    expect(report.cjs.some((p) => p.includes('/node_modules/mqtt/'))).toBe(true);
    expect(report.esm.filter((u) => u.includes('/node_modules/mqtt/'))).toEqual([]);
  });
});

describe('a daemon started with the default configuration (embedded broker)', () => {
  const tmp = tmpDir('mqlite-idle-modules-');
  let daemon: DaemonProcess;
  let report: Report;

  beforeAll(async () => {
    // A device connected before the report, so aedes has written packets (CONNACK, a PUBACK).
    ({ daemon, report } = await probeDaemon(tmp.dir, ['--listen', '127.0.0.1:0'], async (d) => {
      const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${d.broker?.port}`, { protocolVersion: 4 });
      await device.publishAsync('home/sensor1/temperature', '21.5', { qos: 1 });
      return () => device.endAsync();
    }));
  });

  afterAll(async () => {
    await daemon?.stop();
    tmp.cleanup();
  });

  it('has loaded the broker but not MQTT.js, nor the libraries of features it does not use', () => {
    const packages = packagesOf(report);
    expect(packages).toContain('aedes');
    for (const lib of ['mqtt', ...UNUSED_LIBS]) expect(packages, lib).not.toContain(lib);
    const own = ownFilesOf(report);
    expect(own).toContain('broker/embedded-broker.js');
    for (const file of ['source/mqtt-source.js', ...UNUSED_FILES]) expect(own, file).not.toContain(file);
  });

  it('has not built the MQTT packet writer number cache (embedded-broker.ts)', () => {
    expect(report.numberCache).toBe(0);
  });
});
