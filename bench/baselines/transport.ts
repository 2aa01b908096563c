/**
 * Transport baseline: the ceiling. An MQTT.js subscriber with the same connection settings as mqlite that
 * only counts (and checks each device's sequence numbers); MQTT.js acknowledges on receipt.
 * IPC: → {type:'ready'} once subscribed; {type:'count?'} → {type:'count', ...}; {type:'latency?'} → latency.
 */
import mqtt from 'mqtt';
import { sendToParent } from '../lib/ipc.js';
import { subscriberOptions } from '../lib/connection.js';
import { deviceOfTopic, parsePayload } from '../lib/payload.js';
import { percentile } from '../lib/stats.js';
import { baselineArgs } from './args.js';

const args = baselineArgs();
const client = mqtt.connect(args.url, subscriberOptions(args.clientId, args.protocolVersion));

let count = 0;
let distinct = 0;
let malformed = 0;
let lastAt = 0;
// One byte per (device, seq), grown by doubling: lean, so the ceiling is not weighed down by the check.
const seen = new Map<string, Uint8Array>();
let latencies = new Float64Array(1 << 16);

client.on('message', (topic, payload) => {
  const now = Date.now();
  count++;
  lastAt = now;
  const p = parsePayload(payload.toString('utf8'));
  const device = deviceOfTopic(topic);
  if (!p || device === undefined) {
    malformed++;
    return;
  }
  let s = seen.get(device);
  if (!s || p.seq >= s.length) {
    const bigger = new Uint8Array(Math.max((s?.length ?? 512) * 2, p.seq + 1));
    if (s) bigger.set(s);
    s = bigger;
    seen.set(device, s);
  }
  if (s[p.seq] === 0) {
    s[p.seq] = 1;
    distinct++;
  }
  if (count > latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  // Publish → receipt: for this target, receipt is the "commit".
  latencies[count - 1] = now - p.ts;
});

client.once('connect', () => {
  client.subscribe(args.topic, { qos: args.qos }, (err) => {
    if (err) {
      console.error('subscribe failed:', err);
      process.exit(1);
    }
    sendToParent({ type: 'ready' });
  });
});
client.on('error', (err) => console.error('mqtt error:', err.message));

process.on('message', (m: unknown) => {
  const type = (m as { type?: unknown } | null)?.type;
  if (type === 'count?') {
    sendToParent({
      type: 'count',
      count,
      distinct,
      duplicates: count - distinct - malformed,
      malformed,
      lastAt,
    });
  } else if (type === 'latency?') {
    const sample = latencies.subarray(0, count);
    sendToParent({
      type: 'latency',
      n: count,
      p50Ms: percentile(sample, 50),
      p90Ms: percentile(sample, 90),
      p99Ms: percentile(sample, 99),
      maxMs: percentile(sample, 100),
    });
  }
});

process.once('SIGTERM', () => {
  client.end(false, {}, () => process.exit(0));
});
