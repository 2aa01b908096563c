/**
 * Shared pieces of the fault-injection tests (kill, broker restart, link cut): a seeded random
 * source so the moments of every fault can be replayed, a free port that a restarted process
 * can bind again, and a plain sleep.
 */
import { freePort } from './free-port.js';

export interface SeededRandom {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
}

/**
 * The seed of a fault-injection run: MQLITE_TEST_SEED if set (to replay a failure), else a new
 * one. Logged, so that a failing run can be reproduced with the same fault moments.
 */
export function testRandom(what: string): SeededRandom {
  const env = process.env.MQLITE_TEST_SEED;
  const seed =
    env !== undefined && env !== '' ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`[${what}] seed ${seed} (replay with MQLITE_TEST_SEED=${seed})`);
  return seededRandom(seed);
}

/** mulberry32: tiny, fast, good enough to spread fault moments; not for anything else. */
export function seededRandom(seed: number): SeededRandom {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `p`, or a rejection naming `what` after `ms`: no test waits forever on a wedged pipeline. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export { freePort };
