/**
 * What the sink stage speaks: its settings, the decode function it is handed (declared here
 * structurally, because stages never import each other: src/worker.ts plugs decode/ in), and the
 * result of one committed batch.
 */

import type { MigrationProgress } from './migrations/index.js';

export type Synchronous = 'FULL' | 'NORMAL' | 'OFF';

/** What the SQLite worker needs to open the database. Plain data: it crosses to the thread. */
export interface StoreSettings {
  readonly path: string;
  /**
   * FULL by default: in WAL mode NORMAL survives a process crash but not a power loss or an OS
   * crash (https://www.sqlite.org/pragma.html#pragma_synchronous).
   */
  readonly synchronous: Synchronous;
  readonly busyTimeoutMs: number;
  /** Dead letters keep at most this many payload bytes (and always the full length). */
  readonly deadLetterPayloadBytes: number;
  /** Test only: `PRAGMA max_page_count` on the writer connection, to provoke SQLITE_FULL. */
  readonly maxPageCount?: number;
  /**
   * Under load, latest and the rollups are written at most this often (pending-rollups.ts); 0 writes them with every batch. Default 1000 ms.
   */
  readonly rollupFlushMs?: number;
  /** Recognising copies of messages without identity (sink/redelivery.ts); default 1 h, 1000 rows. */
  readonly redelivery?: {
    readonly windowMs: number;
    readonly lookback: number;
    readonly retainedCopies: boolean;
  };
}

/**
 * D: the decoder's settings, opaque to the sink (stages do not import each other). The daemon
 * and src/worker.ts both name it (DecodeSettings), so what is sent and what the worker's
 * decoder factory receives are one type, with no cast on either side.
 */
export interface SinkSettings<D = unknown> extends StoreSettings {
  /** Forwarded to the worker as is, where src/worker.ts builds the decoder from it. */
  readonly decode: D;
  /**
   * Bound on every request to the worker (open, write, close). Default 30 s. While a schema migration
   * reports progress at open, each report re-arms it.
   */
  readonly opTimeoutMs?: number;
  /** Called on the main thread with the progress of a long schema migration at open (to log it). */
  readonly onMigrationProgress?: (p: MigrationProgress) => void;
}

export interface Reading {
  readonly metric: string;
  readonly value: number;
  /**
   * ms since epoch, only when the reading was taken at another time than its message's ts (Sparkplug
   * is_historical, a batched upload): stored in readings_at and rolled up at this time.
   */
  readonly ts?: number;
  /**
   * Only when the reading belongs to another device than its message's (a Sparkplug NDEATH marks
   * each device of its node offline): stored in readings_at under that device, at the message's ts.
   */
  readonly device?: string;
}

/** Same shape as decode/types.ts DecodeResult; kept structural so the sink does not import decode/. */
export type SinkDecodeResult =
  | {
      readonly ok: true;
      readonly device: string | null;
      /** Payload as text when it is valid UTF-8 (stored as TEXT), else null (stored as BLOB). */
      readonly text: string | null;
      readonly ts: number;
      readonly tsFromPayload: boolean;
      /** What identifies the message with its topic: hashed as `p:<topic>\0<identity>` (identity-hash.ts). */
      readonly identity: string | null;
      readonly readings: readonly Reading[];
      /** When set, exactly readingsJson(readings) (readings-json.ts), which the decoder had for free. */
      readonly readingsJson?: string | undefined;
      /** Readings beyond the per-message cap, not stored. */
      readonly readingsCapped?: number;
      /** Non-finite numbers, not stored. */
      readonly nonFinite?: number;
    }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

/**
 * State a decoder rebuilds at open from messages already stored (Sparkplug alias tables from the
 * last BIRTH per topic): the store feeds it the newest message of each topic matching `glob`.
 */
export interface DecoderRestore {
  /** SQLite GLOB over messages.topic. */
  readonly glob: string;
  readonly feed: (topic: string, payload: Uint8Array) => void;
}

/**
 * What a stateful decoder (Sparkplug B) has to say after a batch: counter increments by name, and
 * messages it asks the intake to publish (QoS 0, not retained: rebirth requests). The worker has no
 * MQTT connection, so these travel back with the batch's result.
 */
export interface DecoderReport {
  readonly counts: Readonly<Record<string, number>>;
  readonly publish: readonly { readonly topic: string; readonly payload: Uint8Array }[];
}

export interface DecodeFn {
  (topic: string, payload: Uint8Array, receivedAt: number): SinkDecodeResult;
  readonly restore?: DecoderRestore | undefined;
  /** Called after each committed batch; undefined when there is nothing to report. */
  readonly report?: (() => DecoderReport | undefined) | undefined;
}

/** Builds the decode function inside the worker from the settings the sink was given. */
export type DecoderFactory<D> = (settings: D) => DecodeFn;

export interface BatchResult {
  /** New rows in `messages`. */
  readonly stored: number;
  /** Messages whose identity was already stored: redeliveries, nothing inserted. */
  readonly duplicates: number;
  /** Readings of the stored messages (in messages.readings or readings_at). */
  readonly readings: number;
  /** Rows in `dead_letters`, by reason. */
  readonly deadLetters: Record<string, number>;
  /** Wall time of the transaction(s) in the worker. */
  readonly commitSeconds: number;
  /** Payload timestamp (ms) of each stored message in batch order, NaN where the payload had none. */
  readonly payloadTs: Float64Array;
  /** Readings not stored because their message had more than the cap. */
  readonly readingsCapped?: number;
  /** Non-finite numbers (1e400) not stored. */
  readonly nonFinite?: number;
  /** Topic of the first duplicate in the batch, for the log. */
  readonly duplicateTopic?: string;
  /** The decoder's report since the last committed batch (DecodeFn.report). */
  readonly decoder?: DecoderReport;
}
