/**
 * The embedded broker against a hostile network: a connection limit, throttled failed logins,
 * per-user topic permissions and topics that break the MQTT string rules. Real aedes over TCP,
 * MQTT.js clients, and raw packets where a client library would refuse to send them.
 */
import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmbeddedBrokerSettings, hashPassword } from '../../src/broker/embedded-broker.js';
import { rawMqtt } from '../helpers/raw-mqtt.js';
import { recordingBroker } from '../helpers/recording-broker.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function started(over: Partial<EmbeddedBrokerSettings> = {}) {
  const b = recordingBroker(over);
  cleanups.push(() => b.broker.stop());
  await b.broker.start();
  const { port } = b.broker.address();
  return { ...b, port, url: `mqtt://127.0.0.1:${port}` };
}

async function client(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...opts,
  });
  cleanups.push(() => c.endAsync(true));
  return c;
}

/** A TCP connection the broker closes at once (before any MQTT) resolves true. */
async function closedAtOnce(port: number): Promise<boolean> {
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  cleanups.push(() => raw.destroy());
  const timer = setTimeout(() => raw.destroy(new Error('still open')), 1000);
  await once(raw, 'close');
  clearTimeout(timer);
  return raw.errored?.message !== 'still open';
}

describe('embedded.maxConnections', () => {
  it('closes connections beyond the limit before reading them, counts them, and accepts again when one leaves', async () => {
    const b = await started({ allowAnonymous: true, maxConnections: 3 });
    const held = [await client(b.url), await client(b.url), await client(b.url)];
    expect(await closedAtOnce(b.port)).toBe(true);
    expect(await closedAtOnce(b.port)).toBe(true);
    expect(b.refused).toEqual(['max_connections', 'max_connections']);

    await held[0]?.endAsync();
    await new Promise((r) => setTimeout(r, 200)); // the broker sees that socket close
    expect((await client(b.url)).connected).toBe(true);
  });
});

/** The CONNACK refusal of a login, as MQTT.js reports it; undefined if it connected. */
async function loginError(url: string, username: string, password: string): Promise<string | undefined> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, username, password }).then(
    async (c) => {
      await c.endAsync(true);
      return undefined;
    },
    (e: unknown) => String(e),
  );
}

describe('failed logins', () => {
  it('five wrong passwords are checked; then the address is refused unchecked (even with the right one), counted by reason', async () => {
    const b = await started({ users: [{ username: 'plug-1', passwordHash: hashPassword('right') }] });
    for (let i = 0; i < 5; i++) {
      expect(await loginError(b.url, 'plug-1', `guess-${i}`)).toMatch(/Bad username or password/i);
    }
    expect(await loginError(b.url, 'plug-1', 'guess-5')).toMatch(/Server unavailable/i);
    // Refused before the password is looked at: the right one fares no better while throttled.
    expect(await loginError(b.url, 'plug-1', 'right')).toMatch(/Server unavailable/i);
    expect(b.authFailures.map((f) => f.reason)).toEqual([
      ...Array(5).fill('bad_credentials'),
      'rate_limited',
      'rate_limited',
    ]);
    expect(b.authFailures[0]).toMatchObject({ address: '127.0.0.1', username: 'plug-1' });
  });

  it('a burst of parallel guesses from one address gets at most two password checks in flight', async () => {
    const b = await started({ users: [{ username: 'plug-1', passwordHash: hashPassword('right') }] });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => loginError(b.url, 'plug-1', `g${i}`)),
    );
    expect(results.every((r) => r !== undefined)).toBe(true);
    const checked = b.authFailures.filter((f) => f.reason === 'bad_credentials').length;
    expect(checked).toBeLessThanOrEqual(6); // 2 in flight at a time, then throttled after 5 failures
    expect(b.authFailures).toHaveLength(20);
  });
});

