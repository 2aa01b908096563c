import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import type { Decoded, DecodeResult, DecodeSettings, FormatRule } from '../../../src/decode/types.js';
import { messageIdentityKey } from '../../../src/sink/identity-hash.js';
import { bytes, RECEIVED, settings } from './settings.js';

function ok(r: DecodeResult): Decoded {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r;
}

const decode = (topic: string, payload: string, over: Partial<DecodeSettings> = {}): DecodeResult =>
  createDecoder(settings(over))(topic, bytes(payload), RECEIVED);

const rule = (over: Partial<FormatRule>): FormatRule => ({
  filter: '#',
  format: 'json',
  tsField: 'ts',
  tsUnit: 'auto',
  ...over,
});

describe('createDecoder, a typical message', () => {
  it('decodes a zigbee2mqtt payload', () => {
    const r = ok(
      decode('zigbee2mqtt/kitchen', '{"temperature":21.5,"humidity":40,"battery":97,"state":"ON"}'),
    );
    expect(r).toEqual({
      ok: true,
      device: 'kitchen',
      text: '{"temperature":21.5,"humidity":40,"battery":97,"state":"ON"}',
      ts: RECEIVED,
      tsFromPayload: false,
      identity: null,
      readings: [
        { metric: 'temperature', value: 21.5 },
        { metric: 'humidity', value: 40 },
        { metric: 'battery', value: 97 },
        { metric: 'state', value: 1 },
      ],
    });
  });

  it('names a bare number by the topic levels after the device', () => {
    expect(ok(decode('home/kitchen/temperature', '23.5')).readings).toEqual([
      { metric: 'temperature', value: 23.5 },
    ]);
    expect(ok(decode('home/kitchen/sensor/temp', '1')).readings).toEqual([
      { metric: 'sensor.temp', value: 1 },
    ]);
    expect(ok(decode('home/kitchen', 'true')).readings).toEqual([{ metric: 'value', value: 1 }]);
    expect(ok(decode('home/kitchen//', 'false')).readings).toEqual([{ metric: 'value', value: 0 }]);
    expect(ok(decode('lonely', '7')).readings).toEqual([{ metric: 'value', value: 7 }]);
    expect(ok(decode('home/kitchen/t', '1e400')).readings).toEqual([]);
  });

  it('stores state words as 0/1 and other strings and null with no readings', () => {
    const r = ok(decode('home/kitchen/state', '"ON"'));
    expect(r.readings).toEqual([{ metric: 'state', value: 1 }]);
    expect(r.text).toBe('"ON"');
    expect(ok(decode('home/kitchen/state', '"Online"')).readings).toEqual([{ metric: 'state', value: 1 }]);
    expect(ok(decode('home/kitchen/state', '"closed"')).readings).toEqual([{ metric: 'state', value: 0 }]);
    expect(ok(decode('home/kitchen/state', '"cooking"')).readings).toEqual([]);
    expect(ok(decode('home/kitchen/state', 'null')).readings).toEqual([]);
  });

  it('stores plain text: numbers and state words as one reading, other text without readings', () => {
    expect(ok(decode('stat/plug/POWER', 'ON')).readings).toEqual([{ metric: 'POWER', value: 1 }]);
    expect(ok(decode('tele/plug/LWT', 'Offline')).readings).toEqual([{ metric: 'LWT', value: 0 }]);
    expect(ok(decode('home/kitchen/temperature', ' 21.5\n')).readings).toEqual([
      { metric: 'temperature', value: 21.5 },
    ]);
    const t = ok(decode('home/kitchen/song', 'Bohemian Rhapsody'));
    expect(t).toMatchObject({ text: 'Bohemian Rhapsody', readings: [], identity: null });
    expect(ok(decode('cmnd/plug/POWER', '')).readings).toEqual([]);
  });

  it('lets the state words be configured', () => {
    const stateWords = { on: ['heat'], off: ['idle'] };
    expect(ok(decode('a/b/mode', 'HEAT', { stateWords })).readings).toEqual([{ metric: 'mode', value: 1 }]);
    expect(ok(decode('a/b/mode', 'on', { stateWords })).readings).toEqual([]);
    expect(() => createDecoder(settings({ stateWords: { on: ['x'], off: ['X'] } }))).toThrow(/both/);
  });

  it('stores binary payloads as bytes without readings', () => {
    const r = ok(createDecoder(settings())('cam/door', new Uint8Array([0xff, 0xd8, 0xff]), RECEIVED));
    expect(r).toMatchObject({ text: null, readings: [], device: 'door' });
  });

  it('counts non-finite numbers instead of storing them', () => {
    const r = ok(decode('a/b', '{"a":1e400,"b":-1e400,"c":1}'));
    expect(r.readings).toEqual([{ metric: 'c', value: 1 }]);
    expect(r.nonFinite).toBe(2);
    expect(ok(decode('a/b/t', '1e400')).nonFinite).toBe(1);
  });

  it('keeps a device null but still decodes when the topic misses the template', () => {
    const r = ok(decode('solo', '{"a":1}'));
    expect(r.device).toBeNull();
    expect(r.readings).toEqual([{ metric: 'a', value: 1 }]);
  });

  it('keeps a UTF-8 BOM in the text and parses past it', () => {
    const r = ok(decode('a/b', '\uFEFF{"a":1}'));
    expect(r.text).toBe('\uFEFF{"a":1}');
    expect(r.readings).toEqual([{ metric: 'a', value: 1 }]);
  });
});

