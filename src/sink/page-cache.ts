/**
 * The writer connection's SQLite page cache, sized to what the writer touches rather than to what
 * it has read since the database was opened. Pure: the worker applies the size (sqlite-worker.ts).
 *
 * better-sqlite3 is built with SQLITE_DEFAULT_CACHE_SIZE=-16000, and SQLite keeps every page it
 * has read or written until that cap: after ~60 MB of messages the writer held 16 MB of cache,
 * the largest allocation in the process (heaptrack at the bench's peak: 17.1 of 32.7 MB malloc'd),
 * while a commit touches few pages: the right edges of `messages` and the rollup tables, and one
 * leaf of `messages_device_ts (device, ts, identity)` per device writing. So the cache needs a base
 * plus about a page per device; more does not save reads. Measured with bench/sink-worker.ts
 * (200k messages, preads of the worker counted by strace; BENCHMARKS.md "Peak RSS, rss branch"):
 * 100 devices read 18.2k pages at 16 MB, 18.7k at 2.8 MB; 500 devices 53.6k at 16 MB, 58.7k at
 * 6 MB, 88.2k at 2.8 MB; 2000 devices 43.3k at 16 MB, 46.4k at 8 MB, 107k at 4 MB.
 *
 * Devices are counted as distinct topics (known before decoding; a device publishing on several
 * topics counts several times, which only errs towards the old size). The cache only grows, and
 * never past the old default, so a large fleet keeps what it had.
 */

/** What every writer needs: the tables' right edges, interior pages, `series`, `latest`. */
export const CACHE_BASE_KIB = 2048;
/** Two pages per topic: its device's leaf of messages_device_ts, with room for a split. */
export const CACHE_KIB_PER_TOPIC = 8;
/** better-sqlite3's build default (-16000): a fleet large enough gets what it had before. */
export const CACHE_MAX_KIB = 16_000;
/** Grow in steps of at least this much (32 topics), not with every new topic. */
const STEP_KIB = 256;

export class PageCacheSize {
  private readonly topics = new Set<string>();
  private kib = CACHE_BASE_KIB;

  /** The size to set now, KiB. */
  get current(): number {
    return this.kib;
  }

  /**
   * Notes the topics of a batch about to be written; returns the new size in KiB when the cache
   * should grow first, else undefined. Once at the cap it no longer looks at topics at all.
   */
  grow(topics: readonly string[]): number | undefined {
    if (this.kib >= CACHE_MAX_KIB) return undefined;
    for (const t of topics) this.topics.add(t);
    const want = Math.min(CACHE_MAX_KIB, CACHE_BASE_KIB + CACHE_KIB_PER_TOPIC * this.topics.size);
    if (want < this.kib + STEP_KIB && want < CACHE_MAX_KIB) return undefined;
    this.kib = want;
    // At the cap the set is never read again.
    if (want >= CACHE_MAX_KIB) this.topics.clear();
    return want;
  }
}
