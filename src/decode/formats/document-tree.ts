/**
 * What the CBOR and MessagePack decoders return → a tree shaped like parsed JSON, so the JSON path's
 * timestamp field, id field and flattening (../flatten.ts) apply unchanged:
 * - Maps become prototype-less objects. Integer, bigint and boolean keys are spelled as strings
 *   (`{1: 21.5}` → reading `1`); keys that cannot name a reading (arrays, maps, byte strings) are
 *   dropped. Decoding to Maps and copying here, rather than letting the libraries build objects,
 *   keeps a `__proto__` key an ordinary key instead of the object's prototype.
 * - 64-bit integers arrive as BigInt; they become the nearest double (readings are SQLite REALs:
 *   exact up to ±2^53). The exact value stays in the stored payload.
 * - Dates (CBOR tag 0/1, MessagePack timestamp -1) become ms since epoch, so a `ts` field works.
 * - Typed arrays (CBOR tags 64–87) become arrays of numbers; byte strings are not readings (null).
 * - Containers nested deeper than `maxDepth` reject the payload, as for JSON.
 * Iterative over an explicit stack: the depth bound is checked before any recursion could grow.
 */
import { type FormatRejected, rejected } from './format-types.js';

type Container = Record<string, unknown> | unknown[];

/** Normalize `root` (see the file comment), or explain why not. Never throws. */
export function toDocument(
  root: unknown,
  maxDepth: number,
  unwrapTag?: (v: object) => { value: unknown } | undefined,
): { ok: true; value: unknown } | FormatRejected {
  const top = convertLeaf(root, unwrapTag);
  if (top === null || typeof top !== 'object') return { ok: true, value: top };
  // [source, target, depth]; the target is filled from the source.
  const stack: [unknown, Container, number][] = [];
  const start = shell(top);
  stack.push([top, start, 1]);
  if (maxDepth < 1) return tooDeep(maxDepth);
  while (stack.length > 0) {
    const [source, target, depth] = stack.pop()!;
    const put = (key: string | number, raw: unknown): boolean => {
      const v = convertLeaf(raw, unwrapTag);
      if (v !== null && typeof v === 'object') {
        if (depth >= maxDepth) return false;
        const child = shell(v);
        (target as Record<string | number, unknown>)[key] = child;
        stack.push([v, child, depth + 1]);
      } else {
        (target as Record<string | number, unknown>)[key] = v;
      }
      return true;
    };
    if (source instanceof Map) {
      for (const [k, v] of source) {
        const key = keyOf(k);
        if (key !== undefined && !put(key, v)) return tooDeep(maxDepth);
      }
    } else if (Array.isArray(source)) {
      for (let i = 0; i < source.length; i++) if (!put(i, source[i])) return tooDeep(maxDepth);
    } else {
      for (const k of Object.keys(source as object)) {
        if (!put(k, (source as Record<string, unknown>)[k])) return tooDeep(maxDepth);
      }
    }
  }
  return { ok: true, value: start };
}

function tooDeep(maxDepth: number): FormatRejected {
  return rejected('payload_too_deep', `nested more than ${maxDepth} levels deep`);
}

/** An empty container of the right kind for a converted source. */
function shell(v: object): Container {
  return Array.isArray(v) ? new Array(v.length) : Object.create(null);
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
 * else that a decoder can produce (byte strings, class instances) is null: not a reading.
 */
function convertLeaf(v: unknown, unwrapTag?: (v: object) => { value: unknown } | undefined): unknown {
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
      if (v === null || v instanceof Map || Array.isArray(v)) return v;
      if (v instanceof Date) {
        const ms = v.getTime();
        return Number.isNaN(ms) ? null : ms;
      }
      if (ArrayBuffer.isView(v)) {
        if (v instanceof Uint8Array || v instanceof DataView) return null;
        // Float32Array, Int16Array, BigInt64Array…: numbers, BigInts through Number().
        return Array.from(v as unknown as ArrayLike<number | bigint>, Number);
      }
      if (v instanceof Set) return [...v];
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) return v;
      const tagged = unwrapTag?.(v);
      if (tagged !== undefined) return convertLeaf(tagged.value, unwrapTag);
      return null;
    }
    default:
      return null;
  }
}
