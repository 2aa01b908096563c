import { describe, expect, it } from 'vitest';
import {
  type DestinationPort,
  type ForwardHooks,
  ForwardLoop,
  type OutboxPort,
  ProtectMirror,
} from '../../../src/forward/forward-loop.js';
import { M, type OutboxBatch, type OutboxMessage } from '../../../src/forward/types.js';

/**
 * An outbox of ids 1..n, all received at time 0 unless `arrive` adds more; a destination that
 * commits into a Set unless told to fail. `events` records reads, sends and commits in the order
 * they happen. `maxDelayMs` 0 ships whatever is there at once.
 */
function world(n: number, prefetch = true, maxDelayMs = 0) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const receivedAt = new Map<number, number>(ids.map((id) => [id, 0]));
  let now = 0;
  const protectedAt: number[] = [];
  const events: string[] = [];
  const outbox: OutboxPort = {
    readBatch(afterId, max): OutboxBatch | undefined {
      events.push(`read>${afterId}`);
      const messages = ids
        .filter((id) => id > afterId)
        .slice(0, max)
        .map((id) => [id] as unknown as OutboxMessage);
      const last = messages.at(-1);
      return last
        ? { afterId, lastId: last[M.id], messages, readingsAt: [], bytes: messages.length }
        : undefined;
    },
    backlog: () => ({ rows: 0, bytes: 0, oldestAgeSeconds: 0 }),
    protect: (id) => {
      protectedAt.push(id);
    },
    newestId: () => ids.at(-1) ?? 0,
    pending: (afterId) => {
      const first = ids.find((id) => id > afterId);
      if (first === undefined) return undefined;
      return { messages: (ids.at(-1) ?? 0) - afterId, oldestReceivedAt: receivedAt.get(first) ?? 0 };
    },
  };
  /** `count` new messages, received now (or at `at`, a clock other than the loop's). */
  const arrive = (count: number, at = now): void => {
    for (let k = 0; k < count; k++) {
      const id = (ids.at(-1) ?? 0) + 1;
      ids.push(id);
      receivedAt.set(id, at);
    }
  };
  const remote = { rows: new Set<number>(), cursor: 0, copies: 0 };
  const plan: ('ok' | 'fail-before' | 'fail-after-send' | 'fail-after-commit')[] = [];
  let connected = false;
  const destination: DestinationPort = {
    get connected() {
      return connected;
    },
    open: async () => {
      connected = true;
      return remote.cursor;
    },
    write: async (b, whileServerWorks) => {
      const what = plan.shift() ?? 'ok';
      if (what === 'fail-before') throw new Error('link down');
      events.push(`send ${b.lastId}`);
      whileServerWorks?.();
      if (what === 'fail-after-send') throw new Error('server gone');
      events.push(`commit ${b.lastId}`);
      let inserted = 0;
      for (const m of b.messages) {
        remote.copies++;
        if (!remote.rows.has(m[M.id])) {
          remote.rows.add(m[M.id]);
          inserted++;
        }
      }
      remote.cursor = Math.max(remote.cursor, b.lastId);
      if (what === 'fail-after-commit') throw new Error('acknowledgement lost');
      return { inserted };
    },
    drop: () => {
      connected = false;
    },
  };
  const log: string[] = [];
  const hooks: ForwardHooks = {
    onConnected: (c) => log.push(`connected ${c}`),
    onBatch: (b) => log.push(`batch ${b.cursor} +${b.inserted}/${b.messages}`),
    onError: (stage, err, delay) => log.push(`error ${stage} ${(err as Error).message} ${delay}`),
    onProtectError: () => log.push('protect error'),
  };
  const sleeps: number[] = [];
  const loop = new ForwardLoop(
    {
      batchMessages: 4,
      batchBytes: 1e9,
      pollMs: 100,
      maxDelayMs,
      retry: { baseMs: 10, factor: 2, capMs: 1000 },
      protect: true,
      protectEveryMs: 0,
      prefetch,
    },
    {
      outbox,
      destination,
      hooks,
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      random: () => 0.5,
    },
  );
  return { loop, remote, plan, log, sleeps, protectedAt, ids, events, arrive, clock: () => now };
}

