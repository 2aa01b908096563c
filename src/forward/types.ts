/**
 * What the forwarder moves: rows of the local outbox (the SQLite `messages` table and the rare
 * `readings_at` rows, schema 2) as read, and the batch they travel in.
 */

/** One `messages` row. payload is TEXT when it was valid UTF-8, else a BLOB (sink/store.ts). */
export interface OutboxMessage {
  readonly id: number;
  readonly topic: string;
  readonly device: string | null;
  readonly payload: string | Uint8Array | null;
  readonly qos: number;
  readonly retain: number;
  readonly dup: number;
  /** ms since epoch. */
  readonly receivedAt: number;
  readonly ts: number;
  /** JSON object metric → number, or null. */
  readonly readings: string | null;
}

/** One `readings_at` row: a reading timestamped apart from its message. */
export interface OutboxReading {
  readonly messageId: number;
  readonly device: string | null;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

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
