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
  /**
   * Timestamps at which this series holds readings of different values in an order not known to
   * be SQL's, ascending. SQL returns them in the order of the messages_device_ts index (identity,
   * then id, which the cache does not keep), and that order decides e.g. which one a step's last
   * value is: the cache re-reads such a group from SQL (setGroup), and until then a range holding
   * one is answered from SQL. Readings equal in ts and value are interchangeable: no tie.
   */
  private ties: number[] = [];

  get length(): number {
    return this.n;
  }

  /** Slots allocated (what the memory accounting counts). */
  get capacity(): number {
    return this.ts.length;
  }

  /**
   * Adds one reading in ts order (after the readings of equal ts already here); true when it joins
   * readings of the same ts and another value (their order is then to be had from SQL).
   */
  add(t: number, v: number): boolean {
    let end = this.head + this.n;
    if (end === this.ts.length) {
      this.makeRoom();
      end = this.head + this.n;
    }
    if (this.n === 0 || (this.ts[end - 1] as number) <= t) {
      if (this.n > 0 && this.ts[end - 1] === t) this.noteTie(t, end - 1, v);
      this.ts[end] = t;
      this.values[end] = v;
    } else {
      // Late: its place among the readings already here (device clocks and batched uploads).
      const p = this.upperBound(t);
      if (p > this.head && this.ts[p - 1] === t) this.noteTie(t, p - 1, v);
      this.ts.copyWithin(p + 1, p, end);
      this.values.copyWithin(p + 1, p, end);
      this.ts[p] = t;
      this.values[p] = v;
    }
    this.n++;
    return this.ties.length > 0 && this.ties.includes(t);
  }

  /** The readings came in SQL's order (a series read from SQL): no tie is left to settle. */
  settle(): void {
    this.ties = [];
  }

  /** The ts still unsettled. */
  unsettled(): readonly number[] {
    return this.ties;
  }

  /** Marks a ts unsettled again (extend: what was unsettled before stays so). */
  unsettle(t: number): void {
    if (this.ties.includes(t)) return;
    this.ties.push(t);
    this.ties.sort((a, b) => a - b);
  }

  /**
   * The readings at ts t in SQL's order, replacing those held; false (and t left unsettled) when
   * SQL holds another number of them.
   */
  setGroup(t: number, values: readonly number[]): boolean {
    const lo = this.lowerBound(t);
    let hi = lo;
    while (hi < this.head + this.n && this.ts[hi] === t) hi++;
    if (hi - lo !== values.length) return false;
    for (let i = 0; i < values.length; i++) this.values[lo + i] = values[i] as number;
    this.ties = this.ties.filter((x) => x !== t);
    return true;
  }

  /** Drops the readings with ts ≤ from. */
  trim(from: number): void {
    const p = this.upperBound(from);
    this.n -= p - this.head;
    this.head = p;
    if (this.ties.length > 0 && (this.ties[0] as number) <= from)
      this.ties = this.ties.filter((t) => t > from);
    // Give memory back once most of it is unused.
    if (this.ts.length > MIN_CAPACITY && this.n <= this.ts.length / 4)
      this.resize(Math.max(MIN_CAPACITY, this.n * 2));
  }

  /** Whether readings of different values share a ts in (after, until]. */
  tieIn(after: number, until: number): boolean {
    return this.ties.some((t) => t > after && t <= until);
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

  /** The first index in [head, head + n) whose ts is ≥ t. */
  private lowerBound(t: number): number {
    let lo = this.head;
    let hi = this.head + this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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

  /**
   * The readings at t end at i: a tie unless all of them equal v (Object.is: 0 and -0 print alike
   * but differ). The whole group: once settled it may hold several values in any order.
   */
  private noteTie(t: number, i: number, v: number): void {
    if (this.ties.includes(t)) return;
    let j = i;
    while (j >= this.head && this.ts[j] === t && Object.is(this.values[j], v)) j--;
    if (j >= this.head && this.ts[j] === t) this.unsettle(t);
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
