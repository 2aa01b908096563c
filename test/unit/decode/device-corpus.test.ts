/**
 * The real-device corpus (test/fixtures/devices) through the decoder with the shipped presets and
 * no other configuration: every message stored (nothing dead-lettered), on the right device, with
 * exactly the expected readings and timestamp.
 */
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import { PRESET_NAMES, presetRules } from '../../../src/decode/presets/index.js';
import { allMessages } from '../../fixtures/devices/index.js';
import { bytes, RECEIVED, settings } from './settings.js';

const zone = 'Europe/Berlin';
// A whole second a little before the receive time, as a device clock would stamp it.
const base = RECEIVED - 3000;
const decode = createDecoder(settings({ formats: presetRules(PRESET_NAMES), timeZone: zone }));
const corpus = allMessages({ base, zone });

describe('real-device corpus, default configuration', () => {
  it.each(corpus.map((m) => [`${m.ecosystem}: ${m.topic} ${m.payload.slice(0, 60)}`, m] as const))(
    '%s',
    (_name, m) => {
      const r = decode(m.topic, bytes(m.payload), RECEIVED);
      if (!r.ok) throw new Error(`dead-lettered: ${r.reason}: ${r.detail}`);
      expect(r.device).toBe(m.device);
      expect(Object.fromEntries(r.readings.map((x) => [x.metric, x.value]))).toEqual(m.readings);
      expect(r.readings).toHaveLength(Object.keys(m.readings).length);
      expect(r.ts).toBe(m.ts ?? RECEIVED);
      expect(r.readingsCapped).toBeUndefined();
    },
  );

  it('never gives two different messages one identity', () => {
    const seen = new Map<string, string>();
    for (const m of corpus) {
      const r = decode(m.topic, bytes(m.payload), RECEIVED);
      if (!r.ok || r.identity === null) continue;
      // What the store hashes (sink/identity-hash.ts messageIdentityKey): the topic with the identity.
      const identity = `p:${m.topic}\0${r.identity}`;
      expect(seen.get(identity), m.topic).toBeUndefined();
      seen.set(identity, m.topic);
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it('keeps the corpus honest: several messages per second, text states, slashes, a large document', () => {
    const perSecond = new Map<string, number>();
    for (const m of corpus) {
      if (m.ts !== undefined)
        perSecond.set(`${m.topic}@${m.ts}`, (perSecond.get(`${m.topic}@${m.ts}`) ?? 0) + 1);
    }
    expect([...perSecond.values()].filter((n) => n > 1).length).toBeGreaterThanOrEqual(3);
    expect(corpus.some((m) => m.payload === 'ON')).toBe(true);
    expect(corpus.some((m) => m.device?.includes('/') && m.topic.startsWith('zigbee2mqtt/'))).toBe(true);
    expect(Math.max(...corpus.map((m) => m.payload.length))).toBeGreaterThan(60_000);
  });

  it('stores the same topics without presets under the global template, still without dead letters', () => {
    const bare = createDecoder(settings({ timeZone: zone }));
    for (const m of corpus) expect(bare(m.topic, bytes(m.payload), RECEIVED).ok, m.topic).toBe(true);
  });
});

describe('state words', () => {
  it('has the same defaults in the config schema and the decoder', async () => {
    const { DEFAULT_STATE_WORDS: fromSchema } = await import('../../../src/config/schema.js');
    const { DEFAULT_STATE_WORDS: fromDecoder } = await import('../../../src/decode/formats/text.js');
    expect(fromSchema).toEqual({ on: [...fromDecoder.on], off: [...fromDecoder.off] });
  });
});
