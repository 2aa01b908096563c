import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  SparkplugHost,
  type SparkplugHostOptions,
  type SparkplugResult,
} from '../../../../src/decode/formats/sparkplug/host.js';
import { SparkplugOutbox } from '../../../../src/decode/formats/sparkplug/outbox.js';
import { REBIRTH_METRIC, rebirthCommand } from '../../../../src/decode/formats/sparkplug/rebirth.js';
import { sparkplugSchema } from '../../../../src/decode/formats/sparkplug/schema.js';
import { parseSparkplugTopic, type SparkplugTopic } from '../../../../src/decode/formats/sparkplug/topic.js';
import { fixtureText } from './fixtures.js';
import { encodeSparkplug, type FixturePayload } from './sparkplug-encode.js';

const { payload: PayloadDesc, metric: MetricDesc } = sparkplugSchema();

interface Session {
  group: string;
  node: string;
  messages: {
    type: string;
    device?: string;
    payload: FixturePayload;
    expect: { device: string; ts?: number; anomalies: string[]; readings: unknown[] };
  }[];
}

const session = JSON.parse(fixtureText('sparkplug/session.json')) as Session;
const RECEIVED = 1_700_000_005_000;

const host = (over: Partial<SparkplugHostOptions> = {}) =>
  new SparkplugHost({ maxReadings: 1000, rebirth: false, rebirthIntervalMs: 30_000, maxNodes: 100, ...over });

function topicOf(type: string, device?: string): SparkplugTopic {
  const t = parseSparkplugTopic(
    `spBv1.0/${session.group}/${type}/${session.node}${device ? `/${device}` : ''}`,
  );
  if (typeof t === 'string') throw new Error(t);
  return t;
}

function ok(r: SparkplugResult) {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r;
}

describe('Sparkplug B host: one edge node session from the specification examples', () => {
  const h = host();
  it.each(
    session.messages.map((m, i) => [`${i + 1} ${m.type}${m.device ? ` ${m.device}` : ''}`, m] as const),
  )('%s', (_, m) => {
    const r = ok(h.handle(topicOf(m.type, m.device), encodeSparkplug(m.payload), RECEIVED));
    expect(r.device).toBe(m.expect.device);
    expect(r.ts).toBe(m.expect.ts);
    expect(r.anomalies).toEqual(m.expect.anomalies);
    expect(r.readings).toEqual(m.expect.readings);
  });
  it('counted each anomaly once', () => {
    expect(h.counts).toEqual({ data_before_birth: 0, unknown_alias: 1, seq_gap: 1, stale_death: 1 });
  });
});

describe('Sparkplug B wire format', () => {
  it('decodes a payload encoded by hand from the specification field numbers', () => {
    const bytes = new Uint8Array(Buffer.from(fixtureText('sparkplug/wire-ndata.hex').trim(), 'hex'));
    const h = host();
    const birth = session.messages[0]!;
    ok(
      h.handle(
        topicOf('NBIRTH'),
        encodeSparkplug({ ...birth.payload, metrics: [{ name: 'T', alias: 5, datatype: 3 }] }),
        RECEIVED,
      ),
    );
    const r = ok(h.handle(topicOf('NDATA'), bytes, RECEIVED));
    expect(r).toMatchObject({ ts: 1, anomalies: [], readings: [{ metric: 'T', value: -12 }] });
  });

  it('dead-letters what is not a Sparkplug payload', () => {
    const r = host().handle(topicOf('NDATA'), new Uint8Array([0x0a, 0xff]), RECEIVED);
    expect(r).toMatchObject({ ok: false, reason: 'invalid_sparkplug' });
  });
});

