import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CountedHistogram } from '../../../src/observe/counted-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1, 1, 10];

/** The same observations into prom-client's Histogram and ours, each in its own registry. */
async function expositions(values: number[]): Promise<[string, string]> {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'Some latency', buckets: BOUNDS, registers: [theirs] });
  const c = new CountedHistogram('x_seconds', 'Some latency', BOUNDS, [ours]);
  for (const v of values) {
    h.observe(v);
    c.observe(v);
  }
  return [await theirs.metrics(), await ours.metrics()];
}

describe('CountedHistogram', () => {
  it('exposes exactly what prom-client would for the same observations', async () => {
    // On the bounds (le is inclusive), between them, past the last, zero, negative, fractions.
    const values = [0, -1, 0.001, 0.0011, 0.01, 0.5, 1, 9.99, 10, 10.01, 3600, 0.1 + 0.2];
    const [theirs, ours] = await expositions(values);
    expect(ours).toBe(theirs);
    expect(ours).toContain('x_seconds_bucket{le="0.001"} 3');
    expect(ours).toContain('x_seconds_count 12');
  });

  it('exposes an empty histogram the same way too', async () => {
    const [theirs, ours] = await expositions([]);
    expect(ours).toBe(theirs);
  });

  it('counts nothing that is not a number, and reset empties it', async () => {
    const r = new Registry();
    const c = new CountedHistogram('y_seconds', 'help', BOUNDS, [r]);
    c.observe(Number.NaN);
    c.observe(Number.POSITIVE_INFINITY);
    c.observe(2);
    expect(await r.metrics()).toContain('y_seconds_count 1');
    r.resetMetrics();
    expect(await r.metrics()).toContain('y_seconds_count 0');
  });

  it('refuses bounds that do not increase', () => {
    expect(() => new CountedHistogram('z', 'help', [1, 1], [])).toThrow(/increase/);
  });
});
