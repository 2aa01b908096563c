import { describe, expect, it } from 'vitest';
import type { DropReason, InboundMessage, MessageBatch, QoS, Settlement } from '../../../src/lib/message.js';
import { BoundedQueue, messageBytes, type OverflowPolicy } from '../../../src/queue/bounded-queue.js';

function msg(n: number, qos: QoS = 1, bytes = 10): InboundMessage & { settled: Settlement[] } {
  const settled: Settlement[] = [];
  return {
    topic: `t/${n}`,
    payload: Buffer.alloc(bytes, n),
    qos,
    retain: false,
    dup: false,
    receivedAt: n,
    receivedMono: n,
    settle: (how) => settled.push(how),
    settled,
  };
}

function queue(maxMessages: number, overflow: OverflowPolicy = 'block', maxBytes = 1 << 30) {
  const drops: [string, DropReason][] = [];
  const q = new BoundedQueue(
    { maxMessages, maxBytes, overflow },
    { onDrop: (r, topic) => drops.push([topic, r]) },
  );
  return { q, drops };
}

describe('BoundedQueue', () => {
  it('hands messages out in arrival order and frees their bytes', () => {
    const { q } = queue(10);
    for (let i = 0; i < 5; i++) expect(q.push(msg(i))).toBeUndefined();
    expect(q.length).toBe(5);
    expect(q.take(3).packed.topics).toEqual(['t/0', 't/1', 't/2']);
    expect(q.take(10).packed.topics).toEqual(['t/3', 't/4']);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('makes the producer wait when the count bound is reached, and releases it when space frees', async () => {
    const { q } = queue(2);
    expect(q.push(msg(0))).toBeUndefined();
    const wait = q.push(msg(1));
    expect(wait).toBeInstanceOf(Promise);
    let released = false;
    void wait?.then(() => {
      released = true;
    });
    await Promise.resolve();
    expect(released).toBe(false);
    q.take(1);
    await wait;
    expect(released).toBe(true);
  });

  it('applies the byte bound as well as the count bound', () => {
    const { q } = queue(1000, 'block', 1024);
    expect(q.push(msg(0, 1, 400))).toBeUndefined();
    expect(q.push(msg(1, 1, 600))).toBeInstanceOf(Promise);
  });

  it('drop-newest discards incoming QoS 0 when full and counts it, but never QoS 1', () => {
    const { q, drops } = queue(1, 'drop-newest');
    const first = msg(0, 0);
    void q.push(first);
    const dropped = msg(1, 0);
    expect(q.push(dropped)).toBeUndefined();
    expect(dropped.settled).toEqual(['abandoned']);
    expect(drops).toEqual([['t/1', 'queue_full_newest']]);
    expect(q.push(msg(2, 1))).toBeInstanceOf(Promise);
    expect(q.length).toBe(2);
  });

  it('drop-oldest evicts the oldest QoS 0 message and keeps the new one', () => {
    const { q, drops } = queue(2, 'drop-oldest');
    const oldest = msg(0, 0);
    void q.push(oldest);
    void q.push(msg(1, 0));
    void q.push(msg(2, 0));
    expect(oldest.settled).toEqual(['abandoned']);
    expect(drops).toEqual([['t/0', 'queue_full_oldest']]);
    expect(q.take(5).packed.topics).toEqual(['t/1', 't/2']);
  });

  it('drop-oldest does not evict a QoS 1 message: the producer blocks instead', () => {
    const { q, drops } = queue(1, 'drop-oldest');
    void q.push(msg(0, 1));
    expect(q.push(msg(1, 0))).toBeInstanceOf(Promise);
    expect(drops).toEqual([]);
  });

  it('after close, pushes are abandoned and waiting producers are released', async () => {
    const { q, drops } = queue(1);
    const wait = q.push(msg(0));
    q.close();
    await wait;
    const late = msg(1);
    expect(q.push(late)).toBeUndefined();
    expect(late.settled).toEqual(['abandoned']);
    expect(drops).toEqual([['t/1', 'shutdown']]);
    await q.whenNonEmpty();
  });

  it('abandonAll settles everything left as abandoned', () => {
    const { q } = queue(10);
    const ms = [msg(0), msg(1)];
    for (const m of ms) void q.push(m);
    expect(q.abandonAll()).toBe(2);
    expect(ms.map((m) => m.settled)).toEqual([['abandoned'], ['abandoned']]);
  });

  it('whenNonEmpty resolves on the next push', async () => {
    const { q } = queue(10);
    let woke = false;
    const p = q.whenNonEmpty().then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false);
    void q.push(msg(0));
    await p;
    expect(woke).toBe(true);
  });

  it('stays correct over many push/take cycles (compaction)', () => {
    const { q } = queue(100_000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) void q.push(msg(next++, 0, 1));
      for (const topic of q.take(2500).packed.topics) expect(topic).toBe(`t/${expected++}`);
    }
    expect(q.length).toBe(next - expected);
  });
});

