import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { limitPacketSize } from '../../../src/broker/packet-size-guard.js';

function publishBytes(payloadBytes: number): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    topic: 't',
    payload: Buffer.alloc(payloadBytes),
    qos: 0,
    dup: false,
    retain: false,
  });
}

describe('limitPacketSize (mqtt-packet 9 parser internals)', () => {
  it('errors on the fixed header of an oversize packet, before its body arrives', () => {
    const parser = mqttPacket.parser();
    const seen: string[] = [];
    const errors: Error[] = [];
    parser.on('packet', (p) => seen.push(p.cmd));
    parser.on('error', (e) => errors.push(e));
    expect(limitPacketSize({ _parser: parser }, 1000, (cmd) => seen.push(`too-large:${cmd}`))).toBe(true);

    parser.parse(publishBytes(10));
    expect(seen).toEqual(['publish']);
    // Only the first 5 bytes (type + remaining length) of a 10 MB publish: no body was sent.
    parser.parse(publishBytes(10 * 1024 * 1024).subarray(0, 5));
    expect(seen).toEqual(['publish', 'too-large:publish']);
    expect(errors[0]?.message).toMatch(/exceeds the limit of 1000/);
  });

  it('lets a packet of exactly the limit through', () => {
    const parser = mqttPacket.parser();
    const bytes = publishBytes(100);
    const remaining = bytes.length - 2; // 1 type byte + 1 length byte
    const seen: string[] = [];
    parser.on('packet', (p) => seen.push(p.cmd));
    limitPacketSize({ _parser: parser }, remaining, () => seen.push('too-large'));
    parser.parse(bytes);
    expect(seen).toEqual(['publish']);
  });

  it('reports when the internals are missing instead of throwing', () => {
    expect(limitPacketSize({}, 10, () => {})).toBe(false);
    expect(limitPacketSize({ _parser: {} }, 10, () => {})).toBe(false);
  });
});