describe('topic permissions', () => {
  async function withUsers() {
    return started({
      users: [
        // Defaults: publish anywhere, subscribe nowhere.
        { username: 'plug-1', passwordHash: hashPassword('p1') },
        { username: 'plug-2', passwordHash: hashPassword('p2'), publish: ['+/%u/#', 'devices/%c/#'] },
        { username: 'ops', passwordHash: hashPassword('ops'), subscribe: ['#', '$SYS/#'] },
      ],
    });
  }

  it('a device cannot subscribe to # or $SYS/# (SUBACK 0x80) and reads nothing; a granted user reads', async () => {
    const b = await withUsers();
    const device = await client(b.url, { username: 'plug-1', password: 'p1' });
    const seen: string[] = [];
    device.on('message', (topic) => seen.push(topic));
    // MQTT.js fails the call when a filter is refused; the SUBACK rides on the error.
    const err = (await device.subscribeAsync(['#', '$SYS/#', 'tele/plug-2/SENSOR'], { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { packet?: { granted?: number[] } } | undefined;
    expect(err?.packet?.granted).toEqual([128, 128, 128]);

    const ops = await client(b.url, { username: 'ops', password: 'ops' });
    const opsSeen: string[] = [];
    ops.on('message', (topic) => opsSeen.push(topic));
    expect((await ops.subscribeAsync('#', { qos: 1 })).map((g) => g.qos)).toEqual([1]);

    const other = await client(b.url, { username: 'plug-2', password: 'p2' });
    // A Shelly H&T report under its own name.
    await other.publishAsync('shellies/plug-2/sensor/temperature', '21.75', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(opsSeen).toEqual(['shellies/plug-2/sensor/temperature']);
    expect(seen).toEqual([]);
    expect(b.refused).toEqual([
      'subscribe_not_authorised',
      'subscribe_not_authorised',
      'subscribe_not_authorised',
    ]);
    expect(device.connected).toBe(true); // a refused subscription does not cost the connection
  });

  it('a publish outside its filters closes the connection unacknowledged and is not stored; its own topics are', async () => {
    const b = await withUsers();
    const c = await client(b.url, { username: 'plug-2', password: 'p2', clientId: 'esp-42' });
    await c.publishAsync('tele/plug-2/SENSOR', JSON.stringify({ ENERGY: { Power: 12 } }), { qos: 1 });
    await c.publishAsync('devices/esp-42/state', 'ON', { qos: 1 });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    const spoof = c.publishAsync('tele/plug-1/SENSOR', JSON.stringify({ ENERGY: { Power: 9999 } }), {
      qos: 1,
    });
    spoof.catch(() => {}); // never acknowledged: MQTT.js keeps it for a resend
    await closed;
    expect(b.received.map((m) => m.topic)).toEqual(['tele/plug-2/SENSOR', 'devices/esp-42/state']);
    expect(b.rejected).toEqual(['not_authorised']);
  });
});

describe('malformed strings ([MQTT-1.5.3-1], [MQTT-1.5.3-2])', () => {
  /** A raw MQTT 3.1.1 connection: CONNECT, then whatever bytes the test writes. */
  async function raw(port: number) {
    return rawMqtt(port, (c) => cleanups.push(c), { ignoreSocketErrors: true });
  }

  /** PUBLISH QoS 1, packet id 1, with the topic given as bytes. */
  function publishBytes(topic: Buffer, payload: string): Buffer {
    const body = Buffer.concat([
      Buffer.from([topic.length >> 8, topic.length & 0xff]),
      topic,
      Buffer.from([0, 1]),
      Buffer.from(payload),
    ]);
    return Buffer.concat([Buffer.from([0x32, body.length]), body]);
  }

  for (const [name, topic, reason] of [
    ['a NUL', Buffer.from('zigbee2mqtt/kitch\u0000en'), 'string_with_nul'],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from('zigbee2mqtt/k'), Buffer.from([0xc3, 0x28])]),
      'invalid_utf8',
    ],
  ] as const) {
    it(`a topic with ${name} closes the connection unacknowledged and is not stored`, async () => {
      const b = await started({ allowAnonymous: true });
      const r = await raw(b.port);
      r.socket.write(publishBytes(topic, '{"temperature":21.5}'));
      await r.closed;
      expect(r.packets.map((p) => p.cmd)).toEqual(['connack']);
      expect(b.received).toEqual([]);
      expect(b.refused).toEqual([reason]);
    });
  }

  it('well-formed UTF-8, a literal U+FFFD included, is stored as sent', async () => {
    const b = await started({ allowAnonymous: true });
    const r = await raw(b.port);
    r.socket.write(publishBytes(Buffer.from('zigbee2mqtt/küche-\uFFFD'), '{"temperature":21.5}'));
    await waitFor(() => r.packets.some((p) => p.cmd === 'puback'), 'PUBACK');
    expect(b.received.map((m) => m.topic)).toEqual(['zigbee2mqtt/küche-\uFFFD']);
    expect(b.refused).toEqual([]);
  });
});
