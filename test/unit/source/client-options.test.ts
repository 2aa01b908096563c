import { describe, expect, it } from 'vitest';
import {
  buildClientOptions,
  MQTT_MAX_PACKET_BYTES,
  maximumPacketSize,
  mqttjsDebugRequested,
  PUBLISH_OVERHEAD_BYTES,
  subscribeOptions,
  subscriptionFilters,
  subscriptionQos,
} from '../../../src/source/client-options.js';
import type { SourceSettings } from '../../../src/source/source-types.js';

function settings(over: Partial<SourceSettings> = {}): SourceSettings {
  return {
    url: 'mqtt://127.0.0.1:1',
    protocolVersion: 5,
    clientId: 'mqlite-test',
    tls: { rejectUnauthorized: true },
    keepaliveSeconds: 30,
    connectTimeoutMs: 10_000,
    cleanSession: false,
    sessionExpiryHours: 72,
    receiveMaximum: 10_000,
    maxPayloadBytes: 256 * 1024,
    topics: ['#'],
    qos: 1,
    reconnect: { baseMs: 500, factor: 2, capMs: 30_000, stableMs: 60_000 },
    ...over,
  };
}

describe('buildClientOptions', () => {
  it('MQTT 5 persistent session: expiry in seconds, receive window, packet limit', () => {
    const o = buildClientOptions(settings(), {}, 123);
    expect(o.protocolVersion).toBe(5);
    expect(o.clean).toBe(false);
    expect(o.properties).toEqual({
      receiveMaximum: 10_000,
      maximumPacketSize: 256 * 1024 + PUBLISH_OVERHEAD_BYTES,
      sessionExpiryInterval: 72 * 3600,
    });
    expect(o.reconnectPeriod).toBe(123);
    expect(o.connectTimeout).toBe(10_000);
    expect(o.keepalive).toBe(30);
    expect(o.resubscribe).toBe(false);
  });

  it('MQTT 5 clean start sets no session expiry', () => {
    const o = buildClientOptions(settings({ cleanSession: true }), {}, 1);
    expect(o.clean).toBe(true);
    expect(o.properties?.sessionExpiryInterval).toBeUndefined();
  });

  it('MQTT 3.1.1 has no properties', () => {
    const o = buildClientOptions(settings({ protocolVersion: 4 }), {}, 1);
    expect(o.protocolVersion).toBe(4);
    expect(o.properties).toBeUndefined();
  });

  it('passes credentials and TLS material only when given', () => {
    const bare = buildClientOptions(settings(), {}, 1);
    expect('username' in bare || 'password' in bare || 'ca' in bare).toBe(false);
    const ca = Buffer.from('ca');
    const o = buildClientOptions(
      settings({ username: 'u', password: 'p', tls: { rejectUnauthorized: false } }),
      { ca },
      1,
    );
    expect(o).toMatchObject({ username: 'u', password: 'p', ca, rejectUnauthorized: false });
  });

  it('caps the packet size at the MQTT maximum', () => {
    expect(maximumPacketSize(MQTT_MAX_PACKET_BYTES)).toBe(MQTT_MAX_PACKET_BYTES);
  });
});

describe('subscription QoS', () => {
  it('asks for QoS 1 when 2 is configured', () => {
    expect([subscriptionQos(0), subscriptionQos(1), subscriptionQos(2)]).toEqual([0, 1, 1]);
  });

  it('MQTT 5 subscribes with retain handling 1 (no retained replay on an existing subscription)', () => {
    expect(subscribeOptions(settings({ qos: 2 }))).toEqual({ qos: 1, rh: 1 });
    expect(subscribeOptions(settings({ protocolVersion: 4 }))).toEqual({ qos: 1 });
  });

  it('MQTT 5 shared subscription asks for no retained messages at all (retain handling 2)', () => {
    expect(subscribeOptions(settings({ shareGroup: 'g' }))).toEqual({ qos: 1, rh: 2 });
    expect(subscribeOptions(settings({ shareGroup: 'g', protocolVersion: 4 }))).toEqual({ qos: 1 });
  });
});

describe('subscription filters', () => {
  it('are the topics as configured without a share group', () => {
    expect(subscriptionFilters(settings({ topics: ['tele/#', 'stat/+/POWER'] }))).toEqual([
      'tele/#',
      'stat/+/POWER',
    ]);
  });

  it('wrap every topic in $share/<group>/ with a share group', () => {
    expect(subscriptionFilters(settings({ topics: ['tele/#', '#'], shareGroup: 'ingest' }))).toEqual([
      '$share/ingest/tele/#',
      '$share/ingest/#',
    ]);
  });
});

describe('MQTT.js debug logging', () => {
  it('stays on only when DEBUG names MQTT.js', () => {
    for (const d of ['*', 'mqttjs*', 'mqttjs:*', 'mqttjs:client', 'express,mqttjs*']) {
      expect(mqttjsDebugRequested(d), d).toBe(true);
    }
    for (const d of [undefined, '', 'express:*', '-mqttjs*', 'mqtt-packet:*']) {
      expect(mqttjsDebugRequested(d), String(d)).toBe(false);
    }
  });
});
