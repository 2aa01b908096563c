/** Reads the TLS files named in the settings, once, at start. */
import { readFile } from 'node:fs/promises';
import { errorMessage, MqliteError } from '../lib/errors.js';
import type { TlsMaterial } from './client-options.js';
import type { SourceSettings } from './source-types.js';

/** Bound on each read: a hung network file system must not hang start(). */
const TLS_READ_TIMEOUT_MS = 5000;

export async function readTls(tls: SourceSettings['tls']): Promise<TlsMaterial> {
  const out: TlsMaterial = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const path = tls[key];
    if (path === undefined) continue;
    try {
      out[key] = await readFile(path, { signal: AbortSignal.timeout(TLS_READ_TIMEOUT_MS) });
    } catch (err) {
      throw new MqliteError(
        'MQLITE_SOURCE_FAILED',
        `cannot read broker.tls.${key} file "${path}": ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
  }
  return out;
}
