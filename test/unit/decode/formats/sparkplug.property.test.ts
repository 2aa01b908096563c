/** Any bytes on any Sparkplug topic, in any order: the host never throws and answers well-formed. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SparkplugHost } from '../../../../src/decode/formats/sparkplug/host.js';
import { parseSparkplugTopic } from '../../../../src/decode/formats/sparkplug/topic.js';
import { DEAD_LETTER_REASONS } from '../../../../src/decode/types.js';
import { fixtureText } from './fixtures.js';
import { encodeSparkplug, type FixturePayload } from './sparkplug-encode.js';

const reasons = new Set<string>(DEAD_LETTER_REASONS);
const session = JSON.parse(fixtureText('sparkplug/session.json')) as {
  messages: { payload: FixturePayload }[];
};
const valid = session.messages.map((m) => encodeSparkplug(m.payload));

const topic = fc
  .tuple(
    fc.constantFrom('G', 'H'),
    fc.constantFrom('NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH', 'NCMD', 'STATE'),
    fc.constantFrom('N', 'M'),
    fc.option(fc.constantFrom('D', 'E')),
  )
  .map(([g, t, n, d]) =>
    t === 'STATE' ? `spBv1.0/STATE/${n}` : `spBv1.0/${g}/${t}/${n}${d === null ? '' : `/${d}`}`,
  );

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.constantFrom(...valid),
  fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(255)).map(([v, at, b]) => {
    const out = v.slice();
    out[at % out.length] = b;
    return out;
  }),
);

describe('Sparkplug host property', () => {
  it('never throws; readings finite and bounded; rejections carry a known reason', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(topic, payload), { maxLength: 20 }), (messages) => {
        const host = new SparkplugHost({
          maxReadings: 20,
          rebirth: true,
          rebirthIntervalMs: 1000,
          maxNodes: 2,
        });
        for (const [t, p] of messages) {
          const parsed = parseSparkplugTopic(t);
          if (typeof parsed === 'string') continue;
          const r = host.handle(parsed, p, 1_700_000_000_000);
          if (!r.ok) {
            expect(reasons.has(r.reason)).toBe(true);
            continue;
          }
          expect(r.readings.length).toBeLessThanOrEqual(20);
          for (const x of r.readings) {
            expect(Number.isFinite(x.value)).toBe(true);
            if (x.ts !== undefined) expect(Number.isFinite(x.ts)).toBe(true);
          }
          if (r.ts !== undefined) expect(Number.isFinite(r.ts)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
