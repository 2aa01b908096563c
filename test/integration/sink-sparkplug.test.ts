/**
 * Sparkplug B through the store on a temp SQLite file, with the real decoder and its preset:
 * BIRTH/DATA/DEATH become rows, and alias tables come back from the stored BIRTHs after a restart.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/decode/decoder.js';
import { presetRules } from '../../src/decode/presets/index.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { BatchResult, DecodeFn } from '../../src/sink/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { encodeSparkplug } from '../unit/decode/formats/sparkplug-encode.js';
import { settings } from '../unit/decode/settings.js';
import { message } from './sink-fixture.js';

const T0 = 1_700_000_000_000;
let dir: { dir: string; cleanup: () => void };
let store: SinkStore;
const path = () => join(dir.dir, 'sp.db');

function open(): SinkStore {
  const decode = createDecoder(settings({ formats: presetRules(['sparkplug']) }));
  return SinkStore.open(
    {
      path: path(),
      synchronous: 'NORMAL',
      busyTimeoutMs: 1000,
      deadLetterPayloadBytes: 64,
      redelivery: { windowMs: 3_600_000, lookback: 1000, retainedCopies: true },
    },
    decode as DecodeFn,
  );
}

const write = (topic: string, payload: Uint8Array, receivedAt: number): BatchResult =>
  store.writeBatch(packBatch([message(topic, Buffer.from(payload), { qos: 0, receivedAt })]).packed);

const readings = (): { device: string; metric: string; value: number }[] => {
  const db = new Database(path(), { readonly: true });
  try {
    return db.prepare('SELECT device, metric, value FROM readings ORDER BY ts, metric').all() as never;
  } finally {
    db.close();
  }
};

beforeEach(() => {
  dir = tmpDir('mqlite-sparkplug-');
  store = open();
});
afterEach(() => {
  store.close();
  dir.cleanup();
});

describe('Sparkplug B in the store', () => {
  it('names DATA by the aliases of a BIRTH stored before a restart', () => {
    const birth = encodeSparkplug({
      timestamp: T0,
      seq: 0,
      metrics: [
        { name: 'bdSeq', datatype: 4, value: { long: '3' } },
        { name: 'Temperature', alias: 1, datatype: 3, value: { int: 4294967284 } },
      ],
    });
    expect(write('spBv1.0/Plant1/NBIRTH/Edge1', birth, T0 + 1)).toMatchObject({ stored: 1 });
    store.close();
    store = open();
    const data = encodeSparkplug({
      timestamp: T0 + 1000,
      seq: 7,
      metrics: [{ alias: 1, value: { int: 4294967295 } }],
    });
    expect(write('spBv1.0/Plant1/NDATA/Edge1', data, T0 + 1001)).toMatchObject({ stored: 1 });
    const death = encodeSparkplug({ metrics: [{ name: 'bdSeq', datatype: 4, value: { long: '3' } }] });
    expect(write('spBv1.0/Plant1/NDEATH/Edge1', death, T0 + 2000)).toMatchObject({ stored: 1 });
    expect(readings()).toEqual([
      { device: 'Plant1/Edge1', metric: 'Temperature', value: -12 },
      { device: 'Plant1/Edge1', metric: 'bdSeq', value: 3 },
      { device: 'Plant1/Edge1', metric: 'sparkplug.online', value: 1 },
      { device: 'Plant1/Edge1', metric: 'Temperature', value: -1 },
      { device: 'Plant1/Edge1', metric: 'sparkplug.online', value: 0 },
    ]);
  });

  it('stores an NDEATH as offline for the node and each of its devices, in readings and latest', () => {
    const birth = encodeSparkplug({
      timestamp: T0,
      seq: 0,
      metrics: [{ name: 'bdSeq', datatype: 8, value: { long: '1' } }],
    });
    write('spBv1.0/Plant1/NBIRTH/Edge1', birth, T0);
    write('spBv1.0/Plant1/DBIRTH/Edge1/Pump', encodeSparkplug({ timestamp: T0, seq: 1, metrics: [] }), T0);
    write('spBv1.0/Plant1/DBIRTH/Edge1/Valve', encodeSparkplug({ timestamp: T0, seq: 2, metrics: [] }), T0);
    const death = encodeSparkplug({ metrics: [{ name: 'bdSeq', datatype: 8, value: { long: '1' } }] });
    expect(write('spBv1.0/Plant1/NDEATH/Edge1', death, T0 + 5000)).toMatchObject({ stored: 1, readings: 3 });
    const db = new Database(path(), { readonly: true });
    try {
      const online = (table: string) =>
        db
          .prepare(
            `SELECT device, ts, value FROM ${table} WHERE metric = 'sparkplug.online' ORDER BY device, ts`,
          )
          .all();
      const offline = [
        { device: 'Plant1/Edge1', ts: T0 + 5000, value: 0 },
        { device: 'Plant1/Edge1/Pump', ts: T0 + 5000, value: 0 },
        { device: 'Plant1/Edge1/Valve', ts: T0 + 5000, value: 0 },
      ];
      expect(online('latest')).toEqual(offline);
      expect(online('readings').filter((r) => (r as { value: number }).value === 0)).toEqual(offline);
    } finally {
      db.close();
    }
  });

  it('seeds aliases from a $sparkplug/certificates/ BIRTH without readings, and reports it', () => {
    const cert = encodeSparkplug({
      timestamp: T0,
      seq: 0,
      metrics: [{ name: 'Temperature', alias: 1, datatype: 3, value: { int: 5 } }],
    });
    expect(write('$sparkplug/certificates/spBv1.0/Plant1/NBIRTH/Edge1', cert, T0)).toMatchObject({
      stored: 1,
      readings: 0,
      decoder: { counts: { sparkplug_certificate: 1 }, publish: [] },
    });
    const data = encodeSparkplug({
      timestamp: T0 + 1,
      seq: 1,
      metrics: [{ alias: 1, value: { int: 4294967295 } }],
    });
    const r = write('spBv1.0/Plant1/NDATA/Edge1', data, T0 + 1);
    expect(r).toMatchObject({ stored: 1, readings: 1 });
    expect(r.decoder).toBeUndefined();
    expect(readings()).toEqual([{ device: 'Plant1/Edge1', metric: 'Temperature', value: -1 }]);
    // A device's certificate names its DDATA the same way.
    const dcert = encodeSparkplug({
      timestamp: T0,
      seq: 1,
      metrics: [{ name: 'Speed', alias: 4, datatype: 10, value: { double: 0 } }],
    });
    write('$sparkplug/certificates/spBv1.0/Plant1/DBIRTH/Edge1/Pump', dcert, T0 + 2);
    const ddata = encodeSparkplug({
      timestamp: T0 + 3,
      seq: 2,
      metrics: [{ alias: 4, value: { double: 7.5 } }],
    });
    expect(write('spBv1.0/Plant1/DDATA/Edge1/Pump', ddata, T0 + 3)).toMatchObject({ readings: 1 });
    expect(readings()).toContainEqual({ device: 'Plant1/Edge1/Pump', metric: 'Speed', value: 7.5 });
    // Only BIRTHs are certificates.
    expect(write('$sparkplug/certificates/spBv1.0/Plant1/NDATA/Edge1', data, T0 + 2)).toMatchObject({
      deadLetters: { invalid_sparkplug: 1 },
    });
    const state = new TextEncoder().encode('{"online":true,"timestamp":1}');
    expect(write('$sparkplug/certificates/spBv1.0/STATE/scada', state, T0 + 2)).toMatchObject({
      deadLetters: { invalid_sparkplug: 1 },
    });
  });

  it('dead-letters a payload that is not Sparkplug, with its reason', () => {
    expect(write('spBv1.0/Plant1/NDATA/Edge1', new Uint8Array([0x0a, 0xff]), T0)).toMatchObject({
      stored: 0,
      deadLetters: { invalid_sparkplug: 1 },
    });
  });
});
