import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { decoderReportHandler } from '../../src/daemon-decoder-report.js';
import { createSparkplugMetrics } from '../../src/observe/sparkplug-metrics.js';

async function sample(registry: Registry, name: string, labels = ''): Promise<number | undefined> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('decoder report → Sparkplug metrics and publishes', () => {
  it('counts anomalies, publishes each request, and counts what was sent and what failed', async () => {
    const registry = new Registry();
    const published: string[] = [];
    const handle = decoderReportHandler({
      metrics: createSparkplugMetrics(registry),
      publish: async (topic) => {
        if (topic.endsWith('/Down')) throw new Error('not connected to the broker');
        published.push(topic);
      },
      log: pino({ level: 'silent' }),
    });
    expect(await sample(registry, 'mqlite_sparkplug_rebirth_requests_total', '{outcome="sent"}')).toBe(0);
    handle({
      counts: {
        sparkplug_seq_gap: 2,
        sparkplug_data_before_birth: 1,
        sparkplug_rebirth_overflow: 3,
        other: 9,
      },
      publish: [
        { topic: 'spBv1.0/G/NCMD/Up', payload: new Uint8Array([1]) },
        { topic: 'spBv1.0/G/NCMD/Down', payload: new Uint8Array([1]) },
      ],
    });
    await new Promise((r) => setImmediate(r));
    expect(published).toEqual(['spBv1.0/G/NCMD/Up']);
    expect(await sample(registry, 'mqlite_sparkplug_seq_gaps_total')).toBe(2);
    expect(await sample(registry, 'mqlite_sparkplug_data_before_birth_total')).toBe(1);
    expect(await sample(registry, 'mqlite_sparkplug_unknown_aliases_total')).toBe(0);
    expect(await sample(registry, 'mqlite_sparkplug_rebirth_requests_total', '{outcome="sent"}')).toBe(1);
    // 3 over the per-batch cap + 1 that could not be published.
    expect(await sample(registry, 'mqlite_sparkplug_rebirth_requests_total', '{outcome="failed"}')).toBe(4);
  });
});
