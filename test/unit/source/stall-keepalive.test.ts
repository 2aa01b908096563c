/**
 * StallKeepalive against MQTT.js's own keepalive code: the real KeepaliveManager drives a client
 * whose keepalive methods are MqttClient.prototype's (only the socket side is faked), so this is
 * also the guard that fails if MQTT.js renames or rewires what stall-keepalive.ts hooks.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type KeepaliveClient,
  missingKeepaliveInternals,
  StallKeepalive,
} from '../../../src/source/stall-keepalive.js';

const KEEPALIVE_S = 10;
const K = KEEPALIVE_S * 1000;

type Manager = { reschedule(): void; destroy(): void };
const KeepaliveManager = (
  createRequire(import.meta.url)('mqtt/lib/KeepaliveManager') as {
    default: new (client: unknown, variant: unknown) => Manager;
  }
).default;

const proto = MqttClient.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;

/** A client with MQTT.js's keepalive methods, a recorded wire and a recorded disconnect. */
class FakeClient extends EventEmitter {
  readonly keepalive = KEEPALIVE_S;
  readonly options = { reschedulePings: true };
  keepaliveManager: Manager | null = null;
  readonly pings: number[] = [];
  deadAt: number | undefined;
  reschedulePing = proto.reschedulePing as (force?: boolean) => void;
  _reschedulePing = proto._reschedulePing;
  sendPing = proto.sendPing as () => void;
  onKeepaliveTimeout = proto.onKeepaliveTimeout as () => void;
  log(): void {}
  _sendPacket(packet: { cmd: string }): void {
    if (packet.cmd === 'pingreq') this.pings.push(Date.now());
  }
  /** MQTT.js's keepalive timeout calls this with force: the connection is given up. */
  _cleanUp(): void {
    this.deadAt = Date.now();
    this.keepaliveManager?.destroy();
  }
  /** As MQTT.js does on CONNACK (client.js `_onConnect`: `_setupKeepaliveManager`, later 'connect'). */
  connect(): void {
    this.keepaliveManager = new KeepaliveManager(this, {
      set: (fn: () => void, ms: number) => setInterval(fn, ms),
      clear: (id: NodeJS.Timeout) => clearInterval(id),
    });
    this.emit('connect', {});
  }
  /** As handlers/index.js does with a PINGRESP. */
  pingresp(): void {
    this.emit('packetreceive', { cmd: 'pingresp' });
    this.reschedulePing(true);
  }
}

let client: FakeClient;
let keepalive: StallKeepalive;
let rePings: number[];
const errors: Error[] = [];

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  client = new FakeClient();
  client.on('error', (e: Error) => errors.push(e));
  rePings = [];
  keepalive = new StallKeepalive({ onRePing: (n) => rePings.push(n) });
  keepalive.install(client as unknown as KeepaliveClient);
  client.connect();
});
afterEach(() => {
  client.keepaliveManager?.destroy();
  vi.useRealTimers();
  errors.length = 0;
});

/** Holds reading from `at` ms and releases it `forMs` later. */
function holdAt(at: number, forMs: number): void {
  setTimeout(() => {
    const release = keepalive.hold(() => {});
    setTimeout(release, forMs);
  }, at);
}

function maxGap(times: number[]): number {
  let gap = times[0] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] as number) - (times[i - 1] as number));
  return gap;
}

describe('MQTT.js internals guard', () => {
  it('MqttClient still has sendPing, onKeepaliveTimeout and reschedulePing', () => {
    expect(missingKeepaliveInternals()).toEqual([]);
  });

  it('stock MQTT.js: PINGREQ at one keepalive, disconnect at 1.5 when no PINGRESP comes', () => {
    const stock = new FakeClient();
    stock.on('error', () => {});
    stock.connect();
    vi.advanceTimersByTime(2 * K);
    expect(stock.pings).toEqual([K]);
    expect(stock.deadAt).toBe(1.5 * K);
  });

  it('a PINGRESP reschedules through reschedulePing', () => {
    vi.advanceTimersByTime(K + 100);
    client.pingresp();
    vi.advanceTimersByTime(K + 100);
    expect(client.pings).toEqual([K, 2 * K + 100]);
    expect(client.deadAt).toBeUndefined();
  });

  it('an MQTT.js without the hooked methods stays stock and says which are missing', () => {
    const missing: string[][] = [];
    const bare = new FakeClient();
    const before = bare.onKeepaliveTimeout;
    new StallKeepalive({ onStockKeepalive: (m) => missing.push(m) }).install(
      bare as unknown as KeepaliveClient,
      { sendPing() {} },
    );
    expect(missing).toEqual([['onKeepaliveTimeout', 'reschedulePing']]);
    expect(bare.onKeepaliveTimeout).toBe(before);
  });
});

describe('StallKeepalive', () => {
  it('no hold: a silent broker is given up at 1.5 keepalives, as stock', () => {
    vi.advanceTimersByTime(3 * K);
    expect(client.deadAt).toBe(1.5 * K);
    expect(errors.map((e) => e.message)).toEqual(['Keepalive timeout']);
    expect(rePings).toEqual([]);
  });

  it('reading held and moving: pings again at every timeout, never disconnects, PINGREQs ≤ 1 keepalive apart', () => {
    for (let t = 1000; t < 20 * K; t += 2000) holdAt(t, 1500); // a slow writer: held, taken, held…
    vi.advanceTimersByTime(20 * K);
    expect(client.deadAt).toBeUndefined();
    expect(rePings).toEqual(Array.from({ length: rePings.length }, (_, i) => i + 1));
    expect(rePings.length).toBeGreaterThan(10);
    expect(maxGap(client.pings)).toBeLessThanOrEqual(K);
  });

  it('a PINGRESP starts the count of re-pings over', () => {
    for (let t = 1000; t < 10 * K; t += 2000) holdAt(t, 1500);
    vi.advanceTimersByTime(4 * K);
    expect(rePings.length).toBeGreaterThan(1);
    client.pingresp();
    rePings.length = 0;
    vi.advanceTimersByTime(2 * K);
    expect(rePings[0]).toBe(1);
  });

  it('reading held and never released (writer stuck): one re-ping, then the stock disconnect', () => {
    keepalive.hold(() => {});
    vi.advanceTimersByTime(5 * K);
    expect(rePings).toEqual([1]);
    expect(client.pings).toEqual([K, 1.5 * K, 2.5 * K]);
    expect(client.deadAt).toBe(3 * K);
  });

  it('a hold released inside the window earns a re-ping; the next window without one times out', () => {
    holdAt(2000, 10_000); // held 2–12 s, then reading is free and still no PINGRESP
    vi.advanceTimersByTime(5 * K);
    expect(rePings).toEqual([1]);
    expect(client.deadAt).toBe(3 * K);
  });

  it('a hold before the last PINGRESP does not count', () => {
    holdAt(1000, 5000); // released at 6 s
    vi.advanceTimersByTime(9000);
    client.pingresp(); // at 9 s: a new window, no hold in it
    vi.advanceTimersByTime(3 * K);
    expect(rePings).toEqual([]);
    expect(client.deadAt).toBe(9000 + 1.5 * K);
  });

  it('a new connection starts over: its first hold earns a re-ping again', () => {
    keepalive.hold(() => {}); // stuck on the first connection
    vi.advanceTimersByTime(3 * K);
    expect(client.deadAt).toBe(3 * K);
    client.deadAt = undefined;
    client.connect(); // the reconnect; the old pipeline is still held
    vi.advanceTimersByTime(1.5 * K);
    expect(rePings).toEqual([1, 1]);
    expect(client.deadAt).toBeUndefined();
  });
});
