/**
 * The pure part of a query worker's cache of recent raw readings (recent-cache.ts feeds it from
 * SQLite). For every device it holds ("built"), it holds exactly the inline readings (those in
 * messages.readings, not readings_at) of that device's stored messages whose ts > coverFrom, per
 * metric, ascending by ts: the rows SqliteReader's per-series statement would read for any range
 * inside (coverFrom, ∞). coverFrom only moves forward; clear() starts over.
 *
 * Devices are keyed as SQLite holds them (null for none): the reader maps '' to NULL, as its SQL does.
 */
import type { Points } from './data.js';
import { SeriesColumn, SLOT_BYTES } from './series-column.js';

/**
 * What a series and a device cost besides their slots: the objects, two typed arrays with their
 * ArrayBuffers, a Map entry and the metric name (estimates from V8's object sizes, rounded up).
 */
const SERIES_BYTES = 400;
const DEVICE_BYTES = 200;

export class RecentReadings {
  private readonly devices = new Map<string | null, Map<string, SeriesColumn>>();
  private slots = 0;
  private overhead = 0;

  constructor(private cover: number) {}

  /** Readings with ts > coverFrom are held (for every built device). */
  get coverFrom(): number {
    return this.cover;
  }

  /** Memory held, estimated: slots allocated × 16 bytes plus per-series and per-device overhead. */
  get bytes(): number {
    return this.slots * SLOT_BYTES + this.overhead;
  }

  get deviceCount(): number {
    return this.devices.size;
  }

  has(device: string | null): boolean {
    return this.devices.has(device);
  }

  /** Starts holding a device; its readings follow through add(). */
  addDevice(device: string | null): void {
    if (this.devices.has(device)) return;
    this.devices.set(device, new Map());
    this.overhead += DEVICE_BYTES + 2 * (device?.length ?? 0);
  }

  /** Forgets a device (a build given up half way). */
  dropDevice(device: string | null): void {
    const series = this.devices.get(device);
    if (!series) return;
    for (const [metric, col] of series) this.forget(metric, col);
    this.overhead -= DEVICE_BYTES + 2 * (device?.length ?? 0);
    this.devices.delete(device);
  }

  /** One reading of a stored message; ignored when its device is not held or it is not after coverFrom. */
  add(device: string | null, metric: string, ts: number, value: number): void {
    if (ts <= this.cover) return;
    const series = this.devices.get(device);
    if (!series) return;
    let col = series.get(metric);
    if (!col) {
      col = new SeriesColumn();
      series.set(metric, col);
      this.overhead += SERIES_BYTES + 2 * metric.length;
      this.slots += col.capacity;
    }
    const before = col.capacity;
    col.add(ts, value);
    this.slots += col.capacity - before;
  }

  /** Moves coverFrom forward to `from` (never back), dropping what is no longer covered. */
  trim(from: number): void {
    if (from <= this.cover) return;
    this.cover = from;
    for (const series of this.devices.values()) {
      for (const [metric, col] of series) {
        const before = col.capacity;
        col.trim(from);
        this.slots += col.capacity - before;
        if (col.length === 0) {
          this.forget(metric, col);
          series.delete(metric);
        }
      }
    }
  }

  /** Forgets everything; the next cache covers ts > coverFrom. */
  clear(coverFrom: number): void {
    this.devices.clear();
    this.slots = 0;
    this.overhead = 0;
    this.cover = coverFrom;
  }

  /**
   * The inline readings of a held device's series with after < ts ≤ until (after ≥ coverFrom);
   * undefined when the device is not held or readings of different values share a ts in the range
   * (their order is SQL's to give: series-column.ts).
   */
  points(device: string | null, metric: string, after: number, until: number): Points | undefined {
    if (after < this.cover) throw new RangeError(`after ${after} is before coverFrom ${this.cover}`);
    const series = this.devices.get(device);
    if (!series) return undefined;
    const col = series.get(metric);
    if (!col) return { ts: [], values: [] };
    if (col.tieIn(after, until)) return undefined;
    return col.points(after, until);
  }

  private forget(metric: string, col: SeriesColumn): void {
    this.overhead -= SERIES_BYTES + 2 * metric.length;
    this.slots -= col.capacity;
  }
}
