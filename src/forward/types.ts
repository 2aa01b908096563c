/**
 * What the forwarder moves: rows of the local outbox (the SQLite `messages` table and the rare
 * `readings_at` rows, schema 2) as read, and the batch they travel in.
 */

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
  readonly messages: readonly OutboxMessage[];
  readonly readingsAt: readonly OutboxReading[];
  /** Payload + readings + topic bytes: what bounds a batch's memory. */
  readonly bytes: number;
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
