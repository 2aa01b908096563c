/** Parsing of human-friendly sizes and addresses used by config keys. Pure. */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** "64MB", "256KiB", "1048576" or a number → bytes; undefined when it is not a size. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** "127.0.0.1:1883", "[::1]:1883", ":1883" (all interfaces) → host and port. */
export function parseHostPort(v: string): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** "30d", "12h", "90m", "1.5y" or a number of milliseconds → ms; undefined when it is not one. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = DURATION_UNITS[(m[2] ?? '').toLowerCase()] as number;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A free-space floor: bytes, or a percentage of the volume's size ("5%"). */
export type FreeSpaceFloor = { readonly bytes: number } | { readonly percentOfVolume: number };

export function parseFreeSpaceFloor(v: unknown): FreeSpaceFloor | undefined {
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
    if (m) {
      const p = Number(m[1]);
      return p <= 90 ? { percentOfVolume: p } : undefined;
    }
  }
  const bytes = parseSize(v);
  return bytes === undefined ? undefined : { bytes };
}
