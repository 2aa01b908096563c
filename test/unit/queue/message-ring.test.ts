import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../../src/lib/message.js';
import { MessageRing } from '../../../src/queue/message-ring.js';

const msg = (n: number): InboundMessage => ({
  topic: `t/${n}`,
  payload: Buffer.from(String(n)),
  qos: 0,
  retain: false,
  dup: false,
  receivedAt: n,
  receivedMono: n,
  settle: () => {},
});

describe('MessageRing', () => {
  it('grows past a burst and gives the slots back once emptied, keeping order throughout', () => {
    const ring = new MessageRing(4096);
    for (let n = 0; n < 40_000; n++) ring.push(msg(n), 1, n);
    expect(ring.capacity).toBeGreaterThanOrEqual(40_000);
    const first = ring.take(30_000).batch;
    expect(first.packed.topics[29_999]).toBe('t/29999');
    expect(ring.capacity).toBeGreaterThanOrEqual(40_000); // not empty yet
    for (let n = 40_000; n < 40_010; n++) ring.push(msg(n), 1, n);
    const rest = ring.take(ring.length).batch;
    expect(rest.packed.topics[0]).toBe('t/30000');
    expect(rest.packed.topics[rest.length - 1]).toBe('t/40009');
    expect(
      Buffer.from(rest.packed.payload.subarray(rest.packed.offsets[0], rest.packed.offsets[1])).toString(),
    ).toBe('30000');
    expect(ring.capacity).toBe(256);
    ring.push(msg(1), 1, 1);
    expect(ring.take(1).batch.packed.topics).toEqual(['t/1']);
  });

  it('keeps its slots in a steady flow that empties it between batches', () => {
    const ring = new MessageRing(4096);
    for (let n = 0; n < 5000; n++) ring.push(msg(n), 1, n);
    const cap = ring.capacity;
    ring.take(5000);
    expect(ring.capacity).toBe(cap);
  });

  it("settles through the source's shared settler and token when it gave them, its own settle otherwise", () => {
    const ring = new MessageRing(4096);
    const calls: string[] = [];
    const settler = (token: number, how: string): void => {
      calls.push(`${token}:${how}`);
    };
    for (let n = 0; n < 600; n++) {
      if (n % 3 === 0) ring.push({ ...msg(n), settle: (how) => calls.push(`own${n}:${how}`) }, 1, n);
      else ring.push({ ...msg(n), settle: () => calls.push('wrong'), settler, token: n * 10 }, 1, n);
    }
    const { batch } = ring.take(599);
    batch.settle(0, 3, 'committed');
    expect(calls).toEqual(['own0:committed', '10:committed', '20:committed']);
    batch.settle(3, 599, 'abandoned');
    expect(calls).toHaveLength(599);
    expect(calls.at(-1)).toBe('5980:abandoned');
    expect(calls).not.toContain('wrong');
    ring.shift().settle('abandoned');
    expect(calls.at(-1)).toBe('5990:abandoned');
  });
});