describe('Sparkplug B host state', () => {
  const birth = (h: SparkplugHost, seq = 0) =>
    ok(
      h.handle(
        topicOf('NBIRTH'),
        encodeSparkplug({
          seq,
          metrics: [
            { name: 'bdSeq', value: { long: '1' } },
            { name: 'Temperature', alias: 1, datatype: 3 },
          ],
        }),
        RECEIVED,
      ),
    );
  const data = (seq: number, alias = 1) =>
    encodeSparkplug({ seq, metrics: [{ alias, value: { int: 4294967295 } }] });

  it('stores what it can of DATA before BIRTH (named metrics) and counts it', () => {
    const h = host();
    const r = ok(
      h.handle(
        topicOf('NDATA'),
        encodeSparkplug({
          seq: 3,
          metrics: [
            { name: 'Load', datatype: 10, value: { double: 0.5 } },
            { alias: 1, value: { int: 1 } },
          ],
        }),
        RECEIVED,
      ),
    );
    expect(r.anomalies).toEqual(['data_before_birth', 'unknown_alias']);
    expect(r.readings).toEqual([{ metric: 'Load', value: 0.5 }]);
  });

  it('wraps seq at 255 without a gap', () => {
    const h = host();
    birth(h, 254);
    expect(ok(h.handle(topicOf('NDATA'), data(255), RECEIVED)).anomalies).toEqual([]);
    expect(ok(h.handle(topicOf('NDATA'), data(0), RECEIVED)).anomalies).toEqual([]);
    expect(ok(h.handle(topicOf('NDATA'), data(2), RECEIVED)).anomalies).toEqual(['seq_gap']);
  });

  it('forgets device tables on a new NBIRTH (devices must be born again)', () => {
    const h = host();
    birth(h);
    ok(
      h.handle(
        topicOf('DBIRTH', 'D'),
        encodeSparkplug({ seq: 1, metrics: [{ name: 'P', alias: 7, datatype: 10 }] }),
        RECEIVED,
      ),
    );
    birth(h);
    const r = ok(
      h.handle(
        topicOf('DDATA', 'D'),
        encodeSparkplug({ seq: 1, metrics: [{ alias: 7, value: { double: 1 } }] }),
        RECEIVED,
      ),
    );
    expect(r.anomalies).toEqual(['data_before_birth', 'unknown_alias']);
  });

  it('asks for a rebirth only when enabled, at most once per interval per node', () => {
    const off = host();
    expect(ok(off.handle(topicOf('NDATA'), data(1, 9), RECEIVED)).rebirth).toBeUndefined();
    const on = host({ rebirth: true, rebirthIntervalMs: 30_000 });
    birth(on);
    expect(ok(on.handle(topicOf('NDATA'), data(1, 9), RECEIVED)).rebirth).toEqual({
      group: 'Plant1',
      node: 'Edge1',
    });
    expect(ok(on.handle(topicOf('NDATA'), data(2, 9), RECEIVED + 29_999)).rebirth).toBeUndefined();
    expect(ok(on.handle(topicOf('NDATA'), data(3, 9), RECEIVED + 30_000)).rebirth).toEqual({
      group: 'Plant1',
      node: 'Edge1',
    });
  });

  it('rebuilds alias tables from a stored BIRTH (replay) without anomalies or a seq expectation', () => {
    const h = host();
    const replayed = h.handle(
      topicOf('NBIRTH'),
      encodeSparkplug({ seq: 0, metrics: [{ name: 'Temperature', alias: 1, datatype: 3 }] }),
      0,
      true,
    );
    expect(ok(replayed).readings).toEqual([]);
    const r = ok(h.handle(topicOf('NDATA'), data(42), RECEIVED));
    expect(r).toMatchObject({ anomalies: [], readings: [{ metric: 'Temperature', value: -1 }] });
  });

  it('follows the seq of a node first seen by its DATA, so a later gap counts', () => {
    const h = host();
    expect(ok(h.handle(topicOf('NDATA'), data(5), RECEIVED)).anomalies).toEqual([
      'data_before_birth',
      'unknown_alias',
    ]);
    expect(ok(h.handle(topicOf('NDATA'), data(9), RECEIVED)).anomalies).toEqual(['seq_gap', 'unknown_alias']);
  });

  it('keeps its devices when a certificate (replay) repeats the NBIRTH it follows', () => {
    const h = host();
    birth(h);
    ok(
      h.handle(
        topicOf('DBIRTH', 'D'),
        encodeSparkplug({ seq: 1, metrics: [{ name: 'P', alias: 7, datatype: 10 }] }),
        RECEIVED,
      ),
    );
    // The broker's retained copy of the same NBIRTH (same bdSeq) arrives after the live one.
    const copy = encodeSparkplug({
      seq: 0,
      metrics: [
        { name: 'bdSeq', value: { long: '1' } },
        { name: 'Temperature', alias: 1, datatype: 3 },
      ],
    });
    expect(ok(h.handle(topicOf('NBIRTH'), copy, RECEIVED, true)).readings).toEqual([]);
    const r = ok(
      h.handle(
        topicOf('DDATA', 'D'),
        encodeSparkplug({ seq: 2, metrics: [{ alias: 7, value: { double: 1.5 } }] }),
        RECEIVED,
      ),
    );
    expect(r).toMatchObject({ anomalies: [], readings: [{ metric: 'P', value: 1.5 }] });
  });

  it('marks the node and each device it gave birth to offline on NDEATH, a device alone on DDEATH', () => {
    const h = host();
    birth(h);
    for (const [i, d] of ['D1', 'D2'].entries())
      ok(h.handle(topicOf('DBIRTH', d), encodeSparkplug({ seq: i + 1, metrics: [] }), RECEIVED));
    expect(
      ok(h.handle(topicOf('DDEATH', 'D1'), encodeSparkplug({ seq: 3, metrics: [] }), RECEIVED)),
    ).toMatchObject({ device: 'Plant1/Edge1/D1', readings: [{ metric: 'sparkplug.online', value: 0 }] });
    const death = encodeSparkplug({ metrics: [{ name: 'bdSeq', value: { long: '1' } }] });
    expect(ok(h.handle(topicOf('NDEATH'), death, RECEIVED)).readings).toEqual([
      { metric: 'sparkplug.online', value: 0 },
      { metric: 'sparkplug.online', value: 0, device: 'Plant1/Edge1/D1' },
      { metric: 'sparkplug.online', value: 0, device: 'Plant1/Edge1/D2' },
    ]);
  });

  it('counts DATA after a DEATH without a new BIRTH as DATA before BIRTH, still named', () => {
    const h = host({ rebirth: true });
    birth(h);
    ok(
      h.handle(
        topicOf('DBIRTH', 'D'),
        encodeSparkplug({ seq: 1, metrics: [{ name: 'P', alias: 7, datatype: 10 }] }),
        RECEIVED,
      ),
    );
    ok(h.handle(topicOf('DDEATH', 'D'), encodeSparkplug({ seq: 2, metrics: [] }), RECEIVED));
    const ddata = encodeSparkplug({ seq: 3, metrics: [{ alias: 7, value: { double: 2 } }] });
    expect(ok(h.handle(topicOf('DDATA', 'D'), ddata, RECEIVED))).toMatchObject({
      anomalies: ['data_before_birth'],
      readings: [{ metric: 'P', value: 2 }],
      rebirth: { group: 'Plant1', node: 'Edge1' },
    });
    ok(
      h.handle(
        topicOf('DBIRTH', 'D'),
        encodeSparkplug({ seq: 4, metrics: [{ name: 'P', alias: 7, datatype: 10 }] }),
        RECEIVED,
      ),
    );
    expect(
      ok(h.handle(topicOf('DDATA', 'D'), encodeSparkplug({ seq: 5, metrics: [] }), RECEIVED)).anomalies,
    ).toEqual([]);
    const death = encodeSparkplug({ metrics: [{ name: 'bdSeq', value: { long: '1' } }] });
    ok(h.handle(topicOf('NDEATH'), death, RECEIVED));
    expect(ok(h.handle(topicOf('NDATA'), data(0), RECEIVED))).toMatchObject({
      anomalies: ['data_before_birth'],
      readings: [{ metric: 'Temperature', value: -1 }],
    });
    birth(h);
    expect(ok(h.handle(topicOf('NDATA'), data(1), RECEIVED)).anomalies).toEqual([]);
  });

  it('reads host STATE messages, JSON (3.0) and plain (2.2)', () => {
    const state = parseSparkplugTopic('spBv1.0/STATE/scada1') as SparkplugTopic;
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(
      ok(host().handle(state, enc('{"online":true,"timestamp":1700000000000}'), RECEIVED)),
    ).toMatchObject({
      device: 'STATE/scada1',
      ts: 1700000000000,
      readings: [{ metric: 'sparkplug.online', value: 1 }],
    });
    expect(ok(host().handle(state, enc('OFFLINE'), RECEIVED)).readings).toEqual([
      { metric: 'sparkplug.online', value: 0 },
    ]);
    expect(host().handle(state, enc('{"x":1}'), RECEIVED)).toMatchObject({
      ok: false,
      reason: 'invalid_sparkplug',
    });
  });
});

