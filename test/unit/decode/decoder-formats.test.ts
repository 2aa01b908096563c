/** The formats of decode/formats/ through the decoder: rule selection, device, time policy, identity. */
import { Encoder } from 'cbor-x';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../../src/decode/decoder.js';
import { presetRules } from '../../../src/decode/presets/index.js';
import type { Decoded, DecodeResult, FormatRule } from '../../../src/decode/types.js';
import { encodeSparkplug } from './formats/sparkplug-encode.js';
import { bytes, RECEIVED, settings } from './settings.js';

function ok(r: DecodeResult): Decoded {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r;
}

const rule = (over: Partial<FormatRule> & { filter: string }): FormatRule => ({
  format: 'auto',
  tsField: 'ts',
  tsUnit: 'auto',
  ...over,
});

const RECEIVED_NS = `${RECEIVED}000000`;

describe('format line-protocol', () => {
  const decode = createDecoder(
    settings({
      formats: [rule({ filter: 'telegraf/#', format: 'line-protocol' })],
      outOfRange: 'dead-letter',
    }),
  );

  it('names the device by the host tag and dates the message by the payload', () => {
    const text = `cpu,cpu=cpu-total,host=pi4 usage_idle=97.5 ${RECEIVED_NS}\nmem,host=pi4 used=444706816i ${RECEIVED_NS}`;
    const r = ok(decode('telegraf/pi4/metrics', bytes(text), RECEIVED + 1000));
    expect(r).toMatchObject({ device: 'pi4', text, ts: RECEIVED, tsFromPayload: true });
    expect(r.identity).toBe(text);
    expect(r.readings).toEqual([
      { metric: 'cpu.cpu=cpu-total.usage_idle', value: 97.5 },
      { metric: 'mem.used', value: 444706816 },
    ]);
  });

  it('keeps lines of other times at their own time; the device falls back to the topic', () => {
    const r = ok(
      decode('telegraf/site-a/x', bytes(`t v=1 ${RECEIVED_NS}\nt v=2 ${RECEIVED - 60_000}000000`), RECEIVED),
    );
    expect(r.device).toBe('site-a');
    expect(r.readings).toEqual([
      { metric: 't.v', value: 1 },
      { metric: 't.v', value: 2, ts: RECEIVED - 60_000 },
    ]);
  });

  it('dead-letters a malformed line and a time outside the range policy', () => {
    expect(decode('telegraf/a/b', bytes('cpu usage_idle'), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'invalid_line_protocol',
    });
    expect(decode('telegraf/a/b', bytes('cpu v=1 1000000'), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'timestamp_out_of_range',
    });
  });

  it('clamps lines dated outside the range to the message time, keeping the last value per metric', () => {
    const clamp = createDecoder(
      settings({ formats: [rule({ filter: '#', format: 'line-protocol', precision: 'ms' })] }),
    );
    // Two lines from 1970 (a device without RTC): both land at the receive time, the last one wins.
    const r = ok(clamp('x/y', bytes('t v=1 1000\nt v=2 2000\nt w=3 3000'), RECEIVED));
    expect(r).toMatchObject({ ts: RECEIVED, tsFromPayload: false, identity: null });
    expect(r.readings).toEqual([
      { metric: 't.v', value: 2 },
      { metric: 't.w', value: 3 },
    ]);
  });

  it('uses the rule precision and device tag', () => {
    const d = createDecoder(
      settings({
        formats: [rule({ filter: '#', format: 'line-protocol', precision: 's', deviceTag: 'node' })],
      }),
    );
    const r = ok(d('x/y', bytes(`m,node=n1,host=h v=1 ${RECEIVED / 1000}`), RECEIVED));
    expect(r).toMatchObject({ device: 'n1', ts: RECEIVED, readings: [{ metric: 'm.host=h.v', value: 1 }] });
  });
});

