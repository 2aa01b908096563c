/**
 * What the CBOR and MessagePack decoders return → a tree shaped like parsed JSON, so the JSON path's
 * timestamp field, id field and flattening (../flatten.ts) apply unchanged:
 * - Maps become objects. Integer, bigint and boolean keys are spelled as strings (`{1: 21.5}` →
 *   reading `1`); keys that cannot name a reading (arrays, maps, byte strings) are dropped.
 * - 64-bit integers arrive as BigInt; they become the nearest double (readings are SQLite REALs:
 *   exact up to ±2^53). The exact value stays in the stored payload.
 * - Dates (CBOR tag 0/1, MessagePack timestamp -1) become ms since epoch, so a `ts` field works.
 * - Typed arrays (CBOR tags 64–87) become arrays of numbers; byte strings are not readings (null).
 * - Containers nested deeper than `maxDepth` reject the payload, as for JSON.
 *
 * The libraries build plain objects fastest, and the tree is fixed up in place. Two things only a
 * Map can carry safely, a `__proto__` key (cbor-x assigns it, replacing the object's prototype)
 * and a key that is not a string or number, are detected here (`retry`): the format then decodes
 * again with Maps, which are copied into prototype-less objects. Iterative over an explicit stack,
 * so the depth bound holds before any recursion could grow.
 */
import { types } from 'node:util';
import { type FormatRejected, rejected } from './format-types.js';

export type Unwrap = (v: object) => { value: unknown } | undefined;

type Walked = { ok: true; value: unknown } | FormatRejected | 'retry';

/** Fix up `root` in place (see the file comment), or explain why not. Never throws. */
export function toDocument(root: unknown, maxDepth: number, unwrapTag?: Unwrap): Walked {
  const top = convertLeaf(root, unwrapTag);
  if (top === RETRY) return 'retry';
  if (top === null || typeof top !== 'object') return { ok: true, value: top };
  const start = types.isMap(top) ? fromMap(top as Map<unknown, unknown>) : top;
  // Parallel stacks: no pair allocated per container.
  const nodes: object[] = [start];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string | number, unknown>;
    const depth = depths.pop()!;
    const keys = Array.isArray(node) ? undefined : Object.keys(node);
    const n = keys === undefined ? (node as unknown as unknown[]).length : keys.length;
    for (let i = 0; i < n; i++) {
      const key = keys === undefined ? i : keys[i]!;
      const raw = node[key];
      // Scalars as they come from the decoders (most values) need no conversion.
      const t = typeof raw;
      if (t === 'number' || t === 'string' || t === 'boolean') continue;
      const v = convertLeaf(raw, unwrapTag);
      if (v === RETRY) return 'retry';
      if (v !== null && typeof v === 'object') {
        if (depth >= maxDepth)
          return rejected('payload_too_deep', `nested more than ${maxDepth} levels deep`);
        const child = types.isMap(v) ? fromMap(v as Map<unknown, unknown>) : v;
        if (child !== raw) node[key] = child;
        nodes.push(child);
        depths.push(depth + 1);
      } else if (v !== raw) {
        node[key] = v;
      }
    }
  }
  return { ok: true, value: start };
}

const RETRY = Symbol('retry');

/** A Map's entries as a prototype-less object (a `__proto__` key is then an ordinary key). */
function fromMap(m: Map<unknown, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of m) {
    const key = keyOf(k);
    if (key !== undefined) out[key] = v;
  }
  return out;
}

function keyOf(k: unknown): string | undefined {
  switch (typeof k) {
    case 'string':
      return k;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(k);
    default:
      return undefined;
  }
}

/**
 * A scalar as JSON would have it, or a container to walk (Map, array, plain object). Anything
 * else a decoder can produce (byte strings, class instances) is null: not a reading. An object
 * whose prototype is not Object's had its prototype replaced by a `__proto__` key: RETRY.
 */
function convertLeaf(v: unknown, unwrapTag?: Unwrap): unknown {
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return Number(v);
    case 'undefined':
      return null;
    case 'object': {
      if (v === null || Array.isArray(v)) return v;
      const proto: unknown = Object.getPrototypeOf(v);
      // node:util types look at internal slots: an object whose prototype a `__proto__` key set to
      // a Map or a Date is not mistaken for one.
      if (proto === Object.prototype || proto === null || types.isMap(v)) return v;
      if (types.isDate(v)) {
        const ms = v.getTime();
        return Number.isNaN(ms) ? null : ms;
      }
      if (ArrayBuffer.isView(v)) {
        if (v instanceof Uint8Array || v instanceof DataView) return null;
        // Float32Array, Int16Array, BigInt64Array…: numbers, BigInts through Number().
        return Array.from(v as unknown as ArrayLike<number | bigint>, Number);
      }
      if (types.isSet(v)) return [...(v as Set<unknown>)];
      const tagged = unwrapTag?.(v);
      if (tagged !== undefined) return convertLeaf(tagged.value, unwrapTag);
      // Not a class the decoders make: a plain object whose prototype a `__proto__` key replaced.
      return RETRY;
    }
    default:
      return null;
  }
}
