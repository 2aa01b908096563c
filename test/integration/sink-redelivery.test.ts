/**
 * Identity and redelivery in the store (SinkStore on a temp SQLite file, the real decoder): distinct
 * messages are never merged, redelivered copies are stored once, and a message without identity is
 * a copy only when DUP- or RETAIN-flagged and found among the device's recent rows.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDecoder } from '../../src/decode/decoder.js';
import { PRESET_NAMES, presetRules } from '../../src/decode/presets/index.js';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { BatchResult, DecodeFn } from '../../src/sink/types.js';
import { settings } from '../unit/decode/settings.js';
import { tmpDir } from '../helpers/tmp.js';
import { message } from './sink-fixture.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
let dir: { dir: string; cleanup: () => void };
let store: SinkStore;

function open(redelivery = { windowMs: 3_600_000, lookback: 1000, retainedCopies: true }): SinkStore {
  const decode = createDecoder(
    settings({ formats: presetRules(PRESET_NAMES), maxPastMs: 10 * 365 * 86_400_000 }),
  );
  return SinkStore.open(
    {
      path: join(dir.dir, 'm.db'),
      synchronous: 'NORMAL',
      busyTimeoutMs: 1000,
      deadLetterPayloadBytes: 64,
      redelivery,
    },
    decode as DecodeFn,
  );
}

type Msg = Parameters<typeof message>;
const write = (...msgs: Msg[]): BatchResult =>
  store.writeBatch(packBatch(msgs.map((m) => message(...m))).packed);

beforeEach(() => {
  dir = tmpDir('mqlite-redelivery-');
  store = open();
});
afterEach(() => {
  store.close();
  dir.cleanup();
});

describe('messages with a payload timestamp', () => {
  it('keeps distinct payloads that share a whole-second timestamp, and stores a redelivery once', () => {
    const s = T0 / 1000;
    const a = `{"ts":${s},"temperature":21}`;
    const b = `{"ts":${s},"temperature":22}`;
    let r = write(['home/kitchen', a, { receivedAt: T0 + 5 }], ['home/kitchen', b, { receivedAt: T0 + 6 }]);
    expect(r).toMatchObject({ stored: 2, duplicates: 0 });
    // The redelivery (same bytes), in a later batch, with or without DUP.
    r = write(
      ['home/kitchen', a, { receivedAt: T0 + 900, dup: true }],
      ['home/kitchen', b, { receivedAt: T0 + 901 }],
    );
    expect(r).toMatchObject({ stored: 0, duplicates: 2, duplicateTopic: 'home/kitchen' });
  });

  it('stores several whole-second Tasmota messages per second once each, across batches', () => {
    const time = '2026-01-01T12:00:00';
    const payloads = [45, 46, 47].map((p) => `{"Time":"${time}","ENERGY":{"Power":${p},"Voltage":230}}`);
    expect(
      write(...payloads.map((p, i): Msg => ['tele/plug/SENSOR', p, { receivedAt: T0 + i }])),
    ).toMatchObject({
      stored: 3,
    });
    expect(
      write(...payloads.map((p, i): Msg => ['tele/plug/SENSOR', p, { receivedAt: T0 + 50 + i, dup: true }])),
    ).toMatchObject({
      stored: 0,
      duplicates: 3,
    });
  });
});

describe('messages without timestamp or id', () => {
  it('stores the same state twice when it is sent twice (two real events)', () => {
    expect(
      write(['stat/plug/POWER', 'ON', { receivedAt: T0 }], ['stat/plug/POWER', 'ON', { receivedAt: T0 + 1 }]),
    ).toMatchObject({
      stored: 2,
      duplicates: 0,
    });
    expect(write(['stat/plug/POWER', 'ON', { receivedAt: T0 + 2 }])).toMatchObject({ stored: 1 });
  });

  it('recognises a DUP copy of a stored message within the window, in the same batch or a later one', () => {
    expect(
      write(
        ['stat/plug/POWER', 'ON', { receivedAt: T0 }],
        ['stat/plug/POWER', 'ON', { receivedAt: T0 + 1, dup: true }],
      ),
    ).toMatchObject({
      stored: 1,
      duplicates: 1,
    });
    expect(write(['stat/plug/POWER', 'ON', { receivedAt: T0 + 60_000, dup: true }])).toMatchObject({
      duplicates: 1,
    });
    // DUP but never stored before (the first attempt never arrived): stored.
    expect(write(['stat/plug/POWER', 'OFF', { receivedAt: T0 + 60_001, dup: true }])).toMatchObject({
      stored: 1,
    });
    // DUP, different device: another message.
    expect(write(['stat/lamp/POWER', 'ON', { receivedAt: T0 + 60_002, dup: true }])).toMatchObject({
      stored: 1,
    });
  });

  it('stores a DUP copy again once the original is outside the window or the lookback', () => {
    store.close();
    store = open({ windowMs: 1000, lookback: 2, retainedCopies: true });
    write(['livingroom/sensor/temperature/state', '21.5', { receivedAt: T0 }]);
    expect(
      write(['livingroom/sensor/temperature/state', '21.5', { receivedAt: T0 + 5000, dup: true }]),
    ).toMatchObject({
      stored: 1,
    });
    write(
      ['livingroom/sensor/humidity/state', '40', { receivedAt: T0 + 5001 }],
      ['livingroom/sensor/humidity/state', '41', { receivedAt: T0 + 5002 }],
    );
    expect(
      write(['livingroom/sensor/temperature/state', '21.5', { receivedAt: T0 + 5003, dup: true }]),
    ).toMatchObject({
      stored: 1,
    });
  });

  it('recognises a retained copy of the topic’s latest message however old, but stores a changed one', () => {
    const doc = '{"state":"online"}';
    const off = '{"state":"offline"}';
    expect(write(['zigbee2mqtt/bridge/state', doc, { receivedAt: T0 }])).toMatchObject({ stored: 1 });
    expect(
      write(['zigbee2mqtt/bridge/state', doc, { receivedAt: T0 + 86_400_000, retain: true }]),
    ).toMatchObject({
      duplicates: 1,
    });
    expect(
      write(['zigbee2mqtt/bridge/state', off, { receivedAt: T0 + 86_400_001, retain: true }]),
    ).toMatchObject({
      stored: 1,
    });
    // online again: an older row has these bytes, but the latest state was offline, so it is news.
    expect(
      write(['zigbee2mqtt/bridge/state', doc, { receivedAt: T0 + 86_400_002, retain: true }]),
    ).toMatchObject({
      stored: 1,
    });
  });

  it('in embedded mode, RETAIN is a device asking the broker to keep the message, not a copy', () => {
    store.close();
    store = open({ windowMs: 3_600_000, lookback: 1000, retainedCopies: false });
    const r = write(
      ['tele/plug/LWT', 'Online', { receivedAt: T0, retain: true }],
      ['tele/plug/LWT', 'Online', { receivedAt: T0 + 1, retain: true }],
    );
    expect(r).toMatchObject({ stored: 2, duplicates: 0 });
  });

  it('holds across a restart: the lookup reads the database, not memory', () => {
    write(['stat/plug/POWER', 'ON', { receivedAt: T0 }]);
    store.close();
    store = open();
    expect(write(['stat/plug/POWER', 'ON', { receivedAt: T0 + 10_000, dup: true }])).toMatchObject({
      duplicates: 1,
    });
  });
});
