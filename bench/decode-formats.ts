/**
 * Decode cost per message by payload format: the decoder function alone, in one thread, on the same
 * document in each encoding (the bench's ~80-byte telemetry: ts, seq, temp, hum, bat, rssi).
 *
 * Why a micro-bench: the end-to-end bench (bench/run.ts) is dominated by the broker, MQTT.js and
 * the SQLite commit, and on this shared 2-core machine its run-to-run noise is larger than the
 * difference between two decoders. Decoding is pure CPU in the worker, so its cost per message is
 * measured directly here: CPU time (user + system) over many rounds, formats interleaved round by
 * round so that machine noise hits them alike; the median round is reported.
 *
 *   npm run bench:decode     # build, then: tsx bench/decode-formats.ts [--messages 200000] [--rounds 9]
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { Encoder } from 'cbor-x';
import { pack } from 'msgpackr';
import { sparkplugSchema } from '../src/decode/formats/sparkplug/schema.js';
import type { DecodeSettings, FormatRule } from '../src/decode/types.js';
import { makePayload } from './lib/payload.js';

const PayloadDesc = sparkplugSchema().payload;

// The compiled decoder (npm run build), as the daemon runs it: tsx's transform adds a helper call
// around every named closure, which would weigh on some formats more than others.
const dist = new URL('../dist/decode/', import.meta.url).href;
const { createDecoder } = (await import(`${dist}decoder.js`)) as typeof import('../src/decode/decoder.js');
const { presetRules } = (await import(
  `${dist}presets/index.js`
)) as typeof import('../src/decode/presets/index.js');

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MESSAGES = arg('messages', 200_000);
const ROUNDS = arg('rounds', 9);
/** Distinct payloads per format, cycled; a multiple of 256 so Sparkplug's seq runs without gaps. */
const DISTINCT = 1024;
const T0 = Date.now();

const rule = (filter: string, format: FormatRule['format']): FormatRule => ({
  filter,
  format,
  tsField: 'ts',
  tsUnit: 'auto',
});
const settings: DecodeSettings = {
  template: '+/{device}/#',
  formats: [
    rule('lp/#', 'line-protocol'),
    rule('cbor/#', 'cbor'),
    rule('mp/#', 'msgpack'),
    ...presetRules(['sparkplug']),
  ],
  maxPayloadBytes: 256 * 1024,
  maxJsonDepth: 32,
  maxReadingsPerMessage: 1000,
  maxFutureMs: 5 * 60_000,
  maxPastMs: 365 * 24 * 3600_000,
  outOfRange: 'clamp',
};

interface Doc {
  ts: number;
  seq: number;
  temp: number;
  hum: number;
  bat: number;
  rssi: number;
}
const doc = (i: number): Doc => ({
  ts: T0 + i,
  seq: i,
  temp: 18 + (i % 70) / 10,
  hum: 40 + (i % 20),
  bat: 3.71,
  rssi: -67,
});

const utf8 = new TextEncoder();
const cborEncoder = new Encoder({ useRecords: false });
const sp = (seq: number, metrics: object[], ts: number) =>
  toBinary(PayloadDesc, create(PayloadDesc, { timestamp: BigInt(ts), seq: BigInt(seq), metrics } as never));
const names = ['seq', 'temp', 'hum', 'bat', 'rssi'];

const formats: { name: string; topic: string; payloads: Uint8Array[]; birth?: [string, Uint8Array] }[] = [
  { name: 'json', topic: 'bench/dev-0001/telemetry', payloads: [] },
  { name: 'line-protocol', topic: 'lp/dev-0001/telemetry', payloads: [] },
  { name: 'cbor', topic: 'cbor/dev-0001/telemetry', payloads: [] },
  { name: 'msgpack', topic: 'mp/dev-0001/telemetry', payloads: [] },
  {
    name: 'sparkplug',
    topic: 'spBv1.0/bench/NDATA/dev-0001',
    payloads: [],
    birth: [
      'spBv1.0/bench/NBIRTH/dev-0001',
      sp(
        0,
        names.map((name, a) => ({ name, alias: BigInt(a), datatype: a === 0 || a === 4 ? 3 : 10 })),
        T0,
      ),
    ],
  },
];
for (let i = 0; i < DISTINCT; i++) {
  const d = doc(i);
  formats[0]!.payloads.push(utf8.encode(makePayload(d.seq, d.ts, 0)));
  formats[1]!.payloads.push(
    utf8.encode(
      `telemetry,host=dev-0001 seq=${d.seq}i,temp=${d.temp},hum=${d.hum}i,bat=${d.bat},rssi=${d.rssi}i ${d.ts}000000`,
    ),
  );
  formats[2]!.payloads.push(new Uint8Array(cborEncoder.encode(d)));
  formats[3]!.payloads.push(new Uint8Array(pack(d)));
  const values = [d.seq, d.temp, d.hum, d.bat, d.rssi];
  formats[4]!.payloads.push(
    sp(
      (i + 1) % 256,
      values.map((v, a) =>
        a === 0 || a === 4
          ? { alias: BigInt(a), value: { case: 'intValue', value: v >>> 0 } }
          : { alias: BigInt(a), value: { case: 'doubleValue', value: v } },
      ),
      d.ts,
    ),
  );
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const samples = new Map<string, number[]>(formats.map((f) => [f.name, []]));
const sizes = new Map(
  formats.map((f) => [f.name, f.payloads.reduce((s, p) => s + p.length, 0) / f.payloads.length]),
);
for (let round = -1; round < ROUNDS; round++) {
  for (const f of formats) {
    // A fresh decoder per run, as the worker has one: Sparkplug state starts from its BIRTH.
    const decode = createDecoder(settings);
    if (f.birth !== undefined) decode(f.birth[0], f.birth[1], T0);
    let readings = 0;
    const start = cpuUs();
    for (let i = 0; i < MESSAGES; i++) {
      const r = decode(f.topic, f.payloads[i % DISTINCT]!, T0 + i);
      if (!r.ok) throw new Error(`${f.name}: ${r.reason}: ${r.detail}`);
      readings += r.readings.length;
    }
    const us = (cpuUs() - start) / MESSAGES;
    if (readings !== MESSAGES * 5)
      throw new Error(`${f.name}: ${readings / MESSAGES} readings per message, expected 5`);
    if (round >= 0) samples.get(f.name)!.push(us);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const json = median(samples.get('json')!);
console.log(`decode CPU per message, median of ${ROUNDS} rounds × ${MESSAGES} messages (5 readings each)`);
console.log('format         bytes  µs/msg  × json');
for (const f of formats) {
  const m = median(samples.get(f.name)!);
  console.log(
    `${f.name.padEnd(13)} ${sizes.get(f.name)!.toFixed(0).padStart(6)} ${m.toFixed(2).padStart(7)} ${(m / json).toFixed(2).padStart(7)}`,
  );
}
