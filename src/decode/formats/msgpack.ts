/**
 * MessagePack → a JSON-shaped tree (document-tree.ts), through msgpackr: maintained, MIT, ~35M
 * downloads a month, with an optional native string extractor (msgpackr-extract; pure JS without).
 *
 * Maps are decoded as objects, or as Maps when needed (see document-tree.ts); 64-bit integers as BigInt (int64AsType), made
 * numbers there; the timestamp extension (-1) as a Date. msgpackr's records extension is off;
 * other extension types are rejected. Trailing bytes after the first value are rejected.
 */
import type * as Msgpackr from 'msgpackr';
import type { BinaryDocumentOptions } from './cbor.js';
import { requireFormatLib, twoPass } from './cbor.js';
import { type DocumentResult, rejected } from './format-types.js';

/** Builds the MessagePack decoder once; the returned function never throws. */
export function createMsgpackDecoder(opts: BinaryDocumentOptions): (payload: Uint8Array) => DocumentResult {
  // Loaded at the first MessagePack payload (see requireFormatLib in cbor.ts).
  let lib: { asObjects: Msgpackr.Unpackr; asMaps: Msgpackr.Unpackr } | undefined;
  const load = () => {
    const { Unpackr } = requireFormatLib('msgpackr') as typeof Msgpackr;
    const base = { useRecords: false, int64AsType: 'bigint', structuredClone: false } as const;
    return {
      asObjects: new Unpackr({ ...base, mapsAsObjects: true }),
      asMaps: new Unpackr({ ...base, mapsAsObjects: false }),
    };
  };
  return (payload) => {
    if (payload.byteLength === 0) {
      return rejected('empty_payload', 'the payload is empty and the format is msgpack');
    }
    lib ??= load();
    const { asObjects, asMaps } = lib;
    return twoPass(
      payload,
      (p) => asObjects.unpack(p),
      (p) => asMaps.unpack(p),
      'msgpack',
      opts.maxDepth,
    );
  };
}
