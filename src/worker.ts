/**
 * Entry of the SQLite worker thread: the composition root on that side. Stages never import each
 * other, so the decoder (decode/) is plugged into the store (sink/) here. The daemon starts this
 * file by URL (dist/worker.js) through sink/sqlite-sink.ts.
 */
import { createDecoder } from './decode/decoder.js';
import type { DecodeSettings } from './decode/types.js';
import { runSqliteWorker } from './sink/sqlite-worker.js';

// DecodeSettings crossed the thread boundary as plain data (workerData); the daemon built it from config.
runSqliteWorker((settings) => createDecoder(settings as DecodeSettings));
