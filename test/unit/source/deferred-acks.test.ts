/**
 * DeferredAcks reports acks lost with their connection in sums, not one by one: each report is a
 * log line ("connection closed with acks held"), and a keepalive timeout destroys the socket a
 * moment before its 'close', while commits may still settle a chunk of hundreds of held acks.
 */
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { DeferredAcks } from '../../../src/source/deferred-acks.js';

class FakeStream extends EventEmitter {
  destroyed = false;
  writableEnded = false;
  readonly written: Buffer[] = [];
  write(buf: Buffer): boolean {
    this.written.push(buf);
    return true;
  }
}

function fakeClient(stream: FakeStream) {
  const client = Object.assign(new EventEmitter(), {
    stream,
    _sendPacket(_packet: unknown, cb?: () => void): void {
      cb?.();
    },
  });
  return { client: client as unknown as MqttClient };
}

/** Tracks `n` QoS 1 messages and lets MQTT.js produce their PUBACKs (held, not written). */
function receive(acks: DeferredAcks, client: MqttClient, n: number): number[] {
  const internals = client as unknown as { _sendPacket: (p: unknown, cb?: () => void) => void };
  return Array.from({ length: n }, (_, i) => {
    const token = acks.track(1);
    // What MQTT.js's QoS 1 publish handler does when handleMessage calls back: send the PUBACK.
    acks.release(token, () => internals._sendPacket({ cmd: 'puback', messageId: i + 1 }));
    return token;
  });
}

const tick = (): Promise<void> => new Promise((r) => process.nextTick(r));

describe('DeferredAcks: acks lost with their connection', () => {
  it('commits settled after the socket was destroyed, before its close: one report for the chunk', async () => {
    const reports: number[] = [];
    const acks = new DeferredAcks((n) => reports.push(n));
    const stream = new FakeStream();
    const { client } = fakeClient(stream);
    acks.install(client);
    const tokens = receive(acks, client, 500);
    stream.destroyed = true; // MQTT.js's keepalive timeout: stream.destroy(), 'close' comes later
    for (const t of tokens) acks.settle(t, 'committed');
    await tick();
    expect(reports).toEqual([500]);
    expect(stream.written).toEqual([]);
    stream.emit('close');
    expect(reports).toEqual([500]); // nothing held any more: no second report
  });

  it('acks still held at close are reported once, and released ones on a live socket are written', async () => {
    const reports: number[] = [];
    const acks = new DeferredAcks((n) => reports.push(n));
    const stream = new FakeStream();
    const { client } = fakeClient(stream);
    acks.install(client);
    const tokens = receive(acks, client, 10);
    for (const t of tokens.slice(0, 4)) acks.settle(t, 'committed');
    await tick();
    expect(Buffer.concat(stream.written)).toHaveLength(4 * 4); // four PUBACKs, 4 bytes each
    stream.destroyed = true;
    stream.emit('close');
    expect(reports).toEqual([6]);
  });
});
