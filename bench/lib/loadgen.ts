/**
 * Load generator, run as its own process: N devices = N MQTT.js clients (MQTT 3.1.1, like most field
 * devices), each with at most `window` unacknowledged publishes. rate 0 = as fast as the window allows;
 * otherwise a global schedule (rate x elapsed) is dealt round-robin to devices on a 1 ms tick.
 *
 * IPC: parent → {type:'config', ...LoadConfig}; child → {type:'connected'}; parent → {type:'go'};
 * child → {type:'started', at} then {type:'finished', at, published, errors}. SIGTERM ends it.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { sendToParent } from './ipc.js';
import { deviceTopic, makePayload } from './payload.js';

export interface LoadConfig {
  readonly url: string;
  readonly devices: number;
  readonly perDevice: number;
  readonly qos: 0 | 1;
  /** Messages per second across all devices; 0 = max. */
  readonly rate: number;
  readonly payloadBytes: number;
  readonly window: number;
}

interface Device {
  readonly client: MqttClient;
  readonly topic: string;
  next: number;
  inflight: number;
}

function connectDevice(url: string, i: number): Promise<Device> {
  const client = mqtt.connect(url, {
    clientId: `bench-device-${i}`,
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve({ client, topic: deviceTopic(i), next: 0, inflight: 0 }));
    client.once('error', reject);
  });
}

async function run(cfg: LoadConfig): Promise<void> {
  const devices: Device[] = [];
  for (let i = 0; i < cfg.devices; i++) devices.push(await connectDevice(cfg.url, i));
  const total = cfg.devices * cfg.perDevice;
  let published = 0;
  let acked = 0;
  let errors = 0;
  let finishedResolve: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finishedResolve = r;
  });

  const publishOne = (d: Device, onAck: () => void): void => {
    const seq = d.next++;
    d.inflight++;
    published++;
    d.client.publish(d.topic, makePayload(seq, Date.now(), cfg.payloadBytes), { qos: cfg.qos }, (err) => {
      d.inflight--;
      if (err) errors++;
      if (++acked === total) finishedResolve();
      else onAck();
    });
  };

  const pump = (d: Device): void => {
    while (d.inflight < cfg.window && d.next < cfg.perDevice) publishOne(d, () => pump(d));
  };

  sendToParent({ type: 'connected' });
  await new Promise<void>((resolve) => {
    process.on('message', (m: unknown) => {
      if ((m as { type?: unknown } | null)?.type === 'go') resolve();
    });
  });
  const t0 = Date.now();
  sendToParent({ type: 'started', at: t0 });

  if (cfg.rate <= 0) {
    for (const d of devices) pump(d);
  } else {
    let cursor = 0;
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor((cfg.rate * (Date.now() - t0)) / 1000));
      let blocked = 0;
      while (published < due && blocked < devices.length) {
        const d = devices[cursor] as Device;
        cursor = (cursor + 1) % devices.length;
        if (d.inflight < cfg.window && d.next < cfg.perDevice) {
          publishOne(d, () => {});
          blocked = 0;
        } else {
          blocked++;
        }
      }
      if (published >= total) clearInterval(tick);
    }, 1);
  }
  await finished;
  sendToParent({ type: 'finished', at: Date.now(), published, errors });
}

process.once('SIGTERM', () => process.exit(0));
process.once('message', (m: unknown) => {
  const cfg = m as { type?: unknown } & LoadConfig;
  if (cfg.type !== 'config') return;
  run(cfg).catch((err: unknown) => {
    console.error('loadgen failed:', err);
    process.exit(1);
  });
});
