/** Command-line options of `npm run bench` (node:util parseArgs), validated. */
import { parseArgs } from 'node:util';
import { TARGET_KINDS, type TargetKind } from './targets.js';

export interface BenchOptions {
  readonly devices: number;
  readonly messages: number;
  readonly qos: readonly (0 | 1)[];
  readonly payloadBytes: number;
  /** msgs/s for the throughput phase; 0 = as fast as possible. */
  readonly rate: number;
  /** Unacknowledged publishes per device. */
  readonly window: number;
  /** Throughput rounds per target, interleaved; the median is reported. */
  readonly repeat: number;
  readonly targets: readonly TargetKind[];
  readonly json: string;
  readonly smoke: boolean;
  readonly latency: boolean;
  /** > 0: no throughput rounds; the latency phase alone at this many msgs/s (A/B runs at one rate). */
  readonly latencyRate: number;
  /** Payload format mqlite stores the bench topic with: json (readings, the default) or raw. */
  readonly mqliteFormat: 'json' | 'raw';
  /** Mosquitto's settings: deploy/mosquitto.conf (default) or stock (Mosquitto's defaults). */
  readonly brokerConfig: 'deploy' | 'stock';
}

export const USAGE = `usage: tsx bench/run.ts [options]
  --devices N        publishing clients (default 100)
  --messages N       messages in the throughput phase, across devices (default 200000)
  --qos 1|0|1,0      QoS of publish and subscription; a list runs each (default 1)
  --payload-bytes N  JSON payload size (default 80)
  --rate N           msgs/s for the throughput phase (default 0 = as fast as possible)
  --window N         unacknowledged publishes per device (default 100)
  --repeat N         throughput rounds per target, interleaved; median reported (default 3)
  --targets LIST     comma list of ${TARGET_KINDS.join(',')} (default all)
  --no-latency       skip the half-load latency phase
  --latency-rate N   only the latency phase, at N msgs/s (no throughput rounds, so no ratios):
                     compares builds at one fixed rate instead of half of each run's transport max
  --mqlite-format F json (default: readings extracted) or raw (messages only): shows what readings cost
  --broker-config C deploy (default: deploy/mosquitto.conf) or stock (Mosquitto's own defaults)
  --json FILE        results file (default bench/results/<date>.json)
  --smoke            tiny run for the test suite: 2 devices x 500 messages, 1 round, all targets`;

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name}: expected an integer >= ${min}, got "${raw}"`);
  return n;
}

export function parseOptions(argv: string[], now = new Date()): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      devices: { type: 'string' },
      messages: { type: 'string' },
      qos: { type: 'string' },
      'payload-bytes': { type: 'string' },
      rate: { type: 'string' },
      window: { type: 'string' },
      repeat: { type: 'string' },
      targets: { type: 'string' },
      json: { type: 'string' },
      'mqlite-format': { type: 'string' },
      'broker-config': { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'no-latency': { type: 'boolean', default: false },
      'latency-rate': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const smoke = values.smoke ?? false;
  const devices = int('devices', values.devices, smoke ? 2 : 100, 1);
  const messages = int('messages', values.messages, smoke ? 1000 : 200_000, devices);
  const qos = (values.qos ?? '1').split(',').map((q) => {
    if (q !== '0' && q !== '1') throw new Error(`--qos: expected 0 or 1 (or a list), got "${q}"`);
    return Number(q) as 0 | 1;
  });
  const targets = (values.targets ?? TARGET_KINDS.join(',')).split(',').map((t) => {
    if (!(TARGET_KINDS as readonly string[]).includes(t)) {
      throw new Error(`--targets: expected some of ${TARGET_KINDS.join(',')}, got "${t}"`);
    }
    return t as TargetKind;
  });
  const mqliteFormat = values['mqlite-format'] ?? 'json';
  if (mqliteFormat !== 'json' && mqliteFormat !== 'raw') {
    throw new Error(`--mqlite-format: expected json or raw, got "${mqliteFormat}"`);
  }
  const brokerConfig = values['broker-config'] ?? 'deploy';
  if (brokerConfig !== 'deploy' && brokerConfig !== 'stock') {
    throw new Error(`--broker-config: expected deploy or stock, got "${brokerConfig}"`);
  }
  const latencyRate = int('latency-rate', values['latency-rate'], 0, 0);
  if (latencyRate > 0 && values['no-latency'] === true) {
    throw new Error('--latency-rate runs only the latency phase: it cannot go with --no-latency');
  }
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    devices,
    messages,
    qos,
    payloadBytes: int('payload-bytes', values['payload-bytes'], 80, 16),
    rate: int('rate', values.rate, 0, 0),
    window: int('window', values.window, 100, 1),
    repeat: int('repeat', values.repeat, smoke ? 1 : 3, 1),
    targets,
    json: values.json ?? `bench/results/${stamp}.json`,
    smoke,
    latency: !(values['no-latency'] ?? false),
    latencyRate,
    mqliteFormat,
    brokerConfig,
  };
}
