/**
 * The cached raw readings of one series (recent-readings.ts): ts and value columns in typed
 * arrays, ascending by ts, live in [head, head + n). Pure. 16 bytes a reading of capacity; a
 * number[] pair would cost the same for doubles, plus a pointer each once V8 boxes them.
 */
import type { Points } from './data.js';

const MIN_CAPACITY = 8;
/** Bytes a reading slot takes (two Float64 columns). */
export const SLOT_BYTES = 16;

export class SeriesColumn {
  private ts = new Float64Array(MIN_CAPACITY);
  private values = new Float64Array(MIN_CAPACITY);
  private head = 0;
  private n = 0;
  get length(): number {
    return this.n;
  }

  /** Slots allocated (what the memory accounting counts). */
  get capacity(): number {
    return this.ts.length;
  }

  /**
   * Adds one reading in ts order, after the readings of equal ts already here: readings come in
   * message id order (a series read from SQL, ORDER BY ts, id; then refreshes by id, every new id
   * above the held ones), so the column stays in the uncached statement's (ts, id) order.
   */
  add(t: number, v: number): void {
    let end = this.head + this.n;
    if (end === this.ts.length) {
      this.makeRoom();
      end = this.head + this.n;
    }
    if (this.n === 0 || (this.ts[end - 1] as number) <= t) {
      this.ts[end] = t;
      this.values[end] = v;
    } else {
      // Late: its place among the readings already here (device clocks and batched uploads).
      const p = this.upperBound(t);
      this.ts.copyWithin(p + 1, p, end);
      this.values.copyWithin(p + 1, p, end);
      this.ts[p] = t;
      this.values[p] = v;
    }
    this.n++;
  }

  /** Drops the readings with ts ≤ from. */
  trim(from: number): void {
    const p = this.upperBound(from);
    this.n -= p - this.head;
    this.head = p;
    // Give memory back once most of it is unused.
    if (this.ts.length > MIN_CAPACITY && this.n <= this.ts.length / 4)
      this.resize(Math.max(MIN_CAPACITY, this.n * 2));
  }

  /** Readings with after < ts ≤ until, copied (the evaluator keeps them past the next refresh). */
  points(after: number, until: number): Points {
    const lo = this.upperBound(after);
    const hi = this.upperBound(until);
    const ts: number[] = [];
    const values: number[] = [];
    for (let i = lo; i < hi; i++) {
      ts.push(this.ts[i] as number);
      values.push(this.values[i] as number);
    }
    return { ts, values };
  }

  /** The first index in [head, head + n) whose ts is > t. */
  private upperBound(t: number): number {
    let lo = this.head;
    let hi = this.head + this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Space for one more slot at the end: slide the live part down when half is free, else double. */
  private makeRoom(): void {
    if (this.head >= this.ts.length / 2) {
      this.ts.copyWithin(0, this.head, this.head + this.n);
      this.values.copyWithin(0, this.head, this.head + this.n);
      this.head = 0;
    } else this.resize(this.ts.length * 2);
  }

  private resize(capacity: number): void {
    const ts = new Float64Array(capacity);
    const values = new Float64Array(capacity);
    ts.set(this.ts.subarray(this.head, this.head + this.n));
    values.set(this.values.subarray(this.head, this.head + this.n));
    this.ts = ts;
    this.values = values;
    this.head = 0;
  }
}