describe('createDecoder, timestamps', () => {
  const secs = RECEIVED / 1000;

  it('takes the payload timestamp, excludes it from readings and derives an identity', () => {
    const r = ok(decode('a/dev', `{"ts":${secs - 60},"v":1}`));
    expect(r.ts).toBe(RECEIVED - 60_000);
    expect(r.tsFromPayload).toBe(true);
    expect(r.readings).toEqual([{ metric: 'v', value: 1 }]);
    expect(r.identity).toBe(`{"ts":${secs - 60},"v":1}`);
  });

  it('never gives two different payloads with the same timestamp one identity', () => {
    // Whole-second clocks (Tasmota Time, Shelly params.ts) stamp several messages alike.
    const a = ok(decode('a/dev', `{"ts":${secs},"temperature":21}`));
    const b = ok(decode('a/dev', `{"ts":${secs},"temperature":22}`));
    expect(a.ts).toBe(b.ts);
    expect(a.identity).not.toBe(b.identity);
    // A redelivery is the same bytes: the same identity.
    expect(ok(decode('a/dev', `{"ts":${secs},"temperature":21}`)).identity).toBe(a.identity);
    // The same bytes on another topic are another message: the store hashes the topic with them.
    const other = ok(decode('a/other', `{"ts":${secs},"temperature":21}`));
    expect(messageIdentityKey('a/other', other.identity as string, other.tsFromPayload)).not.toBe(
      messageIdentityKey('a/dev', a.identity as string, a.tsFromPayload),
    );
  });

  it('reads wall-clock strings in the configured zone', () => {
    const formats = [rule({ filter: 'tele/+/SENSOR', tsField: 'Time', tsUnit: 'iso' })];
    const payload = '{"Time":"2023-11-14T23:12:20","ENERGY":{"Power":5}}';
    // Europe/Berlin is UTC+1 in November: 23:12:20 there is 22:12:20Z.
    const berlin = ok(decode('tele/plug1/SENSOR', payload, { formats, timeZone: 'Europe/Berlin' }));
    expect(berlin.ts).toBe(RECEIVED - 60_000);
    const utc = ok(
      decode('tele/plug1/SENSOR', payload.replace('23:12', '22:12'), { formats, timeZone: 'UTC' }),
    );
    expect(utc.ts).toBe(RECEIVED - 60_000);
    // An explicit offset wins over the zone.
    const z = ok(
      decode('tele/plug1/SENSOR', '{"Time":"2023-11-14T22:12:20Z"}', { formats, timeZone: 'Asia/Tokyo' }),
    );
    expect(z.ts).toBe(RECEIVED - 60_000);
    expect(() => createDecoder(settings({ timeZone: 'Nowhere/Land' }))).toThrow(/time zone/);
  });

  it('reads the rule’s field and unit', () => {
    const formats = [rule({ filter: 'tele/+/SENSOR', tsField: 'Time', tsUnit: 'iso' })];
    const r = ok(
      decode('tele/plug1/SENSOR', '{"Time":"2023-11-14T22:12:20Z","ENERGY":{"Power":5}}', { formats }),
    );
    expect(r.ts).toBe(RECEIVED - 60_000);
    expect(r.readings).toEqual([{ metric: 'ENERGY.Power', value: 5 }]);
  });

  it('reads a nested dot path', () => {
    const formats = [rule({ tsField: 'meta.t', tsUnit: 'ms' })];
    const r = ok(decode('a/b', `{"meta":{"t":${RECEIVED - 1}},"v":2}`, { formats }));
    expect(r.ts).toBe(RECEIVED - 1);
    expect(r.readings).toEqual([{ metric: 'v', value: 2 }]);
  });

  it('rejects a timestamp of the wrong type or unit', () => {
    for (const p of [
      '{"ts":"soon"}',
      '{"ts":null}',
      '{"ts":true}',
      '{"ts":{}}',
      '{"ts":"1700000000"}',
      '{"ts":1e400}',
    ]) {
      const r = decode('a/b', p);
      expect(r.ok ? 'ok' : r.reason, p).toBe('invalid_timestamp');
    }
    const r = decode('a/b', '{"ts":"1700000000"}', { formats: [rule({ tsUnit: 's' })] });
    expect(ok(r).ts).toBe(RECEIVED);
  });

  describe.each([
    ['1970 (a Pi without RTC)', '{"ts":30,"v":1}', 30_000],
    ['2120', '{"ts":"2120-01-01T00:00:00Z","v":1}', Date.UTC(2120, 0, 1)],
    ['6 minutes ahead', `{"ts":${RECEIVED + 360_000},"v":1}`, RECEIVED + 360_000],
  ])('out of range: %s', (_name, payload, payloadTs) => {
    it('clamp: uses receivedAt and no ts identity', () => {
      const r = ok(decode('a/b', payload, { outOfRange: 'clamp' }));
      expect(r).toMatchObject({ ts: RECEIVED, tsFromPayload: false, identity: null });
      expect(r.readings).toEqual([{ metric: 'v', value: 1 }]);
    });

    it('keep: keeps the payload timestamp', () => {
      expect(ok(decode('a/b', payload, { outOfRange: 'keep' }))).toMatchObject({
        ts: payloadTs,
        tsFromPayload: true,
      });
    });

    it('dead-letter: rejects it', () => {
      const r = decode('a/b', payload, { outOfRange: 'dead-letter' });
      expect(r.ok ? 'ok' : r.reason).toBe('timestamp_out_of_range');
    });
  });

  it('accepts the window’s edges', () => {
    const over = { maxPastMs: 1000, maxFutureMs: 500, outOfRange: 'dead-letter' } as const;
    expect(ok(decode('a/b', `{"ts":${RECEIVED - 1000}}`, over)).ts).toBe(RECEIVED - 1000);
    expect(ok(decode('a/b', `{"ts":${RECEIVED + 500}}`, over)).ts).toBe(RECEIVED + 500);
    expect(decode('a/b', `{"ts":${RECEIVED + 501}}`, over).ok).toBe(false);
  });

  it('describes an out-of-range timestamp even beyond the Date range', () => {
    const r = decode('a/b', '{"ts":1e20}', { outOfRange: 'dead-letter' });
    expect(r).toMatchObject({ ok: false, reason: 'timestamp_out_of_range' });
  });
});

