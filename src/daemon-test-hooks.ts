/**
 * Knobs for tests and benchmarks, not for users, so not config keys (those are documented,
 * validated and relied upon). Read from the environment here and nowhere else:
 *
 *   MQLITE_TEST_MAX_PAGE_COUNT=<pages>  PRAGMA max_page_count on the writer connection: a full
 *                                       disk (SQLITE_FULL) on demand
 *   MQLITE_TEST_ACK_ON_RECEIPT=1        subscriber acknowledges on receipt, as most ingesters do,
 *                                       so `npm run bench` can show what ack-after-commit costs;
 *                                       a crash then loses what was acked but not yet stored
 */
import { MqliteError } from './lib/errors.js';

export interface TestHooks {
  readonly maxPageCount?: number;
  readonly ackOnReceipt: boolean;
}

export function testHooks(env: NodeJS.ProcessEnv): TestHooks {
  const pages = env.MQLITE_TEST_MAX_PAGE_COUNT;
  const ackOnReceipt = env.MQLITE_TEST_ACK_ON_RECEIPT === '1';
  if (pages === undefined || pages === '') return { ackOnReceipt };
  const n = Number(pages);
  if (!Number.isInteger(n) || n < 1) {
    throw new MqliteError(
      'MQLITE_USAGE',
      `MQLITE_TEST_MAX_PAGE_COUNT: expected an integer ≥ 1, got "${pages}"`,
    );
  }
  return { maxPageCount: n, ackOnReceipt };
}
