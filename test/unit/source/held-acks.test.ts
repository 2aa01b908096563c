import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeldAcks } from '../../../src/source/held-acks.js';

/** Connections are numbers; packet ids stand for the PUBACKs. */
const S = 1;
function setup() {
  const sent: { ack: number; conn: number }[] = [];
  const held = new HeldAcks((ack, conn) => sent.push({ ack, conn }));
  return { held, sent, acks: () => sent.map((s) => s.ack) };
}

describe('HeldAcks', () => {
  it('holds an ack until its message is committed', () => {
    const { held, acks } = setup();
    const e = held.add(S);
    held.attach(e, 11);
    expect(acks()).toEqual([]);
    expect(held.size).toBe(1);
    held.settle(e, 'committed');
    expect(acks()).toEqual([11]);
    expect(held.size).toBe(0);
  });

  it('releases in receive order: a later commit waits for an earlier one', () => {
    const { held, acks } = setup();
    const [a, b, c] = [held.add(S), held.add(S), held.add(S)];
    held.attach(a, 1);
    held.attach(b, 2);
    held.attach(c, 3);
    held.settle(c, 'committed');
    held.settle(b, 'committed');
    expect(acks()).toEqual([]);
    held.settle(a, 'committed');
    expect(acks()).toEqual([1, 2, 3]);
  });

  it('waits for the ack packet when the commit came first', () => {
    const { held, acks } = setup();
    const e = held.add(S);
    held.settle(e, 'committed');
    expect(acks()).toEqual([]);
    held.attach(e, 7);
    expect(acks()).toEqual([7]);
  });

  it('never sends an abandoned ack, and the ones behind it wait', () => {
    const { held, acks } = setup();
    const [a, b] = [held.add(S), held.add(S)];
    held.attach(a, 1);
    held.attach(b, 2);
    held.settle(a, 'abandoned');
    held.settle(b, 'committed');
    expect(acks()).toEqual([]);
    expect(held.size).toBe(2);
    expect(held.dropConn(S)).toBe(2);
    expect(held.size).toBe(0);
  });

  it('drops the acks of a closed connection and ignores their later commits', () => {
    const { held, sent } = setup();
    const old = held.add(1);
    held.attach(old, 5);
    expect(held.dropConn(1)).toBe(1);
    const fresh = held.add(2);
    held.attach(fresh, 6);
    held.settle(old, 'committed');
    held.settle(fresh, 'committed');
    expect(sent).toEqual([{ ack: 6, conn: 2 }]);
    held.attach(old, 9);
    expect(sent).toHaveLength(1);
  });

  it('settles once: a second settle changes nothing', () => {
    const { held, acks } = setup();
    const e = held.add(S);
    held.attach(e, 1);
    held.settle(e, 'abandoned');
    held.settle(e, 'committed');
    expect(acks()).toEqual([]);
  });

  it('dropAll counts everything still held', () => {
    const { held } = setup();
    held.add(1);
    held.add(2);
    expect(held.dropAll()).toBe(2);
    expect(held.dropAll()).toBe(0);
  });

  it('sends every committed ack exactly once, in receive order, whatever the commit order', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 3000 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()], { minLength: n })),
          ),
        ([n, order]) => {
          const { held, acks } = setup();
          const entries = Array.from({ length: n }, (_, i) => {
            const e = held.add(S);
            held.attach(e, i % 65536);
            return e;
          });
          for (const i of order) held.settle(entries[i]!, 'committed');
          expect(acks()).toEqual(Array.from({ length: n }, (_, i) => i % 65536));
          expect(held.size).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a dropped connection in the middle blocks nothing: the acks behind it go once they are due', () => {
    const { held, sent } = setup();
    const a = held.add(1);
    const old = [held.add(2), held.add(2)];
    const b = held.add(3);
    held.attach(a, 1);
    for (const t of old) held.attach(t, 2);
    held.attach(b, 3);
    held.settle(b, 'committed');
    expect(held.dropConn(2)).toBe(2);
    expect(held.size).toBe(2);
    expect(sent).toEqual([]);
    held.settle(a, 'committed');
    expect(sent).toEqual([
      { ack: 1, conn: 1 },
      { ack: 3, conn: 3 },
    ]);
    expect(held.size).toBe(0);
  });

  it('tokens stay valid across ring growth and reuse; a sent token is inert', () => {
    const { held, acks } = setup();
    const first = Array.from({ length: 1000 }, (_, i) => {
      const t = held.add(S);
      held.attach(t, i);
      return t;
    });
    for (const t of first) held.settle(t, 'committed');
    expect(acks()).toHaveLength(1000);
    const next = held.add(S);
    held.settle(first[0]!, 'committed');
    held.attach(first[0]!, 4242);
    expect(acks()).toHaveLength(1000);
    held.attach(next, 77);
    held.settle(next, 'committed');
    expect(acks().at(-1)).toBe(77);
    expect(held.size).toBe(0);
  });
});