describe('Sparkplug B topics', () => {
  it.each([
    ['spBv1.0/G/NDATA/N', { kind: 'node', group: 'G', type: 'NDATA', node: 'N', device: undefined }],
    ['spBv1.0/G/DDATA/N/D', { kind: 'device', group: 'G', type: 'DDATA', node: 'N', device: 'D' }],
    ['spBv1.0/STATE/h', { kind: 'state', hostId: 'h' }],
    ['spBv1.0/G/NDATA/N/D', 'NDATA has no device level'],
    ['spBv1.0/G/DDATA/N', 'DDATA needs a device level'],
    ['spBv1.0/G/XDATA/N', 'unknown message type "XDATA"'],
    ['spBv1.0/G', 'expected spBv1.0/<group>/<type>/<edge node>[/<device>]'],
  ])('%s', (topic, expected) => {
    expect(parseSparkplugTopic(topic)).toEqual(expected);
  });
});

describe('rebirth command', () => {
  it('is an NCMD with the unaliased Boolean Node Control/Rebirth = true', () => {
    const { topic, payload } = rebirthCommand('Plant1', 'Edge1', 1_700_000_000_000);
    expect(topic).toBe('spBv1.0/Plant1/NCMD/Edge1');
    const p = fromBinary(PayloadDesc, payload) as unknown as {
      metrics: { name: string; datatype: number; alias?: bigint; value: unknown }[];
    };
    expect(p.metrics).toHaveLength(1);
    expect(p.metrics[0]).toMatchObject({
      name: REBIRTH_METRIC,
      datatype: 11,
      value: { case: 'booleanValue', value: true },
    });
    expect(isFieldSet(p.metrics[0] as never, MetricDesc.field.alias!)).toBe(false);
  });
});

describe('decoder report (what the worker hands back per batch)', () => {
  it('gives the anomaly counts since the last report and the rebirth requests, then nothing', () => {
    const h = host({ rebirth: true });
    const outbox = new SparkplugOutbox(h.counts);
    const r = ok(h.handle(topicOf('NDATA'), encodeSparkplug({ seq: 4, metrics: [{ alias: 3 }] }), RECEIVED));
    expect(r.rebirth).toEqual({ group: 'Plant1', node: 'Edge1' });
    outbox.rebirth(r.rebirth!.group, r.rebirth!.node, RECEIVED);
    outbox.certificate();
    const report = outbox.take();
    expect(report?.counts).toEqual({
      sparkplug_data_before_birth: 1,
      sparkplug_unknown_alias: 1,
      sparkplug_certificate: 1,
    });
    expect(report?.publish.map((p) => p.topic)).toEqual(['spBv1.0/Plant1/NCMD/Edge1']);
    expect(outbox.take()).toBeUndefined();
    ok(h.handle(topicOf('NDATA'), encodeSparkplug({ seq: 7, metrics: [] }), RECEIVED));
    expect(outbox.take()).toEqual({ counts: { sparkplug_seq_gap: 1 }, publish: [] });
  });
});
