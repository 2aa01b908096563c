/**
 * CBOR (RFC 8949) → a JSON-shaped tree (document-tree.ts), through cbor-x: maintained, MIT, the
 * fastest JS decoder, with an optional native string extractor (cbor-extract, pinned in package.json
 * `overrides`; cbor-x falls back to pure JS when it is absent).
 *
 * Maps are decoded as objects, or as Maps when needed (see document-tree.ts). cbor-x's own extensions (records, packed
 * values, shared structures) are off; a payload using them is rejected like any malformed one.
 * Trailing bytes after the first item are rejected: a payload is one CBOR item.
 */
import { createRequire } from 'node:module';
import type * as CborX from 'cbor-x';
import { toDocument, type Unwrap } from './document-tree.js';
import { type DocumentResult, rejected } from './format-types.js';

/**
 * cbor-x (and msgpackr, msgpack.ts) are loaded at the first payload of their format, not at start:
 * most configurations never see one, and each added megabytes to the SQLite worker's resident memory
 * (issue #11, idle RSS: cbor-x ~11 MB, msgpackr ~3 MB in a bare process). Through require, which is
 * synchronous like a decode: both ship a CommonJS build (dist/node.cjs).
 */
export const requireFormatLib = createRequire(import.meta.url);

export interface BinaryDocumentOptions {
  maxDepth: number;
}

/** Builds the CBOR decoder once; the returned function never throws. */
export function createCborDecoder(opts: BinaryDocumentOptions): (payload: Uint8Array) => DocumentResult {
  let lib: { asObjects: CborX.Decoder; asMaps: CborX.Decoder; unwrapTag: Unwrap } | undefined;
  const load = () => {
    const { Decoder, Tag } = requireFormatLib('cbor-x') as typeof CborX;
    const base = { useRecords: false, structuredClone: false } as const;
    return {
      asObjects: new Decoder({ ...base, mapsAsObjects: true }),
      asMaps: new Decoder({ ...base, mapsAsObjects: false }),
      unwrapTag: (v: object) => (v instanceof Tag ? { value: (v as CborX.Tag).value } : undefined),
    };
  };
  return (payload) => {
    if (payload.byteLength === 0)
      return rejected('empty_payload', 'the payload is empty and the format is cbor');
    lib ??= load();
    const { asObjects, asMaps, unwrapTag } = lib;
    return twoPass(
      payload,
      (p) => asObjects.decode(p),
      (p) => asMaps.decode(p),
      'cbor',
      opts.maxDepth,
      unwrapTag,
    );
  };
}

/** `__proto__` in UTF-8, as a key spells it in either format. */
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

/**
 * Whether the bytes hold `__proto__`. Uint8Array#indexOf for its first byte is a V8 builtin
 * called on the payload as it is; a Buffer over it plus Buffer#indexOf cost ~10% of a small
 * document's decode (profiled on the decode bench).
 */
function hasProtoKey(p: Uint8Array): boolean {
  const last = p.length - PROTO.length;
  for (let i = p.indexOf(0x5f); i >= 0 && i <= last; i = p.indexOf(0x5f, i + 1)) {
    let k = 1;
    while (k < PROTO.length && p[i + k] === PROTO[k]) k++;
    if (k === PROTO.length) return true;
  }
  return false;
}

/**
 * Decode to plain objects (fast); when that fails or the tree needs Maps (a `__proto__` key, a key
 * that is not a string or number: see document-tree.ts), decode again to Maps. Exported for msgpack.ts.
 */
export function twoPass(
  payload: Uint8Array,
  fast: (p: Uint8Array) => unknown,
  safe: (p: Uint8Array) => unknown,
  format: 'cbor' | 'msgpack',
  maxDepth: number,
  unwrapTag?: Unwrap,
): DocumentResult {
  // msgpackr renames a `__proto__` key and cbor-x lets it replace the prototype: such payloads
  // (rare, and found by a native byte search) go straight to Maps.
  if (!hasProtoKey(payload)) {
    try {
      const doc = toDocument(fast(payload), maxDepth, unwrapTag);
      if (doc !== 'retry') return doc;
    } catch {
      // Retried below with Maps, which accept any key; a real fault fails there too, and is reported.
    }
  }
  let root: unknown;
  try {
    root = safe(payload);
  } catch (err) {
    return failure(format, err, maxDepth);
  }
  const doc = toDocument(root, maxDepth, unwrapTag);
  // Maps never need a retry; a class instance the walk does not know is then simply not a reading.
  return doc === 'retry'
    ? rejected(format === 'cbor' ? 'invalid_cbor' : 'invalid_msgpack', 'unsupported value')
    : doc;
}

/** A decoder's exception → a rejection. Exported for msgpack.ts. */
export function failure(format: 'cbor' | 'msgpack', err: unknown, maxDepth: number): DocumentResult {
  // The libraries recurse per nesting level: a payload of thousands of one-byte array headers
  // overflows the stack before anything is built. V8 reports that as a catchable RangeError.
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return rejected('payload_too_deep', `nested more than ${maxDepth} levels deep`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return rejected(format === 'cbor' ? 'invalid_cbor' : 'invalid_msgpack', message);
}
