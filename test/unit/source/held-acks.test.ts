import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeldAcks } from '../../../src/source/held-acks.js';

function setup() {
  const sent: { ack: string; stream: string }[] = [];
  const held = new HeldAcks<string, string>((ack, stream) => sent.push({ ack, stream }));
  return { held, sent, acks: () => sent.map((s) => s.ack) };
}

describe('HeldAcks', () => {
  it('holds an ack until its message is committed', () => {
    const { held, acks } = setup();
    const e = held.add('s1');
    held.attach(e, 'ack1');
    expect(acks()).toEqual([]);
    expect(held.size).toBe(1);
    held.settle(e, 'committed');
    expect(acks()).toEqual(['ack1']);
    expect(held.size).toBe(0);
  });

  it('releases in receive order: a later commit waits for an earlier one', () => {
    const { held, acks } = setup();
    const [a, b, c] = [held.add('s'), held.add('s'), held.add('s')];
    held.attach(a, 'a');
    held.attach(b, 'b');
    held.attach(c, 'c');
    held.settle(c, 'committed');
    held.settle(b, 'committed');
    expect(acks()).toEqual([]);
    held.settle(a, 'committed');
    expect(acks()).toEqual(['a', 'b', 'c']);
  });

  it('waits for the ack packet when the commit came first', () => {
    const { held, acks } = setup();
    const e = held.add('s');
    held.settle(e, 'committed');
    expect(acks()).toEqual([]);
    held.attach(e, 'ack');
    expect(acks()).toEqual(['ack']);
  });

  it('never sends an abandoned ack, and the ones behind it wait', () => {
    const { held, acks } = setup();
    const [a, b] = [held.add('s'), held.add('s')];
    held.attach(a, 'a');
    held.attach(b, 'b');
    held.settle(a, 'abandoned');
    held.settle(b, 'committed');
    expect(acks()).toEqual([]);
    expect(held.size).toBe(2);
    expect(held.dropStream('s')).toBe(2);
    expect(held.size).toBe(0);
  });

  it('drops the acks of a closed connection and ignores their later commits', () => {
    const { held, sent } = setup();
    const old = held.add('old');
    held.attach(old, 'old-ack');
    expect(held.dropStream('old')).toBe(1);
    const fresh = held.add('new');
    held.attach(fresh, 'new-ack');
    held.settle(old, 'committed');
    held.settle(fresh, 'committed');
    expect(sent).toEqual([{ ack: 'new-ack', stream: 'new' }]);
    held.attach(old, 'late');
    expect(sent).toHaveLength(1);
  });

  it('settles once: a second settle changes nothing', () => {
    const { held, acks } = setup();
    const e = held.add('s');
    held.attach(e, 'x');
    held.settle(e, 'abandoned');
    held.settle(e, 'committed');
    expect(acks()).toEqual([]);
  });

  it('dropAll counts everything still held', () => {
    const { held } = setup();
    held.add('a');
    held.add('b');
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
            const e = held.add('s');
            held.attach(e, String(i));
            return e;
          });
          for (const i of order) held.settle(entries[i]!, 'committed');
          expect(acks()).toEqual(Array.from({ length: n }, (_, i) => String(i)));
          expect(held.size).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });
});