describe('ForwardLoop', () => {
  it('ships batches in id order and moves the cursor and its mirror only after each commit', async () => {
    const w = world(10);
    for (let i = 0; i < 4; i++) await w.loop.step();
    expect(w.log).toEqual(['connected 0', 'batch 4 +4/4', 'batch 8 +4/4', 'batch 10 +2/2']);
    expect(w.protectedAt).toEqual([0, 4, 8, 10]); // the cursor read at connect, then each commit
    expect(w.sleeps).toEqual([100]); // then nothing left: it polls
    expect([...w.remote.rows]).toEqual(w.ids);
  });

  it('a failed write is retried after a jittered backoff, from the cursor the destination has', async () => {
    const w = world(6);
    w.plan.push('ok', 'fail-before', 'fail-before');
    for (let i = 0; i < 5; i++) await w.loop.step();
    expect(w.log).toEqual([
      'connected 0',
      'batch 4 +4/4',
      'error write link down 5', // random 0.5 × min(cap, 10 × 2^0)
      'connected 4',
      'error write link down 10',
      'connected 4',
      'batch 6 +2/2',
    ]);
    expect(w.remote.copies).toBe(6);
  });

  it('a commit whose acknowledgement is lost is not sent again: the cursor is read back', async () => {
    const w = world(8);
    w.plan.push('fail-after-commit');
    for (let i = 0; i < 3; i++) await w.loop.step();
    expect(w.log).toEqual([
      'connected 0',
      'error write acknowledgement lost 5',
      'connected 4',
      'batch 8 +4/4',
    ]);
    expect(w.remote.copies).toBe(8);
    // The mirror never ran ahead of what the destination had committed.
    expect(w.protectedAt).toEqual([0, 4, 8]);
  });

  it('reads the next batch while the destination works on the current one, moving the cursor in order', async () => {
    const w = world(10);
    for (let i = 0; i < 4; i++) await w.loop.step();
    expect(w.events).toEqual([
      'read>0',
      'send 4',
      'read>4', // before 4 is committed …
      'commit 4',
      'send 8', // … and used as is
      'read>8',
      'commit 8',
      'send 10',
      'read>10', // nothing after 10: the next step looks again, then polls
      'commit 10',
      'read>10',
    ]);
    expect(w.log).toEqual(['connected 0', 'batch 4 +4/4', 'batch 8 +4/4', 'batch 10 +2/2']);
    expect(w.protectedAt).toEqual([0, 4, 8, 10]);
  });

  it('without prefetch, reads only after each commit', async () => {
    const w = world(6, false);
    for (let i = 0; i < 3; i++) await w.loop.step();
    expect(w.events).toEqual(['read>0', 'send 4', 'commit 4', 'read>4', 'send 6', 'commit 6', 'read>6']);
  });

  it('a batch read ahead is dropped when the write fails: the retry reads from the cursor read back', async () => {
    const w = world(10);
    w.plan.push('ok', 'fail-after-send');
    for (let i = 0; i < 5; i++) await w.loop.step();
    expect(w.events).toEqual([
      'read>0',
      'send 4',
      'read>4',
      'commit 4',
      'send 8',
      'read>8', // read ahead, then the write fails: thrown away
      'read>4', // after the reconnect (cursor 4)
      'send 8',
      'read>8',
      'commit 8',
      'send 10',
      'read>10',
      'commit 10',
      'read>10',
    ]);
    expect(w.log.filter((l) => l.startsWith('batch'))).toEqual([
      'batch 4 +4/4',
      'batch 8 +4/4',
      'batch 10 +2/2',
    ]);
    expect([...w.remote.rows]).toEqual(w.ids);
    expect(w.remote.copies).toBe(10);
  });

  it('refuses a destination that is ahead of this file (its source is used by another file)', async () => {
    const w = world(5);
    w.remote.cursor = 9;
    await w.loop.step();
    await w.loop.step();
    expect(w.log).toEqual([
      'error connect PostgreSQL has this source up to id 9 but this database ends at id 5: another database file forwards under the same source (a copy, or a reused forward.postgres.source). Give this file its own forward.postgres.source 5',
      'error connect PostgreSQL has this source up to id 9 but this database ends at id 5: another database file forwards under the same source (a copy, or a reused forward.postgres.source). Give this file its own forward.postgres.source 10',
    ]);
    expect(w.remote.copies).toBe(0);
    expect(w.protectedAt).toEqual([]);
  });

  it('the backoff grows to its cap and resets after a success', async () => {
    const w = world(3);
    w.plan.push(...Array<'fail-before'>(9).fill('fail-before'));
    for (let i = 0; i < 10; i++) await w.loop.step();
    const delays = w.log.filter((l) => l.startsWith('error')).map((l) => Number(l.split(' ').at(-1)));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 500, 500]);
    expect(w.log.at(-1)).toBe('batch 3 +3/3');
  });

  it('with maxDelayMs, a batch that is not full waits until its oldest message has waited that long', async () => {
    const w = world(0, true, 250);
    w.arrive(2); // at 0
    await w.loop.step(); // connect; 2 of 4 waiting, the oldest 0 ms old: wait (at most pollMs)
    expect(w.sleeps).toEqual([100]);
    w.arrive(1); // at 100
    await w.loop.step();
    expect(w.sleeps).toEqual([100, 100]);
    await w.loop.step(); // at 200: 50 ms left
    expect(w.sleeps).toEqual([100, 100, 50]);
    expect(w.events).toEqual([]); // nothing read so far, only looked at
    await w.loop.step(); // at 250: due
    expect(w.log).toEqual(['connected 0', 'batch 3 +3/3']);
    expect(w.events).toEqual(['read>0', 'send 3', 'read>3', 'commit 3']); // ahead: nothing there
  });

  it('with maxDelayMs, a full batch, a backlog, goes at once, read ahead as before', async () => {
    const w = world(10, true, 60_000);
    w.arrive(1); // received now: the last batch is not full and young, so it waits
    for (let i = 0; i < 3; i++) await w.loop.step();
    // 11 waiting: 4 (full) and 4 (full, read ahead) go at once; 3 left, the oldest received at 0
    // (as old as the rest): still within 60 s, so they wait, not read ahead either.
    expect(w.events).toEqual(['read>0', 'send 4', 'read>4', 'commit 4', 'send 8', 'commit 8']);
    expect(w.sleeps).toEqual([100]);
    expect(w.log).toEqual(['connected 0', 'batch 4 +4/4', 'batch 8 +4/4']);
  });

  it('with maxDelayMs, the oldest message of a backlog that is old already does not wait', async () => {
    const w = world(0, true, 1000);
    await w.loop.step(); // connect, empty: poll
    w.arrive(2, -5000); // received 5 s ago (an outage, say)
    await w.loop.step();
    expect(w.log).toEqual(['connected 0', 'batch 2 +2/2']);
  });

  it('with maxDelayMs, a received_at in the future (clock set back) holds messages no longer than maxDelayMs', async () => {
    const w = world(0, true, 250);
    w.arrive(1, 3_600_000);
    for (let i = 0; i < 4; i++) await w.loop.step();
    expect(w.sleeps).toEqual([100, 100, 50]);
    expect(w.log).toEqual(['connected 0', 'batch 1 +1/1']);
    expect(w.clock()).toBe(250);
  });

  it('run() ends after stop(), with the mirror at the last committed id', async () => {
    const w = world(5);
    const running = w.loop.run();
    w.loop.stop();
    await running;
    expect(w.loop.stopped).toBe(true);
    expect(w.protectedAt.at(-1)).toBe(w.remote.cursor);
  });
});

describe('ProtectMirror', () => {
  it('writes on a move at most every interval, and always when forced', () => {
    const m = new ProtectMirror(1000);
    expect(m.due(5, 0)).toBe(true);
    m.wrote(5, 0);
    expect(m.due(5, 5000)).toBe(false); // nothing moved
    expect(m.due(9, 500)).toBe(false);
    expect(m.due(9, 500, true)).toBe(true);
    expect(m.due(9, 1000)).toBe(true);
  });
});
