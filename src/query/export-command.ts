/**
 * The `mqlite export` command: flags → ExportOptions, a read-only reader, stdout or a file,
 * and a progress line on stderr when it is a terminal.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { MqliteError } from '../lib/errors.js';
import { type ExportOptions, parseExportTime, writeExport } from './export.js';
import { SqliteReader } from './sqlite-reader.js';

export interface ExportFlags {
  readonly db?: string;
  readonly device?: string[];
  readonly metric?: string[];
  readonly from?: string;
  readonly to?: string;
  readonly resolution?: string;
  readonly format?: string;
  readonly output?: string;
}

const PROGRESS_EVERY_MS = 250;

export async function runExport(flags: ExportFlags, defaultDb: string): Promise<void> {
  const now = Date.now();
  const resolution = flags.resolution ?? 'raw';
  if (resolution !== 'raw' && resolution !== '5m' && resolution !== '1h')
    throw new MqliteError('MQLITE_USAGE', `--resolution: expected raw, 5m or 1h, got "${resolution}"`);
  const format = flags.format ?? 'csv';
  if (format !== 'csv' && format !== 'ndjson')
    throw new MqliteError('MQLITE_USAGE', `--format: expected csv or ndjson, got "${format}"`);
  const opts: ExportOptions = {
    devices: flags.device ?? [],
    metrics: flags.metric ?? [],
    from: parseExportTime('--from', flags.from ?? '24h', now),
    to: parseExportTime('--to', flags.to ?? 'now', now),
    resolution,
    format,
  };
  if (opts.to < opts.from) throw new MqliteError('MQLITE_USAGE', '--to: must not be before --from');

  const reader = new SqliteReader(flags.db ?? defaultDb);
  const out: Writable = flags.output ? createWriteStream(flags.output) : process.stdout;
  const tty = process.stderr.isTTY === true;
  let last = 0;
  try {
    const rows = await writeExport(reader, opts, out, (p) => {
      if (!tty || Date.now() - last < PROGRESS_EVERY_MS) return;
      last = Date.now();
      process.stderr.write(`\rexport: series ${p.series}/${p.seriesTotal}, ${p.rows} rows`);
    });
    if (tty) process.stderr.write(`\rexport: ${rows} rows${' '.repeat(30)}\n`);
  } finally {
    reader.close();
    if (out !== process.stdout) {
      out.end();
      await finished(out);
    }
  }
}