describe('createDecoder, identity', () => {
  const formats = [rule({ idField: 'seq' })];

  it('gives a message with an id an identity of its topic and bytes; the id is not a reading', () => {
    const r = ok(decode('a/dev', '{"seq":42,"v":1}', { formats }));
    expect(r.identity).toBe('{"seq":42,"v":1}');
    expect(r.tsFromPayload).toBe(false);
    expect(r.readings).toEqual([{ metric: 'v', value: 1 }]);
    expect(ok(decode('solo', '{"seq":"m-1"}', { formats })).identity).toBe('{"seq":"m-1"}');
  });

  it('has no identity without a usable id or a payload timestamp', () => {
    for (const id of ['null', 'true', '""', '{}', '[1]', '1e400']) {
      expect(ok(decode('a/dev', `{"seq":${id}}`, { formats })).identity, id).toBeNull();
      expect(ok(decode('a/dev', `{"seq":${id},"ts":${RECEIVED}}`, { formats })).identity, id).not.toBeNull();
    }
    expect(ok(decode('a/dev', '{"v":1}', { formats })).identity).toBeNull();
  });
});

describe('createDecoder, raw format and limits', () => {
  const raw = [rule({ filter: 'cam/#', format: 'raw' })];

  it('stores raw payloads without readings, as text or as bytes', () => {
    const d = createDecoder(settings({ formats: raw }));
    expect(d('cam/door', bytes('{"v":1}'), RECEIVED)).toMatchObject({
      ok: true,
      text: '{"v":1}',
      readings: [],
    });
    expect(d('cam/door', new Uint8Array([0xff, 0xd8, 0xff]), RECEIVED)).toMatchObject({
      ok: true,
      text: null,
    });
    expect(d('cam/door', new Uint8Array(0), RECEIVED)).toMatchObject({ ok: true, text: '', readings: [] });
  });

  it('checks the size before anything else, raw included', () => {
    const d = createDecoder(settings({ formats: raw, maxPayloadBytes: 16 }));
    expect(d('cam/door', new Uint8Array(16), RECEIVED).ok).toBe(true);
    expect(d('cam/door', new Uint8Array(17), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'payload_too_large',
    });
  });

  it('caps readings per message, keeping the message and counting what was left out', () => {
    expect(ok(decode('a/b', '[1,2,3]', { maxReadingsPerMessage: 3 })).readingsCapped).toBeUndefined();
    const r = ok(decode('a/b', '[1,2,3,4,5]', { maxReadingsPerMessage: 3 }));
    expect(r.readings.map((x) => x.value)).toEqual([1, 2, 3]);
    expect(r.readingsCapped).toBe(2);
    // the timestamp does not count as a reading
    const t = ok(decode('a/b', `{"ts":${RECEIVED},"a":1,"b":2,"c":3}`, { maxReadingsPerMessage: 3 }));
    expect(t.readingsCapped).toBeUndefined();
  });

  it('limits depth', () => {
    expect(decode('a/b', '{"a":{"b":1}}', { maxJsonDepth: 2 }).ok).toBe(true);
    expect(decode('a/b', '{"a":{"b":[1]}}', { maxJsonDepth: 2 })).toMatchObject({ reason: 'json_too_deep' });
  });

  it('refuses bad settings at startup', () => {
    expect(() => createDecoder(settings({ template: 'a/#/b' }))).toThrow(/template/);
    expect(() => createDecoder(settings({ maxJsonDepth: 0 }))).toThrow(/maxJsonDepth/);
    expect(() => createDecoder(settings({ maxPastMs: Number.NaN }))).toThrow(/maxPastMs/);
    expect(() => createDecoder(settings({ formats: [rule({ filter: '#/x' })] }))).toThrow(/filter/);
  });
});