describe('BoundedQueue packs what it holds', () => {
  /** A message whose fields all derive from n, so a batch can be checked field by field. */
  const make = (n: number, size: number): InboundMessage => ({
    topic: `dev/${n}/é`,
    payload: Buffer.alloc(size, n % 251),
    qos: (n % 3) as QoS,
    retain: n % 2 === 0,
    dup: n % 5 === 0,
    receivedAt: 1_700_000_000_000 + n,
    receivedMono: n / 4,
    settle: () => {},
  });

  function expectBatch(b: MessageBatch, first: number, sizeOf: (n: number) => number): void {
    for (let k = 0; k < b.length; k++) {
      const n = first + k;
      const p = b.packed;
      expect(p.topics[k]).toBe(`dev/${n}/é`);
      const payload = p.payload.subarray(p.offsets[k], p.offsets[k + 1]);
      expect(payload.length).toBe(sizeOf(n));
      expect(payload.every((x) => x === n % 251)).toBe(true);
      expect(p.qos[k]).toBe(n % 3);
      expect(p.flags[k]).toBe((n % 2 === 0 ? 1 : 0) | (n % 5 === 0 ? 2 : 0));
      expect(p.receivedAt[k]).toBe(1_700_000_000_000 + n);
      expect(b.receivedMono[k]).toBe(n / 4);
    }
    expect(b.packed.offsets[b.length]).toBe(b.packed.payload.length);
  }

  it('keeps every field across payload chunks, payloads larger than a chunk and ring growth', () => {
    // maxBytes 32 KiB: chunks of 4 KiB. Sizes vary from empty to 3 chunks.
    const sizeOf = (n: number) => (n % 97 === 0 ? 12_000 : n % 7 === 0 ? 0 : (n * 37) % 700);
    const q = new BoundedQueue(
      { maxMessages: 1 << 20, maxBytes: 32 * 1024, overflow: 'block' },
      { onDrop: () => {} },
    );
    let pushed = 0;
    let taken = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 300 + round * 7; i++) void q.push(make(pushed++, sizeOf(pushed - 1)));
      const b = q.take(250 + round * 3);
      expectBatch(b, taken, sizeOf);
      taken += b.length;
    }
    const rest = q.take(q.length);
    expectBatch(rest, taken, sizeOf);
    expect(taken + rest.length).toBe(pushed);
    expect(q.bytes).toBe(0);
  });

  it('counts payload, topic and per-message overhead against the byte bound, and frees them when taken or dropped', () => {
    const q = new BoundedQueue(
      { maxMessages: 100, maxBytes: 1 << 20, overflow: 'drop-oldest' },
      { onDrop: () => {} },
    );
    const a = make(1, 100);
    const b = make(2, 50);
    void q.push(a);
    void q.push(b);
    expect(q.bytes).toBe(messageBytes(a) + messageBytes(b));
    expect(messageBytes(a)).toBeGreaterThan(100 + a.topic.length);
    q.take(1);
    expect(q.bytes).toBe(messageBytes(b));
    expect(q.abandonAll()).toBe(1);
    expect(q.bytes).toBe(0);
  });

  it("settles a taken batch through each message's own settle, in order", () => {
    const { q } = queue(10);
    const ms = [msg(0), msg(1), msg(2)];
    for (const m of ms) void q.push(m);
    const b = q.take(3);
    b.settle(0, 2, 'committed');
    expect(ms.map((m) => m.settled)).toEqual([['committed'], ['committed'], []]);
    b.settle(2, 3, 'abandoned');
    expect(ms[2]?.settled).toEqual(['abandoned']);
  });
});

describe('BoundedQueue.whenLength (the batch writer sleeps on it instead of polling)', () => {
  const msg = (): InboundMessage => ({
    topic: 't/d',
    payload: Buffer.from('1'),
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: 0,
    receivedMono: 0,
    settle: () => {},
  });

  it('resolves when the queue reaches n, not before', async () => {
    const q = new BoundedQueue(
      { maxMessages: 100, maxBytes: 1 << 20, overflow: 'block' },
      { onDrop: () => {} },
    );
    let woke = false;
    const p = q.whenLength(3).then(() => {
      woke = true;
    });
    expect(q.push(msg())).toBeUndefined();
    expect(q.push(msg())).toBeUndefined();
    await Promise.resolve();
    expect(woke).toBe(false);
    expect(q.push(msg())).toBeUndefined();
    await p;
    expect(woke).toBe(true);
  });

  it('a new wait releases the previous one, and close() releases the last', async () => {
    const q = new BoundedQueue(
      { maxMessages: 100, maxBytes: 1 << 20, overflow: 'block' },
      { onDrop: () => {} },
    );
    const first = q.whenLength(10);
    const second = q.whenLength(10);
    await first;
    q.close();
    await second;
  });
});
