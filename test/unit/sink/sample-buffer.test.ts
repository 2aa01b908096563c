import { describe, expect, it } from 'vitest';
import { SampleBuffer } from '../../../src/sink/sample-buffer.js';

type Row = [number, number, number, number];

function flushed(buf: SampleBuffer): Row[] {
  const rows: Row[] = [];
  buf.flush((s, ts, m, v) => rows.push([s, ts, m, v]));
  return rows;
}

describe('SampleBuffer', () => {
  it('flushes grouped by series, keeping arrival order within a series, then is empty', () => {
    const buf = new SampleBuffer();
    buf.add(3, 10, 1, 0.5);
    buf.add(1, 10, 1, 1.5);
    buf.add(3, 9, 2, 2.5);
    buf.add(1, 10, 2, 3.5);
    expect(buf.size).toBe(4);
    expect(flushed(buf)).toEqual([
      [1, 10, 1, 1.5],
      [1, 10, 2, 3.5],
      [3, 10, 1, 0.5],
      [3, 9, 2, 2.5],
    ]);
    expect(buf.size).toBe(0);
    expect(flushed(buf)).toEqual([]);
  });

  it('grows past its initial room and sorts series ids too large to pack the same way', () => {
    const buf = new SampleBuffer();
    const big = 2 ** 40;
    const expected: Row[] = [];
    for (let i = 0; i < 20_000; i++) buf.add(i % 2 === 0 ? big : 7, i, i, -i);
    for (let i = 1; i < 20_000; i += 2) expected.push([7, i, i, -i]);
    for (let i = 0; i < 20_000; i += 2) expected.push([big, i, i, -i]);
    expect(flushed(buf)).toEqual(expected);
    // The buffer keeps working after giving back its large arrays.
    buf.add(2, 1, 1, 1);
    buf.add(1, 1, 2, 2);
    expect(flushed(buf)).toEqual([
      [1, 1, 2, 2],
      [2, 1, 1, 1],
    ]);
  });

  it('clear() drops what a rolled-back transaction added', () => {
    const buf = new SampleBuffer();
    buf.add(1, 1, 1, 1);
    buf.clear();
    expect(flushed(buf)).toEqual([]);
  });
});
