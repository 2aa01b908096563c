/**
 * Shared by the sink-*.test.ts suites: the compiled worker, a stub decoder, messages.
 *
 * The SQLite worker is a separate thread, so it runs compiled JavaScript from dist/ (as in
 * production), not the TypeScript vitest transforms. `npm test` builds first; running a suite
 * alone needs `npm run build`, and assertBuilt() says so instead of testing stale code.
 * The suites run the sink worker with this stub decoder, so they test storage alone and do not
 * change when decode/'s rules do: a generated module that calls dist/sink/sqlite-worker.js's
 * runSqliteWorker, exactly as src/worker.ts does with the real decoder.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InboundMessage, QoS } from '../../src/lib/message.js';
import type { DecodeFn, Reading, SinkSettings } from '../../src/sink/types.js';

export const DIST = new URL('../../dist/', import.meta.url);
const SRC_SINK = new URL('../../src/sink/', import.meta.url);

/** Fails loudly when dist/ is missing or older than src/sink. */
export function assertBuilt(): void {
  const built = new URL('sink/sqlite-worker.js', DIST);
  if (!existsSync(built)) throw new Error(`${fileURLToPath(built)} is missing: run \`npm run build\` first`);
  const builtAt = statSync(built).mtimeMs;
  for (const f of readdirSync(SRC_SINK)) {
    const src = new URL(f, SRC_SINK);
    if (statSync(src).mtimeMs > builtAt) {
      throw new Error(`dist/ is older than src/sink/${f}: run \`npm run build\` first`);
    }
  }
}

/**
 * Stub decoder. Payload not UTF-8 → stored as BLOB, no readings. Not JSON → dead letter
 * 'invalid_json'. JSON: device = 2nd topic level; ts = .ts or receivedAt; identity from .id;
 * readings from .r, a list of [metric, value] (null value → NaN, to provoke NOT NULL).
 * Test levers: .throw (decoder throws), .exit (the thread dies), .spinMs (busy for that long).
 */
const STUB = `
import { runSqliteWorker } from ${JSON.stringify(new URL('sink/sqlite-worker.js', DIST).href)};
const utf8 = new TextDecoder('utf-8', { fatal: true });
function decode(topic, payload, receivedAt) {
  const device = topic.split('/')[1] ?? null;
  let text;
  try { text = utf8.decode(payload); } catch {
    return { ok: true, device, text: null, ts: receivedAt, tsFromPayload: false, identity: null, readings: [] };
  }
  let j;
  try { j = JSON.parse(text); } catch (e) { return { ok: false, reason: 'invalid_json', detail: e.message }; }
  if (j.throw) throw new Error('stub decoder bug');
  if (j.exit) process.exit(3);
  if (j.spinMs) { const end = Date.now() + j.spinMs; while (Date.now() < end) {} }
  const readings = (j.r ?? []).map(([metric, value]) => ({ metric, value: value === null ? NaN : value }));
  const ts = typeof j.ts === 'number' ? j.ts : receivedAt;
  const identity = j.id === undefined ? null : 'id:' + device + '\\0' + j.id;
  return { ok: true, device, text, ts, tsFromPayload: typeof j.ts === 'number', identity, readings };
}
runSqliteWorker(() => decode);
`;

export function writeStubWorker(dir: string): URL {
  const file = join(dir, 'stub-worker.mjs');
  writeFileSync(file, STUB);
  return pathToFileURL(file);
}

export function sinkSettings(path: string, extra: Partial<SinkSettings> = {}): SinkSettings {
  return {
    path,
    synchronous: 'FULL',
    busyTimeoutMs: 2000,
    deadLetterPayloadBytes: 4096,
    decode: { stub: true },
    ...extra,
  };
}

let seq = 0;

export function message(
  topic: string,
  payload: string | Buffer | object,
  extra: { qos?: QoS; retain?: boolean; dup?: boolean; receivedAt?: number } = {},
): InboundMessage {
  const bytes =
    typeof payload === 'string'
      ? Buffer.from(payload)
      : Buffer.isBuffer(payload)
        ? payload
        : Buffer.from(JSON.stringify(payload));
  return {
    topic,
    payload: bytes,
    qos: extra.qos ?? 1,
    retain: extra.retain ?? false,
    dup: extra.dup ?? false,
    receivedAt: extra.receivedAt ?? 1_700_000_000_000 + seq++,
    receivedMono: 0,
    settle: () => {
      throw new Error('the sink never settles messages: the batch writer does');
    },
  };
}

/**
 * The query tests' decoder: payload {ts, r: [[metric, value, own ts?]], id?}; topic x/<device>, or
 * `nodevice` for a message without a device. `id`, when given, is the message's identity, so
 * messages of one device at one ts lie in the index in an order that is not their arrival's.
 */
export const readingsDecode: DecodeFn = (topic, payload) => {
  const j = JSON.parse(Buffer.from(payload).toString()) as {
    id?: string;
    ts: number;
    r: [string, number, number?][];
  };
  const readings: Reading[] = j.r.map(([metric, value, ts]) =>
    ts === undefined ? { metric, value } : { metric, value, ts },
  );
  return {
    ok: true,
    device: topic === 'nodevice' ? null : (topic.split('/')[1] ?? null),
    text: null,
    ts: j.ts,
    tsFromPayload: true,
    identity: j.id ?? null,
    readings,
  };
};
