import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SETTLE_CHUNK } from '../../../src/sink/batch-writer.js';
import { SinkWriteError } from '../../../src/sink/sqlite-errors.js';
import { busy, Deferred, setup } from './fakes.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('BatchWriter batching', () => {
  it('flushes as soon as flushAt messages are pending, without waiting for maxDelayMs', async () => {
    const { queue, sink, msgs, writer } = setup({ maxDelayMs: 10_000 });
    await writer.start();
    queue.push(...msgs.make(2));
    await vi.advanceTimersByTimeAsync(5);
    expect(sink.writes).toEqual([]);
    queue.push(...msgs.make(1));
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toEqual([[0, 1, 2]]);
    await writer.stop();
  });

  it('flushes a partial batch once its oldest message is maxDelayMs old', async () => {
    const { queue, sink, msgs, writer } = setup({ flushAt: 100, maxBatch: 100, maxDelayMs: 10 });
    await writer.start();
    queue.push(...msgs.make(1));
    await vi.advanceTimersByTimeAsync(9);
    expect(sink.writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toEqual([[0]]);
    await writer.stop();
  });

  it('settles every message committed, FIFO across batches, only after its write resolved', async () => {
    const { queue, sink, msgs, writer, events } = setup();
    const hold = new Deferred<void>();
    sink.steps.push(() => hold.promise);
    await writer.start();
    queue.push(...msgs.make(7));
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toEqual([[0, 1, 2]]);
    expect(msgs.settled).toEqual([]);
    hold.resolve();
    await vi.advanceTimersByTimeAsync(20);
    expect(sink.writes).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(msgs.settled).toEqual([0, 1, 2, 3, 4, 5, 6].map((id) => ({ id, how: 'committed' })));
    expect(events).toEqual(['committed 0,1,2', 'committed 3,4,5', 'committed 6']);
    await writer.stop();
  });

  it('settles a large batch in chunks of SETTLE_CHUNK, in order, letting the loop turn between them', async () => {
    const chunks: string[] = [];
    let settledAtFirstChunk = -1;
    let tickedBetween = false;
    const { queue, msgs, writer } = setup(
      { flushAt: 1200, maxBatch: 1200 },
      {
        onSettledChunk: (_batch, from, to) => {
          chunks.push(`${from}-${to}`);
          if (from === 0) {
            settledAtFirstChunk = msgs.settled.length;
            // Anything queued now (a keepalive, an HTTP answer) runs before the next chunk.
            setImmediate(() => {
              tickedBetween = msgs.settled.length === SETTLE_CHUNK;
            });
          }
        },
      },
    );
    await writer.start();
    queue.push(...msgs.make(1200));
    await vi.advanceTimersByTimeAsync(5);
    expect(chunks).toEqual([
      `0-${SETTLE_CHUNK}`,
      `${SETTLE_CHUNK}-${2 * SETTLE_CHUNK}`,
      `${2 * SETTLE_CHUNK}-1200`,
    ]);
    expect(settledAtFirstChunk).toBe(SETTLE_CHUNK);
    expect(tickedBetween).toBe(true);
    expect(msgs.settled.map((s) => s.id)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    await writer.stop();
  });

  it('writes under the shared mutex: nothing is written while maintenance holds it', async () => {
    const { queue, sink, msgs, writer, mutex } = setup();
    const release = await mutex.acquire();
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(50);
    expect(sink.writes).toEqual([]);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.writes).toEqual([[0, 1, 2]]);
    await writer.stop();
  });
});

describe('BatchWriter failures', () => {
  it('keeps the batch on a retryable error, backs off, retries, then settles it once', async () => {
    const { queue, sink, msgs, writer, events } = setup();
    sink.steps.push(
      async () => {
        throw busy();
      },
      async () => {
        throw busy();
      },
    );
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.writes).toHaveLength(1);
    expect(writer.healthy).toBe(false);
    // Full jitter with random ≈ 1: attempt 1 waits just under 50 ms, attempt 2 under 100 ms.
    await vi.advanceTimersByTimeAsync(48);
    expect(sink.writes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toHaveLength(2);
    expect(msgs.settled).toEqual([]);
    await vi.advanceTimersByTimeAsync(99);
    expect(sink.writes).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(writer.healthy).toBe(true);
    expect(msgs.settled.map((s) => s.how)).toEqual(['committed', 'committed', 'committed']);
    expect(events).toEqual(['error SQLITE_BUSY #1', 'error SQLITE_BUSY #2', 'recovered', 'committed 0,1,2']);
    await writer.stop();
  });

  it('caps the backoff at retryCapMs', async () => {
    const { queue, sink, msgs, writer } = setup({ retryCapMs: 120 });
    for (let i = 0; i < 5; i++) {
      sink.steps.push(async () => {
        throw busy();
      });
    }
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(49 + 99); // attempts 1..3 made
    expect(sink.writes).toHaveLength(3);
    // Attempt 3 would wait 200 ms uncapped; capped, it waits 119.
    await vi.advanceTimersByTimeAsync(118);
    expect(sink.writes).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.writes).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(10_000);
    await writer.stop();
  });

  it('calls onStuck once per failure episode, at stuckAfterAttempts', async () => {
    const { queue, sink, msgs, writer, events } = setup({ stuckAfterAttempts: 2, retryCapMs: 10 });
    const fail = async (): Promise<void> => {
      throw busy();
    };
    sink.steps.push(fail, fail, fail, fail);
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(100);
    sink.steps.push(fail, fail);
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(100);
    expect(events.filter((e) => e === 'stuck')).toHaveLength(2);
    expect(events).toEqual([
      'error SQLITE_BUSY #1',
      'error SQLITE_BUSY #2',
      'stuck',
      'error SQLITE_BUSY #3',
      'error SQLITE_BUSY #4',
      'recovered',
      'committed 0,1,2',
      'error SQLITE_BUSY #1',
      'error SQLITE_BUSY #2',
      'stuck',
      'recovered',
      'committed 3,4,5',
    ]);
    await writer.stop();
  });

  it('retries a non-retryable error too: it never acks or drops what is not committed', async () => {
    const { queue, sink, msgs, writer } = setup({ retryCapMs: 10 });
    sink.steps.push(async () => {
      throw new SinkWriteError('SQLITE_ERROR', 'boom', false);
    });
    await writer.start();
    queue.push(...msgs.make(3));
    await vi.advanceTimersByTimeAsync(50);
    expect(sink.writes).toHaveLength(2);
    expect(msgs.settled.map((s) => s.how)).toEqual(['committed', 'committed', 'committed']);
    await writer.stop();
  });

  it('stops, reports unhealthy and dead (onFatal, alive false) when a hook throws', async () => {
    const {
      queue,
      msgs,
      events,
      writer: w,
    } = setup(
      {},
      {
        onCommitted: () => {
          throw new Error('hook bug');
        },
      },
    );
    await w.start();
    queue.push(...msgs.make(3));
    expect(w.alive).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.healthy).toBe(false);
    expect(w.alive).toBe(false);
    expect(events).toContain('fatal Error: hook bug');
    await expect(w.stop()).rejects.toThrow('hook bug');
  });
});