describe('formats cbor and msgpack', () => {
  const decode = createDecoder(
    settings({
      formats: [
        rule({ filter: 'c/#', format: 'cbor' }),
        rule({ filter: 'm/#', format: 'msgpack', idField: 'id' }),
      ],
    }),
  );
  const cbor = (v: unknown) => new Uint8Array(new Encoder({ useRecords: false }).encode(v));

  it('flattens a CBOR map like JSON, dates it by tsField, stores the bytes as a BLOB', () => {
    const payload = cbor({
      ts: RECEIVED / 1000,
      temperature: 21.5,
      env: { humidity: 40, ok: true },
      name: 'x',
    });
    const r = ok(decode('c/kitchen', payload, RECEIVED + 5));
    expect(r).toMatchObject({ device: 'kitchen', text: null, ts: RECEIVED, tsFromPayload: true });
    expect(r.readings).toEqual([
      { metric: 'temperature', value: 21.5 },
      { metric: 'env.humidity', value: 40 },
      { metric: 'env.ok', value: 1 },
    ]);
    expect(r.identity).not.toBeNull();
    const other = ok(decode('c/kitchen', cbor({ ts: RECEIVED / 1000, temperature: 21.6 }), RECEIVED + 5));
    expect(other.identity).not.toBe(r.identity);
  });

  it('reads a MessagePack bare number as one reading named by the topic, int64 keys as strings', () => {
    expect(ok(decode('m/boiler/pressure', new Uint8Array(pack(1.75)), RECEIVED)).readings).toEqual([
      { metric: 'pressure', value: 1.75 },
    ]);
    const r = ok(
      decode(
        'm/boiler',
        new Uint8Array(
          pack(
            new Map<unknown, unknown>([
              [1, 2],
              ['id', 'a'],
            ]),
          ),
        ),
        RECEIVED,
      ),
    );
    expect(r.readings).toEqual([{ metric: '1', value: 2 }]);
    expect(r.identity).not.toBeNull();
  });

  it('dead-letters what is not CBOR / MessagePack', () => {
    expect(decode('c/a', bytes('{"json":1}'), RECEIVED)).toMatchObject({ ok: false, reason: 'invalid_cbor' });
    expect(decode('m/a', new Uint8Array([0x92, 0x01]), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'invalid_msgpack',
    });
  });
});

describe('format sparkplug, recognised by its namespace through the preset', () => {
  const decode = createDecoder(settings({ formats: presetRules(['sparkplug']) }));

  it('decodes a BIRTH then DATA by alias, device from the topic, payload kept as BLOB', () => {
    const birth = encodeSparkplug({
      timestamp: RECEIVED,
      seq: 0,
      metrics: [{ name: 'Temperature', alias: 1, datatype: 3, value: { int: 4294967284 } }],
    });
    const b = ok(decode('spBv1.0/Plant1/NBIRTH/Edge1', birth, RECEIVED + 10));
    expect(b).toMatchObject({ device: 'Plant1/Edge1', text: null, ts: RECEIVED, tsFromPayload: true });
    expect(b.readings).toEqual([
      { metric: 'Temperature', value: -12 },
      { metric: 'sparkplug.online', value: 1 },
    ]);
    const data = encodeSparkplug({
      timestamp: RECEIVED + 1000,
      seq: 1,
      metrics: [{ alias: 1, value: { int: 7 } }],
    });
    expect(ok(decode('spBv1.0/Plant1/NDATA/Edge1', data, RECEIVED + 1010)).readings).toEqual([
      { metric: 'Temperature', value: 7 },
    ]);
  });

  it('dead-letters a topic that is not Sparkplug and a payload that is not protobuf', () => {
    expect(decode('spBv1.0/Plant1/NOPE/Edge1', new Uint8Array(0), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'invalid_sparkplug',
    });
    expect(decode('spBv1.0/Plant1/NDATA/Edge1', new Uint8Array([0x0a, 0xff]), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'invalid_sparkplug',
    });
  });
});
