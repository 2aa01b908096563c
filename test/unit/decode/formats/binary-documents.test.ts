import { describe, expect, it } from 'vitest';
import { createCborDecoder } from '../../../../src/decode/formats/cbor.js';
import type { DocumentResult } from '../../../../src/decode/formats/format-types.js';
import { createMsgpackDecoder } from '../../../../src/decode/formats/msgpack.js';
import { fixtureText } from './fixtures.js';

const cbor = createCborDecoder({ maxDepth: 32 });
const msgpack = createMsgpackDecoder({ maxDepth: 32 });
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.trim(), 'hex'));

function value(r: DocumentResult): unknown {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r.value;
}

/** Plain objects for toEqual: the decoders build prototype-less ones. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

interface Example {
  hex: string;
  tree: unknown;
  diag?: string;
  name?: string;
}
const examples = (path: string): [string, Example][] =>
  (JSON.parse(fixtureText(path)) as { examples: Example[] }).examples.map((e) => [
    e.diag ?? e.name ?? e.hex,
    e,
  ]);

describe('CBOR: RFC 8949 Appendix A', () => {
  it.each(examples('cbor/rfc8949-appendix-a.json'))('%s', (_, e) => {
    expect(plain(value(cbor(hex(e.hex))))).toEqual(e.tree);
  });

  it('reads a SenML pack (RFC 8428) with integer labels as string keys', () => {
    const tree = value(cbor(hex(fixtureText('cbor/senml-rfc8428.cbor.hex')))) as Record<string, unknown>[];
    expect(tree).toHaveLength(7);
    expect(plain(tree[0])).toMatchObject({ '-2': 'urn:dev:ow:10e2073a0108006:', '0': 'voltage', '2': 120.1 });
    expect(plain(tree[1])).toEqual({ '0': 'current', '6': -5, '2': 1.2 });
  });
});

describe('MessagePack: specification examples', () => {
  it.each(examples('msgpack/spec-examples.json'))('%s', (_, e) => {
    expect(plain(value(msgpack(hex(e.hex))))).toEqual(e.tree);
  });
});

describe.each([
  ['cbor', cbor, 'invalid_cbor'],
  ['msgpack', msgpack, 'invalid_msgpack'],
] as const)('%s: what is refused and why', (_, decode, invalid) => {
  it('refuses empty, truncated and trailing-garbage payloads', () => {
    expect(decode(new Uint8Array(0))).toMatchObject({ ok: false, reason: 'empty_payload' });
    // A map header announcing one entry, then nothing.
    expect(decode(hex(invalid === 'invalid_cbor' ? 'a1' : '81'))).toMatchObject({
      ok: false,
      reason: invalid,
    });
    expect(decode(hex('0102'))).toMatchObject({ ok: false, reason: invalid });
  });

  it('refuses nesting deeper than the bound, however deep, without crashing', () => {
    const header = invalid === 'invalid_cbor' ? 0x81 : 0x91; // an array of one element
    const nested = (n: number) => new Uint8Array([...new Array(n).fill(header), 0x01]);
    expect(plain(value(decode(nested(31))))).toEqual(JSON.parse(`${'['.repeat(31)}1${']'.repeat(31)}`));
    expect(decode(nested(33))).toMatchObject({ ok: false, reason: 'payload_too_deep' });
    expect(decode(nested(200_000))).toMatchObject({ ok: false, reason: 'payload_too_deep' });
  });

  it('refuses a declared length far beyond the payload without allocating it', () => {
    const huge = invalid === 'invalid_cbor' ? '9a7fffffff01' : 'dd7fffffff01';
    expect(decode(hex(huge))).toMatchObject({ ok: false, reason: invalid });
  });
});

describe('map keys', () => {
  it('keeps a __proto__ key as an ordinary key, never as the prototype', () => {
    // {"__proto__": {"x": 1}, "a": 2}
    const mp = value(msgpack(hex('82a95f5f70726f746f5f5f81a17801a16102'))) as Record<string, unknown>;
    const cb = value(cbor(hex('a2695f5f70726f746f5f5fa1617801616102'))) as Record<string, unknown>;
    for (const tree of [mp, cb]) {
      expect(Object.keys(tree)).toEqual(['__proto__', 'a']);
      expect(Object.getPrototypeOf(tree)).toBeNull();
      expect((tree as { x?: unknown }).x).toBeUndefined();
    }
  });

  it('drops keys that cannot name a reading (an array as a key) and keeps the rest', () => {
    // CBOR {[1, 2]: 5, "t": 1}
    expect(plain(value(cbor(hex('a2820102056174 01'.replace(' ', '')))))).toEqual({ t: 1 });
  });

  it('reads a CBOR typed array (tag 85, float32 little-endian) as numbers', () => {
    expect(value(cbor(hex('d85548 0000c03f 00002040'.replaceAll(' ', ''))))).toEqual([1.5, 2.5]);
  });
});
