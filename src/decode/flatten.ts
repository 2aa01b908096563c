/**
 * Parsed JSON → readings. Numeric leaves become readings named by their key path joined with
 * '.', booleans become 1/0, array indexes are path segments (`a.0`), strings that are state words
 * ("ON", "online", …) become 1/0 and other strings and null are not readings. Non-finite numbers
 * (JSON.parse turns 1e400 into Infinity; SQLite REAL cannot hold them usefully) are skipped and
 * counted, and readings beyond the cap are counted, not stored.
 * Recursion is safe here: the decoder has already bounded the depth (json-depth.ts).
 * Duplicate keys in the text: JSON.parse keeps the last value (ECMA-262 §25.5.1), and so do we.
 */
import type { Reading } from './types.js';

/** Where a value sits: its container and its key there (an array index as a string). */
export interface Located {
  holder: object;
  key: string;
  value: unknown;
}

/**
 * Follow a dot path through parsed JSON. Own properties only, so 'constructor' or 'toString'
 * in a path never finds Object.prototype's functions. Undefined when absent.
 */
export function locate(root: unknown, path: readonly string[]): Located | undefined {
  const holder = holderOf(root, path);
  if (holder === undefined) return undefined;
  const key = path[path.length - 1]!;
  return { holder, key, value: (holder as Record<string, unknown>)[key] };
}

/**
 * The container that holds `path`'s last key as an own property, or undefined: what locate()
 * finds without allocating its result (the decoder looks up the timestamp and id fields of every
 * message; the key is the path's last segment and the value `holder[key]`).
 */
export function holderOf(root: unknown, path: readonly string[]): object | undefined {
  let holder: unknown = root;
  const last = path.length - 1;
  for (let i = 0; i <= last; i++) {
    if (typeof holder !== 'object' || holder === null) return undefined;
    const key = path[i]!;
    if (!Object.hasOwn(holder, key)) return undefined;
    if (i === last) return holder;
    holder = (holder as Record<string, unknown>)[key];
  }
  return undefined;
}

/** State of one flatten run; the skip pairs are the timestamp and id fields, which are not readings. */
export interface FlattenRun {
  /**
   * Readings are written to out[0..n). An index, not push: the decoder reuses one array, and
   * emptying it (length = 0) would drop its backing store, grown again by the next message.
   */
  readonly out: Reading[];
  n: number;
  readonly max: number;
  /** 1 or 0 for a string that is a state word, else undefined. Absent: strings are never readings. */
  readonly stateOf?: ((s: string) => number | undefined) | undefined;
  /** Readings past `max`, counted and not stored. */
  capped: number;
  /** Non-finite numbers skipped. */
  nonFinite: number;
  // Not readonly: the decoder reuses one run for every message (no object per message).
  skipHolderA: object | undefined;
  skipKeyA: string;
  skipHolderB: object | undefined;
  skipKeyB: string;
}

/**
 * Append the readings of container `node` (object or array) under `prefix` (undefined at the root).
 * Readings beyond `run.max` are counted in `run.capped`; returns false when there were any.
 */
export function flattenInto(run: FlattenRun, node: object, prefix: string | undefined): boolean {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) leaf(run, node, String(i), node[i], prefix);
  } else {
    const rec = node as Record<string, unknown>;
    // for-in, not Object.keys: objects of one shape share V8's enum cache, so no array of keys per
    // object. Same order as Object.keys (own enumerable string keys); inherited ones are skipped.
    for (const key in rec) if (Object.hasOwn(rec, key)) leaf(run, node, key, rec[key], prefix);
  }
  return run.capped === 0;
}

function leaf(
  run: FlattenRun,
  holder: object,
  key: string,
  value: unknown,
  prefix: string | undefined,
): void {
  if (
    (holder === run.skipHolderA && key === run.skipKeyA) ||
    (holder === run.skipHolderB && key === run.skipKeyB)
  ) {
    return;
  }
  let n: number;
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) {
        run.nonFinite++;
        return;
      }
      n = value;
      break;
    case 'boolean':
      n = value ? 1 : 0;
      break;
    case 'object':
      if (value === null) return;
      flattenInto(run, value, prefix === undefined ? key : `${prefix}.${key}`);
      return;
    case 'string': {
      const state = run.stateOf?.(value);
      if (state === undefined) return; // other strings: a reading is a number
      n = state;
      break;
    }
    default:
      return;
  }
  if (run.n >= run.max) {
    run.capped++;
    return;
  }
  run.out[run.n++] = { metric: prefix === undefined ? key : `${prefix}.${key}`, value: n };
}
