import { describe, expect, it } from 'vitest';
import { Access } from '../../../src/query/access.js';
import { renderExposition } from '../../../src/query/exposition.js';

/** Stands in for scrypt: "hash:<secret>" matches <secret>; counts calls. */
function fakeVerify() {
  const calls: string[] = [];
  return {
    calls,
    verify: async (secret: string, hash: string) => {
      calls.push(secret);
      return hash === `hash:${secret}`;
    },
  };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('query API access', () => {
  const settings = {
    open: false,
    users: [{ username: 'grafana', passwordHash: 'hash:pw' }],
    tokenHashes: ['hash:tok'],
  };

  it('grants basic auth and bearer tokens that match a hash, nothing else', async () => {
    const a = new Access(settings, fakeVerify().verify);
    expect(await a.allowed(basic('grafana', 'pw'))).toBe(true);
    expect(await a.allowed(basic('grafana', 'nope'))).toBe(false);
    expect(await a.allowed(basic('other', 'pw'))).toBe(false);
    expect(await a.allowed('Bearer tok')).toBe(true);
    expect(await a.allowed('Bearer pw')).toBe(false);
    expect(await a.allowed(undefined)).toBe(false);
    expect(await a.allowed('Digest x')).toBe(false);
  });

  it('remembers a verified credential for a while instead of hashing each request', async () => {
    let now = 0;
    const f = fakeVerify();
    const a = new Access(settings, f.verify, () => now);
    for (let i = 0; i < 5; i++) expect(await a.allowed('Bearer tok')).toBe(true);
    expect(f.calls).toEqual(['tok']);
    now += 10 * 60_000;
    expect(await a.allowed('Bearer tok')).toBe(true);
    expect(f.calls).toEqual(['tok', 'tok']);
  });

  it('is open when configured so', async () => {
    expect(await new Access({ ...settings, open: true }, fakeVerify().verify).allowed(undefined)).toBe(true);
  });
});

describe('readings exposition', () => {
  const now = Date.UTC(2026, 0, 1);
  const latest = [
    { device: 'kitchen', metric: 'temperature', ts: now - 1000, value: 21.5 },
    { device: 'hall', metric: 'temperature', ts: now - 60 * 60_000, value: 19 },
    { device: 'plug', metric: 'ENERGY.Total', ts: now - 2000, value: 12.5 },
    { device: 'we"ird\\', metric: 'battery.level', ts: now - 3000, value: 97 },
  ];

  it('writes one family per name, HELP and TYPE first, labels escaped', () => {
    const { text, refused } = renderExposition(latest, now, { staleAfterMs: 2 * 3600_000, maxSeries: 100 });
    expect(refused).toBe(0);
    expect(text).toBe(
      [
        '# HELP battery_level Latest mqlite reading of battery.level.',
        '# TYPE battery_level gauge',
        'battery_level{device="we\\"ird\\\\",mqlite_metric="battery.level"} 97',
        '# HELP energy_total Latest mqlite reading of ENERGY.Total.',
        '# TYPE energy_total counter',
        'energy_total{device="plug",mqlite_metric="ENERGY.Total"} 12.5',
        '# HELP temperature Latest mqlite reading of temperature.',
        '# TYPE temperature gauge',
        'temperature{device="hall"} 19',
        'temperature{device="kitchen"} 21.5',
        '',
      ].join('\n'),
    );
  });

  it('leaves out series silent longer than staleAfterMs', () => {
    const { text } = renderExposition(latest, now, { staleAfterMs: 30 * 60_000, maxSeries: 100 });
    expect(text).toContain('temperature{device="kitchen"}');
    expect(text).not.toContain('hall');
  });

  it('caps the series, newest kept, and counts the rest as refused', () => {
    const { text, refused } = renderExposition(latest, now, { staleAfterMs: 2 * 3600_000, maxSeries: 2 });
    expect(refused).toBe(2);
    expect(text).toContain('kitchen');
    expect(text).toContain('plug');
    expect(text).not.toContain('hall');
  });
});
