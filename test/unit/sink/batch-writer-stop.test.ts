import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { busy, Deferred, setup } from './fakes.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('BatchWriter stop', () => {
  it('drains what is queued at once, without waiting for maxDelayMs', async () => {
    const { queue, sink, msgs, writer } = setup({ maxBatch: 2, flushAt: 100, maxDelayMs: 60_000 });
    await writer.start();
    queue.push(...msgs.make(5));
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toEqual([]);
    queue.close();
    await writer.stop();
    expect(sink.writes).toEqual([[0, 1], [2, 3], [4]]);
    expect(msgs.settled.map((s) => s.id)).toEqual([0, 1, 2, 3, 4]);
  });

  it('finishes the batch in flight before resolving', async () => {
    const { queue, sink, msgs, writer } = setup();
    const hold = new Deferred<void>();
    sink.steps.push(() => hold.promise);
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(1);
    let stopped = false;
    const stopping = writer.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    hold.resolve();
    await stopping;
    expect(msgs.settled.map((s) => s.how)).toEqual(['committed', 'committed', 'committed']);
  });

  it('resolves at once when idle, and is idempotent', async () => {
    const { writer } = setup();
    await writer.start();
    await writer.stop();
    await writer.stop();
  });

  it('while failing, makes one more attempt, then abandons that batch (never acks it)', async () => {
    const { queue, sink, msgs, writer, events } = setup();
    const fail = async (): Promise<void> => {
      throw busy();
    };
    sink.steps.push(fail, fail, fail);
    await writer.start();
    queue.push(...msgs.make(4));
    await vi.advanceTimersByTimeAsync(1);
    queue.close();
    await writer.stop();
    expect(sink.writes).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(msgs.settled).toEqual([0, 1, 2].map((id) => ({ id, how: 'abandoned' })));
    expect(queue.length).toBe(1);
    expect(events).toEqual(['error SQLITE_BUSY #1', 'error SQLITE_BUSY #2']);
  });
});
