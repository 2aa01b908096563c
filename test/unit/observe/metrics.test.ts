import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observe/metrics.js';

/** Every family the daemon, the dashboard and the alerts rely on. */
const REQUIRED_FAMILIES = [
  'mqlite_messages_received_total',
  'mqlite_messages_written_total',
  'mqlite_messages_duplicate_total',
  'mqlite_readings_written_total',
  'mqlite_dead_letters_total',
  'mqlite_dropped_total',
  'mqlite_acks_dropped_total',
  'mqlite_queue_messages',
  'mqlite_queue_bytes',
  'mqlite_queue_capacity_messages',
  'mqlite_queue_capacity_bytes',
  'mqlite_held_acks',
  'mqlite_batch_size',
  'mqlite_commit_duration_seconds',
  'mqlite_receive_to_commit_seconds',
  'mqlite_payload_ts_to_commit_seconds',
  'mqlite_broker_connected',
  'mqlite_subscribed',
  'mqlite_reconnects_total',
  'mqlite_commit_errors_total',
  'mqlite_last_commit_timestamp_seconds',
  'mqlite_db_bytes',
  'mqlite_wal_bytes',
  'mqlite_build_info',
  'mqlite_stop_failures_total',
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_p99_seconds',
];

/** `# TYPE name type` lines → name → type. prom-client 15 writes counters' TYPE with the _total name. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('exposes every required family on the injected registry, with the right type', async () => {
    const registry = new Registry();
    createMetrics(registry, { version: '1.2.3' });
    const fams = families(await registry.metrics());
    for (const name of REQUIRED_FAMILIES) expect(fams.has(name), name).toBe(true);
    for (const [name, type] of fams) {
      if (name.startsWith('mqlite_') && name.endsWith('_total')) expect(type, name).toBe('counter');
    }
    expect(fams.get('mqlite_batch_size')).toBe('histogram');
    expect(fams.get('mqlite_receive_to_commit_seconds')).toBe('histogram');
    expect(fams.get('mqlite_queue_messages')).toBe('gauge');
  });

  it('writes build info with the version and Node version, and pre-creates zero series', async () => {
    const registry = new Registry();
    createMetrics(registry, { version: '1.2.3' });
    const text = await registry.metrics();
    expect(sample(text, `mqlite_build_info{version="1.2.3",node_version="${process.versions.node}"}`)).toBe(
      1,
    );
    for (const qos of ['0', '1', '2'])
      expect(sample(text, `mqlite_messages_received_total{qos="${qos}"}`)).toBe(0);
    expect(sample(text, 'mqlite_dropped_total{reason="queue_full_oldest"}')).toBe(0);
    expect(sample(text, 'mqlite_last_commit_timestamp_seconds')).toBe(0);
  });

  it('counts received messages per QoS at each scrape, on top of direct increments', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { version: 't' });
    m.countReceived(0);
    m.countReceived(1);
    m.countReceived(1);
    m.messagesReceived.inc({ qos: '1' }, 5);
    let text = await registry.metrics();
    expect(sample(text, 'mqlite_messages_received_total{qos="0"}')).toBe(1);
    expect(sample(text, 'mqlite_messages_received_total{qos="1"}')).toBe(7);
    m.countReceived(2);
    text = await registry.metrics();
    expect(sample(text, 'mqlite_messages_received_total{qos="1"}')).toBe(7);
    expect(sample(text, 'mqlite_messages_received_total{qos="2"}')).toBe(1);
  });

  it('keeps two registries apart (no global state)', async () => {
    const a = new Registry();
    const b = new Registry();
    const ma = createMetrics(a, { version: 'a' });
    createMetrics(b, { version: 'b' });
    ma.reconnects.inc(3);
    expect(sample(await a.metrics(), 'mqlite_reconnects_total')).toBe(3);
    expect(sample(await b.metrics(), 'mqlite_reconnects_total')).toBe(0);
  });

  it('reads bound gauges at scrape time; booleans become 0/1; a throwing getter reads NaN', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { version: 'x' });
    let depth = 5;
    m.bindGauges({
      queueMessages: () => depth,
      queueBytes: () => 1024,
      queueCapacityMessages: () => 50_000,
      queueCapacityBytes: () => 64 * 1024 ** 2,
      heldAcks: () => 7,
      connected: () => true,
      subscribed: () => false,
      dbBytes: () => {
        throw new Error('ENOENT');
      },
      walBytes: () => 4096,
    });
    let text = await registry.metrics();
    expect(sample(text, 'mqlite_queue_messages')).toBe(5);
    expect(sample(text, 'mqlite_queue_capacity_bytes')).toBe(64 * 1024 ** 2);
    expect(sample(text, 'mqlite_held_acks')).toBe(7);
    expect(sample(text, 'mqlite_broker_connected')).toBe(1);
    expect(sample(text, 'mqlite_subscribed')).toBe(0);
    expect(sample(text, 'mqlite_db_bytes')).toBeNaN();
    expect(sample(text, 'mqlite_wal_bytes')).toBe(4096);
    depth = 9;
    text = await registry.metrics();
    expect(sample(text, 'mqlite_queue_messages')).toBe(9);
  });

  it('leaves an unbound gauge to what was set directly', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { version: 'x' });
    m.bindGauges({ heldAcks: () => 2 });
    m.brokerConnected.set(1);
    const text = await registry.metrics();
    expect(sample(text, 'mqlite_broker_connected')).toBe(1);
    expect(sample(text, 'mqlite_held_acks')).toBe(2);
  });

  it('observeCommit and observeLatencies (in chunks) fill the histograms and stamp the last commit', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { version: 'x' });
    const nowWall = 1_700_000_000_000;
    m.observeCommit(3, 0.002, nowWall);
    // Two chunks of one batch: 2 ms, 20 ms, 2 s before the commit
    m.observeLatencies({
      receiveMono: Float64Array.of(998, 980),
      // 1 s old, 2 h old
      payloadTs: [nowWall - 1000, nowWall - 2 * 3600_000],
      nowMono: 1000,
      nowWall,
    });
    m.observeLatencies({
      receiveMono: Float64Array.of(-1000),
      // missing, 10 s in the future (device clock ahead)
      payloadTs: [Number.NaN, nowWall + 10_000],
      nowMono: 1000,
      nowWall,
    });
    const text = await registry.metrics();
    expect(sample(text, 'mqlite_batch_size_count')).toBe(1);
    expect(sample(text, 'mqlite_batch_size_sum')).toBe(3);
    expect(sample(text, 'mqlite_commit_duration_seconds_sum')).toBe(0.002);
    expect(sample(text, 'mqlite_receive_to_commit_seconds_count')).toBe(3);
    expect(sample(text, 'mqlite_receive_to_commit_seconds_bucket{le="0.0025"}')).toBe(1);
    expect(sample(text, 'mqlite_receive_to_commit_seconds_bucket{le="0.025"}')).toBe(2);
    expect(sample(text, 'mqlite_receive_to_commit_seconds_bucket{le="2.5"}')).toBe(3);
    expect(sample(text, 'mqlite_payload_ts_to_commit_seconds_count')).toBe(3);
    expect(sample(text, 'mqlite_payload_ts_to_commit_seconds_bucket{le="0.001"}')).toBe(1);
    expect(sample(text, 'mqlite_payload_ts_to_commit_seconds_bucket{le="1"}')).toBe(2);
    expect(sample(text, 'mqlite_payload_ts_to_commit_seconds_bucket{le="3600"}')).toBe(2);
    expect(sample(text, 'mqlite_payload_ts_to_commit_seconds_bucket{le="14400"}')).toBe(3);
    expect(sample(text, 'mqlite_payload_ts_ahead_total')).toBe(1);
    expect(sample(text, 'mqlite_last_commit_timestamp_seconds')).toBe(nowWall / 1000);
  });
});
