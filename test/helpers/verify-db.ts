/**
 * Reads an mqlite database read-only (while the daemon may still be writing it: WAL readers do
 * not block the writer) to check that every published (device, seq) is stored exactly once.
 */
import Database from 'better-sqlite3';

/** Rows in `messages`, or 0 while the file or the table does not exist yet. */
export function countMessages(dbPath: string): number {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch {
    return 0;
  }
  try {
    return db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
  } catch {
    return 0; // not migrated yet
  } finally {
    db.close();
  }
}

export interface StoredReport {
  /** Rows in messages. */
  total: number;
  /** Distinct (device, seq) pairs. */
  distinct: number;
  /** seq numbers stored per device. */
  perDevice: Map<string, Set<number>>;
  /** (device, seq) stored more than once, with how often. */
  duplicates: { device: string; seq: number; n: number }[];
  /** Rows whose payload has no seq (should be none). */
  withoutSeq: number;
  deadLetters: number;
}

export function readStored(dbPath: string): StoredReport {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        "SELECT device, json_extract(payload, '$.seq') AS seq, count(*) AS n FROM messages GROUP BY 1, 2",
      )
      .all() as { device: string; seq: number | null; n: number }[];
    const perDevice = new Map<string, Set<number>>();
    const duplicates: StoredReport['duplicates'] = [];
    let total = 0;
    let distinct = 0;
    let withoutSeq = 0;
    for (const r of rows) {
      total += r.n;
      if (r.seq === null) {
        withoutSeq += r.n;
        continue;
      }
      distinct++;
      if (r.n > 1) duplicates.push({ device: r.device, seq: r.seq, n: r.n });
      let set = perDevice.get(r.device);
      if (set === undefined) {
        set = new Set();
        perDevice.set(r.device, set);
      }
      set.add(r.seq);
    }
    const deadLetters = db.prepare('SELECT count(*) FROM dead_letters').pluck().get() as number;
    return { total, distinct, perDevice, duplicates, withoutSeq, deadLetters };
  } finally {
    db.close();
  }
}

/**
 * Which of the expected (device, seq) are missing, at most `limit` of them, as "dev-03#117":
 * an empty list plus total === expected plus no duplicates means exactly once.
 */
export function missing(
  report: StoredReport,
  devices: readonly string[],
  perDevice: number,
  limit = 20,
): string[] {
  const out: string[] = [];
  for (const d of devices) {
    const set = report.perDevice.get(d);
    for (let seq = 0; seq < perDevice && out.length < limit; seq++) {
      if (set?.has(seq) !== true) out.push(`${d}#${seq}`);
    }
  }
  return out;
}

/** A compact summary for assertions: equal to `{ total: N, distinct: N, duplicates: [], missing: [], ... }`. */
export function exactlyOnceSummary(dbPath: string, devices: readonly string[], perDevice: number) {
  const r = readStored(dbPath);
  return {
    total: r.total,
    distinct: r.distinct,
    duplicates: r.duplicates.slice(0, 20),
    missing: missing(r, devices, perDevice),
    withoutSeq: r.withoutSeq,
    deadLetters: r.deadLetters,
  };
}

/** What exactlyOnceSummary returns when all `total` messages are stored once and nothing else. */
export function allOnce(total: number): ReturnType<typeof exactlyOnceSummary> {
  return { total, distinct: total, duplicates: [], missing: [], withoutSeq: 0, deadLetters: 0 };
}

/**
 * The readings stored with one message, metric → value. The one place the corpus tests read the
 * readings' physical layout (schema 1: samples + series): change it here when that layout changes.
 */
export function readingsOfMessage(db: Database.Database, messageId: number): Record<string, number> {
  const rows = db
    .prepare(
      'SELECT r.metric, s.value FROM samples s JOIN series r ON r.id = s.series_id WHERE s.message_id = ?',
    )
    .all(messageId) as { metric: string; value: number }[];
  return Object.fromEntries(rows.map((r) => [r.metric, r.value]));
}
