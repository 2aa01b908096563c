/**
 * The setup bench/query-load.ts and bench/forward-live.ts share: mqlite alone under the bench load
 * (100 devices by default, ~80-byte JSON, as fast as the window allows), Mosquitto configured from
 * deploy/mosquitto.conf, phases run with runPhase; the caller adds what runs beside the load.
 */
import { join } from 'node:path';
import { brokerInfo } from './broker.js';
import { type CompiledBench, compileBench } from './compile.js';
import type { PhaseEnv, PhaseSpec } from './phase.js';
import { installSignalHandlers } from './process.js';
import { type Machine, machine } from './report.js';

export interface MqliteLoad {
  readonly env: PhaseEnv;
  readonly spec: PhaseSpec;
  readonly machine: Machine;
  readonly compiled: CompiledBench;
}

/** Prints the machine and broker, installs the signal handlers and compiles the bench children. */
export function mqliteLoad(
  benchDir: string,
  repoDir: string,
  load: { devices: number; messages: number; qos: 0 | 1 },
): MqliteLoad {
  const deployConf = join(repoDir, 'deploy', 'mosquitto.conf');
  const broker = brokerInfo(deployConf);
  const m = machine();
  console.log(
    `machine: ${m.nproc} cpus, ${m.cpuModel}, node ${m.node}; broker ${broker.kind} ${broker.version}`,
  );
  installSignalHandlers();
  const compiled = compileBench(benchDir, repoDir);
  const env: PhaseEnv = { broker, deployConf, repoDir, compiled, topic: 'bench/#', mqliteFormat: 'json' };
  const spec: PhaseSpec = {
    target: 'mqlite',
    phase: 'max',
    qos: load.qos,
    devices: load.devices,
    perDevice: Math.floor(load.messages / load.devices),
    rate: 0,
    payloadBytes: 80,
    window: 100,
  };
  return { env, spec, machine: m, compiled };
}
