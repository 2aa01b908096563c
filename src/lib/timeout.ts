import { MqliteError } from './errors.js';

/** Bounds an await that touches the network or the disk. The timer never outlives the race. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new MqliteError('MQLITE_TIMEOUT', `${what} did not finish within ${ms} ms`)),
      ms,
    );
    timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
