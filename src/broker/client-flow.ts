/**
 * Stops and restarts reading from one aedes client while the queue is full.
 *
 * Neither holding authorizePublish's callback nor `client.conn.pause()` does this: aedes
 * reads with `conn.read()` from a 'readable' listener (aedes 1.2.0 lib/client.js nextBatch),
 * every 'readable' event reads the next chunk even while packets are pending, and Node
 * ignores pause() on a stream with a 'readable' listener (stream docs, readable.pause()).
 * aedes's own `client.pause()` (used around authentication, handlers/connect.js) makes
 * nextBatch a no-op, which is what we want; but nextBatch calls swallowed while paused never
 * decrement its `_parsingBatch` count, so its `resume()` alone could leave the count above 0
 * and never read again. We reset the count to one pending read before resuming. Private
 * fields, pinned with aedes 1.2.0; broker-acks.test.ts fails if this stops working.
 */
export interface FlowClient {
  pause?: () => void;
  resume?: () => void;
  _parsingBatch?: number;
  closed?: boolean;
}

const pauses = new WeakMap<object, number>();

/** Returns false if the aedes internals are missing (then nothing is paused). */
export function pauseReading(client: object): boolean {
  const c = client as FlowClient;
  if (typeof c.pause !== 'function' || typeof c.resume !== 'function') return false;
  const n = pauses.get(client) ?? 0;
  pauses.set(client, n + 1);
  if (n === 0) c.pause();
  return true;
}

/** Undoes one pauseReading; reading restarts when the last one is undone. */
export function resumeReading(client: object): void {
  const c = client as FlowClient;
  const n = pauses.get(client);
  if (n === undefined) return;
  if (n > 1) {
    pauses.set(client, n - 1);
    return;
  }
  pauses.delete(client);
  if (c.closed === true || typeof c.resume !== 'function') return;
  if (typeof c._parsingBatch === 'number' && c._parsingBatch > 1) c._parsingBatch = 1;
  c.resume();
}
