/**
 * What the sink stage speaks: its settings, the decode function it is handed (declared here
 * structurally, because stages never import each other: src/worker.ts plugs decode/ in), and the
 * result of one committed batch.
 */

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
}

/**
 * D: the decoder's settings, opaque to the sink (stages do not import each other). The daemon
 * and src/worker.ts both name it (DecodeSettings), so what is sent and what the worker's
 * decoder factory receives are one type, with no cast on either side.
 */
export interface SinkSettings<D = unknown> extends StoreSettings {
  /** Forwarded to the worker as is, where src/worker.ts builds the decoder from it. */
  readonly decode: D;
  /** Bound on every request to the worker (open, write, close). Default 30 s. */
  readonly opTimeoutMs?: number;
}

export interface Reading {
  readonly metric: string;
  readonly value: number;
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
      readonly identity: string | null;
      readonly readings: readonly Reading[];
    }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

export type DecodeFn = (topic: string, payload: Uint8Array, receivedAt: number) => SinkDecodeResult;

/** Builds the decode function inside the worker from the settings the sink was given. */
export type DecoderFactory<D> = (settings: D) => DecodeFn;

export interface BatchResult {
  /** New rows in `messages`. */
  readonly stored: number;
  /** Messages whose identity was already stored: redeliveries, nothing inserted. */
  readonly duplicates: number;
  /** Rows in `samples`. */
  readonly readings: number;
  /** Rows in `dead_letters`, by reason. */
  readonly deadLetters: Record<string, number>;
  /** Wall time of the transaction(s) in the worker. */
  readonly commitSeconds: number;
  /** Payload timestamp (ms) of each stored message in batch order, NaN where the payload had none. */
  readonly payloadTs: Float64Array;
}
