/**
 * What the forwarder moves: rows of the local outbox (the SQLite `messages` table and the rare
 * `readings_at` rows, schema 2) as read, and the batch they travel in.
 */
import type { ReadingsType } from './pg-schema.js';

/**
 * One `messages` row, as an array in the order of M (better-sqlite3's raw rows: cheaper to make
 * and collect than an object per row, and the forwarder reads tens of thousands a second).
 * payload is TEXT when it was valid UTF-8, else a BLOB (sink/store.ts). Times are ms since epoch;
 * readings is a JSON object metric → number, or null.
 */
export type OutboxMessage = readonly [
  id: number,
  topic: string,
  device: string | null,
  payload: string | Uint8Array | null,
  qos: number,
  retain: number,
  dup: number,
  receivedAt: number,
  ts: number,
  readings: string | null,
];

/** Positions in OutboxMessage (outbox.ts selects the columns in this order). */
export const M = {
  id: 0,
  topic: 1,
  device: 2,
  payload: 3,
  qos: 4,
  retain: 5,
  dup: 6,
  receivedAt: 7,
  ts: 8,
  readings: 9,
} as const;

/** One `readings_at` row, in the order of R: a reading timestamped apart from its message. */
export type OutboxReading = readonly [
  messageId: number,
  device: string | null,
  metric: string,
  ts: number,
  value: number,
];

export const R = { messageId: 0, device: 1, metric: 2, ts: 3, value: 4 } as const;

/** Messages with ids in (afterId, lastId], in id order, and their readings_at rows. */
export interface OutboxBatch {
  readonly afterId: number;
  readonly lastId: number;
  /** The messages as rows; empty when SQLite encoded them (`binary`). */
  readonly messages: readonly OutboxMessage[];
  readonly readingsAt: readonly OutboxReading[];
  /**
   * Payload + readings + topic size: what bounds a batch's memory. Rows count UTF-16 units of
   * text (JS string length), `binary` batches the stored UTF-8 bytes: the same for ASCII.
   */
  readonly bytes: number;
  /** The messages as binary COPY tuples made by SQLite (outbox-copy-sql.ts), for copy-direct. */
  readonly binary?: BinaryTuples;
}

export interface BinaryTuples {
  /** Messages in the batch. */
  readonly rows: number;
  /** Concatenated tuples, one BLOB per chunk read, in id order. */
  readonly chunks: readonly Buffer[];
  /** What they were encoded for (the source's name, json or jsonb readings). */
  readonly source: string;
  readonly readingsType: ReadingsType;
}

/** Messages in a batch, whichever form they came in. */
export function batchRows(b: OutboxBatch): number {
  return b.binary?.rows ?? b.messages.length;
}

/** What is not yet delivered, for the backlog metrics. */
export interface BacklogStats {
  /** newest id − cursor: exact while ids above the cursor are dense (see outbox.ts). */
  readonly rows: number;
  /** rows × the mean stored size of a sample of them: approximate. */
  readonly bytes: number;
  /** Now − received_at of the first undelivered message; 0 when none. */
  readonly oldestAgeSeconds: number;
}
