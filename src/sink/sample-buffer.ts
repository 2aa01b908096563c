/**
 * The samples of one batch, held until its messages are inserted and then written grouped by
 * series. `samples` is clustered on (series_id, ts, message_id), so every series has its own
 * right-most leaf page; in arrival order a batch from 100 devices x 4 metrics jumps between 400
 * leaves on every row, and each insert walks the B-tree from the root. Grouped by series, the rows of
 * one series land one after another on the same leaf. Measured on the bench batch (1000 messages,
 * 4000 samples, raw better-sqlite3): 38 -> 19 µs per message with synchronous=OFF.
 *
 * Within a series the batch order is kept (the sort key ends with the arrival index), so rows with
 * equal (series_id, ts) keep message_id order, the same as inserting them one by one.
 */

/** Arrival index bits in the sort key; the series id takes the bits above (2^53 is exact in a double). */
const INDEX_BITS = 22;
const INDEX_LIMIT = 2 ** INDEX_BITS;
const SERIES_LIMIT = 2 ** (53 - INDEX_BITS);

/** Room for a default batch (1000 messages) of a few readings each without growing. */
const INITIAL = 8192;
/** 40 bytes per entry: above this (2.6 MB) the buffer is given back after the batch. */
const SHRINK_ABOVE = 65_536;

export type SampleInsert = (seriesId: number, ts: number, messageId: number, value: number) => void;

export class SampleBuffer {
  private series = new Float64Array(INITIAL);
  private ts = new Float64Array(INITIAL);
  private messageIds = new Float64Array(INITIAL);
  private values = new Float64Array(INITIAL);
  private keys = new Float64Array(INITIAL);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(seriesId: number, ts: number, messageId: number, value: number): void {
    if (this.count === this.series.length) this.grow();
    const i = this.count++;
    this.series[i] = seriesId;
    this.ts[i] = ts;
    this.messageIds[i] = messageId;
    this.values[i] = value;
  }

  /** Inserts every held sample grouped by series (batch order within one), then empties. */
  flush(insert: SampleInsert): void {
    const n = this.count;
    this.count = 0;
    if (n === 0) return;
    const order = this.sortedOrder(n);
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      insert(
        this.series[i] as number,
        this.ts[i] as number,
        this.messageIds[i] as number,
        this.values[i] as number,
      );
    }
    // One batch with many readings per message must not pin its peak size for the process's life.
    if (this.series.length > SHRINK_ABOVE) this.allocate(INITIAL);
  }

  /** Drops what is held (the transaction that added it rolled back). */
  clear(): void {
    this.count = 0;
  }

  /**
   * Arrival indexes in (series, arrival) order. A packed numeric key sorts natively, without a
   * comparator call per comparison; ids or batches too large for the packing take the slow path.
   */
  private sortedOrder(n: number): ArrayLike<number> {
    let packable = n <= INDEX_LIMIT;
    for (let i = 0; packable && i < n; i++) packable = (this.series[i] as number) < SERIES_LIMIT;
    if (!packable) {
      const order = Array.from({ length: n }, (_, i) => i);
      return order.sort((a, b) => (this.series[a] as number) - (this.series[b] as number) || a - b);
    }
    const keys = this.keys.subarray(0, n);
    for (let i = 0; i < n; i++) keys[i] = (this.series[i] as number) * INDEX_LIMIT + i;
    keys.sort();
    // The index is the key's low bits; written back in place, the keys array becomes the order.
    for (let i = 0; i < n; i++) keys[i] = (keys[i] as number) % INDEX_LIMIT;
    return keys;
  }

  private allocate(size: number): void {
    this.series = new Float64Array(size);
    this.ts = new Float64Array(size);
    this.messageIds = new Float64Array(size);
    this.values = new Float64Array(size);
    this.keys = new Float64Array(size);
  }

  private grow(): void {
    const n = this.count;
    const { series, ts, messageIds, values } = this;
    this.allocate(series.length * 2);
    this.series.set(series.subarray(0, n));
    this.ts.set(ts.subarray(0, n));
    this.messageIds.set(messageIds.subarray(0, n));
    this.values.set(values.subarray(0, n));
  }
}
