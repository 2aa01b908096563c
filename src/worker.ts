/**
 * Entry of the SQLite worker thread: the composition root on that side. Stages never import each
 * other, so the decoder (decode/) is plugged into the store (sink/) here. The daemon starts this
 * file by URL (dist/worker.js) through sink/sqlite-sink.ts.
 */
import { createDecoder } from './decode/decoder.js';
import type { DecodeSettings } from './decode/types.js';
import { nameThread } from './lib/thread-priority.js';
import { runSqliteWorker } from './sink/sqlite-worker.js';

// The daemon starts the sink as SqliteSink<DecodeSettings> (daemon-settings.ts sinkSettings): the
// settings crossed the thread boundary as plain data and arrive as that type.
// Named so `top -H`, `ps -L` and the benches' per-thread CPU tell it from the other threads.
nameThread('mqlite-sqlite');
runSqliteWorker<DecodeSettings>(createDecoder);
