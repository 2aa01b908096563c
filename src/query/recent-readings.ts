/**
 * The pure part of a query worker's cache of recent raw readings (recent-cache.ts feeds it from
 * SQLite). For every series it holds, it holds exactly the inline readings (those in
 * messages.readings, not readings_at) of that series' stored messages whose ts > coverFrom,
 * ascending by ts: the rows SqliteReader's per-series statement would read for any range inside
 * (coverFrom, ∞). clear() starts over; extend() moves coverFrom back with readings read for the gap.
 *
 * Devices are keyed as SQLite holds them (null for none): the reader maps '' to NULL, as its SQL does.
 */
import type { Points } from './data.js';
import { SeriesColumn, SLOT_BYTES } from './series-column.js';

/**
 * What a series and a device cost besides their slots: the objects, two typed arrays with their
 * ArrayBuffers, a Map entry and the names (estimates from V8's object sizes, rounded up).
 */
const SERIES_BYTES = 400;
const DEVICE_BYTES = 200;

/** SQL read of one series' inline readings, after < ts ≤ until. */
export type ReadSeries = (device: string | null, metric: string, after: number, until: number) => Points;

export class RecentReadings {
  private readonly devices = new Map<string | null, Map<string, SeriesColumn>>();
  private slots = 0;
  private overhead = 0;
  private held = 0;
  /** Held series per metric name: what a refresh must pick out of new messages. */
  private readonly names = new Map<string, number>();

  constructor(private cover: number) {}

  /** Readings with ts > coverFrom are held (for every held series). */
  get coverFrom(): number {
    return this.cover;
  }

  /** Memory held, estimated: slots allocated × 16 bytes plus per-series and per-device overhead. */
  get bytes(): number {
    return this.slots * SLOT_BYTES + this.overhead;
  }

  get seriesCount(): number {
    return this.held;
  }

  /** The metric names of the series held, each once. */
  metrics(): string[] {
    return [...this.names.keys()];
  }

  has(device: string | null, metric: string): boolean {
    return this.devices.get(device)?.has(metric) ?? false;
  }

  /**
   * Starts holding a series with its readings after coverFrom (ascending by ts, as SQL reads them);
   * later ones follow through add().
   */
  addSeries(device: string | null, metric: string, p: Points): void {
    let series = this.devices.get(device);
    if (!series) {
      series = new Map();
      this.devices.set(device, series);
      this.overhead += DEVICE_BYTES + 2 * (device?.length ?? 0);
    }
    if (series.has(metric)) return;
    const col = new SeriesColumn();
    for (let i = 0; i < p.ts.length; i++) {
      const t = p.ts[i] as number;
      if (t > this.cover) col.add(t, p.values[i] as number);
    }
    series.set(metric, col);
    this.held++;
    this.names.set(metric, (this.names.get(metric) ?? 0) + 1);
    this.overhead += SERIES_BYTES + 2 * metric.length;
    this.slots += col.capacity;
  }

  /** One reading of a stored message; ignored unless its series is held and it is after coverFrom. */
  add(device: string | null, metric: string, ts: number, value: number): void {
    if (ts <= this.cover) return;
    const col = this.devices.get(device)?.get(metric);
    if (!col) return;
    const before = col.capacity;
    col.add(ts, value);
    this.slots += col.capacity - before;
  }

  /** Moves coverFrom forward to `from` (never back: see extend), dropping what is no longer covered. */
  trim(from: number): void {
    if (from <= this.cover) return;
    this.cover = from;
    for (const series of this.devices.values()) {
      for (const col of series.values()) {
        const before = col.capacity;
        col.trim(from);
        this.slots += col.capacity - before;
      }
    }
  }

  /**
   * Moves coverFrom back to `from`: every held series gets its readings in (from, coverFrom], read
   * from the same snapshot as the rest (all older than what it holds).
   */
  extend(from: number, read: ReadSeries): void {
    if (from >= this.cover) return;
    for (const [device, series] of this.devices) {
      for (const [metric, col] of series) {
        const older = read(device, metric, from, this.cover);
        const merged = new SeriesColumn();
        for (let i = 0; i < older.ts.length; i++)
          merged.add(older.ts[i] as number, older.values[i] as number);
        const held = col.points(this.cover, Number.POSITIVE_INFINITY);
        for (let i = 0; i < held.ts.length; i++) merged.add(held.ts[i] as number, held.values[i] as number);
        series.set(metric, merged);
        this.slots += merged.capacity - col.capacity;
      }
    }
    this.cover = from;
  }

  /** Forgets everything; the next cache covers ts > coverFrom. */
  clear(coverFrom: number): void {
    this.devices.clear();
    this.slots = 0;
    this.overhead = 0;
    this.held = 0;
    this.names.clear();
    this.cover = coverFrom;
  }

  /**
   * The readings of a held series with after < ts ≤ until (after ≥ coverFrom); undefined when the
   * series is not held or readings of different values share a ts in the range (their order is
   * SQL's to give: series-column.ts).
   */
  points(device: string | null, metric: string, after: number, until: number): Points | undefined {
    if (after < this.cover) throw new RangeError(`after ${after} is before coverFrom ${this.cover}`);
    const col = this.devices.get(device)?.get(metric);
    if (!col) return undefined;
    return col.points(after, until);
  }
}
