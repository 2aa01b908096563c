/** Reading and writing nested values by dotted key; used by the loader and redaction. */
export type Tree = Record<string, unknown>;

export function getPath(tree: unknown, path: readonly (string | number | symbol)[]): unknown {
  let cur: unknown = tree;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number | symbol, unknown>)[p];
  }
  return cur;
}

export function setKey(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur: Tree = tree;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Tree;
  }
  cur[parts[parts.length - 1] as string] = value;
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
