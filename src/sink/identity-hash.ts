/**
 * 64-bit key of a decoder identity, computed in JS. It replaced crypto.createHash('sha1') per
 * message, which cost ~3.8 µs (a native call, a Hash object and a Buffer each time); this costs
 * ~0.1 µs. The identity only has to tell redeliveries apart from new messages, and no sender gains
 * anything by forging a collision (it would only lose its own message), so a non-cryptographic
 * hash with the same 64-bit width keeps the same odds: ~2^32 identities before a collision is likely.
 *
 * The function is part of the stored data: a redelivery after an upgrade must hash the same, so
 * never change it without a migration that rewrites `messages.identity`.
 *
 * Its input changed once, without a migration, and on purpose: identities used to be
 * `ts:<topic>\0<ts>` / `id:<device>\0<id>`, which merged distinct messages sharing a timestamp;
 * they are now `p:<topic>\0<payload>` (decode/decoder.ts). Old rows keep their old hashes, which
 * nothing new can collide with. The one casualty: a message committed by the old version whose
 * PUBACK was lost, redelivered to the new one, is stored a second time. Rewriting old rows would
 * need every stored payload re-decoded under the config of the day; one possible duplicate per
 * in-flight message at the upgrade is the better trade.
 *
 * The lowest bit is not hash: it says whether the message's `ts` came from its payload (see
 * migrations.ts: such identities are indexed by (ts, identity), which appends instead of inserting at
 * random). That leaves 63 bits of hash, ~2^31.5 identities before a collision is likely.
 *
 * Since schema 4 an odd identity keeps only the low 47 bits of that key (a positive number below
 * 2^47): SQLite then stores it in 6 bytes instead of 8, in the row and in the index entry (issue #11:
 * bytes per message). It is unique only together with (device, ts) (v4-one-message-index.ts), so a
 * collision needs the same device, the same millisecond and the same 46 bits of hash. Even
 * identities are unique on their own, across the whole table, and keep all 64 bits. The migration to
 * schema 4 rewrites the odd identities of the newest rows, the only ones a redelivery can still
 * concern (see there).
 *
 * The mixing is cyrb53's (public domain, bryc/code jshash/experimental/cyrb53.js) kept at its full
 * 64 bits: two 32-bit lanes over the UTF-16 code units, cross-mixed at the end.
 */

const scratch = new DataView(new ArrayBuffer(8));

/** 2^47 - 1: what an odd identity keeps of the 64-bit key (in SQL: `identity & 140737488355327`). */
export const ODD_IDENTITY_MASK = 0x7fff_ffff_ffffn;

// The two lanes between feeds: the hash runs over a sequence of strings as over their concatenation.
let lane1 = 0;
let lane2 = 0;

function start(): void {
  lane1 = 0xdeadbeef;
  lane2 = 0x41c6ce57;
}

function feed(s: string): void {
  let h1 = lane1;
  let h2 = lane2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  lane1 = h1;
  lane2 = h2;
}

function finish(tsFromPayload: boolean): bigint {
  let h1 = lane1;
  let h2 = lane2;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // One BigInt allocation: the two lanes go through an 8-byte scratch view. An odd key keeps the low
  // 47 bits (ODD_IDENTITY_MASK): 15 of the high lane.
  scratch.setUint32(0, tsFromPayload ? h2 & 0x7fff : h2 >>> 0);
  scratch.setUint32(4, ((h1 & ~1) | (tsFromPayload ? 1 : 0)) >>> 0);
  return scratch.getBigInt64(0);
}

/**
 * Signed 64-bit integer (SQLite INTEGER) for `identity`: when `tsFromPayload` odd and below 2^47,
 * else even and 64 bits wide. Stable across versions and platforms.
 */
export function identityKey(identity: string, tsFromPayload: boolean): bigint {
  start();
  feed(identity);
  return finish(tsFromPayload);
}

/**
 * identityKey(`p:<topic>\0<body>`): a message's key from its topic and the decoder's identity
 * body (decode/types.ts Decoded.identity), without building that string. Joining it cost the writer
 * thread an allocation and a copy of the whole payload per message, only to be hashed once.
 */
export function messageIdentityKey(topic: string, body: string, tsFromPayload: boolean): bigint {
  start();
  feed('p:');
  feed(topic);
  feed('\u0000');
  feed(body);
  return finish(tsFromPayload);
}
