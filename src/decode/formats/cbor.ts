/**
 * CBOR (RFC 8949) → a JSON-shaped tree (document-tree.ts), through cbor-x: maintained, MIT, the
 * fastest JS decoder, with an optional native string extractor (cbor-extract, pinned in package.json
 * `overrides`; cbor-x falls back to pure JS when it is absent).
 *
 * Maps are decoded as Map (see document-tree.ts for why). cbor-x's own extensions (records, packed
 * values, shared structures) are off; a payload using them is rejected like any malformed one.
 * Trailing bytes after the first item are rejected: a payload is one CBOR item.
 */
import { Decoder, Tag } from 'cbor-x';
import { toDocument } from './document-tree.js';
import { type DocumentResult, rejected } from './format-types.js';

export interface BinaryDocumentOptions {
  maxDepth: number;
}

/** Builds the CBOR decoder once; the returned function never throws. */
export function createCborDecoder(opts: BinaryDocumentOptions): (payload: Uint8Array) => DocumentResult {
  const decoder = new Decoder({ mapsAsObjects: false, useRecords: false, structuredClone: false });
  const unwrapTag = (v: object) => (v instanceof Tag ? { value: (v as Tag).value } : undefined);
  return (payload) => {
    if (payload.byteLength === 0)
      return rejected('empty_payload', 'the payload is empty and the format is cbor');
    let root: unknown;
    try {
      root = decoder.decode(payload);
    } catch (err) {
      return failure('cbor', err, opts.maxDepth);
    }
    return toDocument(root, opts.maxDepth, unwrapTag);
  };
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
