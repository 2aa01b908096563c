/**
 * The wire between the main thread and the SQLite worker. A batch crosses once, as a handful of
 * typed arrays whose buffers are transferred (moved, not copied): structured-cloning a thousand
 * message objects per batch would cost more than the insert itself.
 */
import type { InboundMessage } from '../lib/message.js';
import type { MigrationProgress } from './migrations/index.js';
import type { MaintenanceOp, MaintenanceResult } from './purge-types.js';
import type { BatchResult, StoreSettings } from './types.js';

export interface PackedBatch {
  readonly topics: string[];
  /** All payloads back to back; message i is payload[offsets[i] .. offsets[i+1]). */
  readonly payload: Uint8Array;
  readonly offsets: Uint32Array;
  readonly qos: Uint8Array;
  /** bit 0 retain, bit 1 dup. */
  readonly flags: Uint8Array;
  readonly receivedAt: Float64Array;
}

export const FLAG_RETAIN = 1;
export const FLAG_DUP = 2;

/** What the worker thread is started with (its workerData). */
export interface WorkerInit<D> {
  readonly store: StoreSettings;
  readonly decode: D;
}

export type WorkerRequest =
  | { readonly id: number; readonly kind: 'write'; readonly batch: PackedBatch }
  | { readonly id: number; readonly kind: 'close' }
  /** Retention (sqlite-purge.ts): one small transaction, sent between batches under the writer's mutex. */
  | { readonly id: number; readonly kind: 'maintain'; readonly op: MaintenanceOp };

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export type WorkerMessage =
  | { readonly kind: 'ready' }
  /** A schema migration is under way at open (migrations/index.ts); re-arms the open timeout. */
  | { readonly kind: 'migrating'; readonly progress: MigrationProgress }
  /** `open`: the database could not be opened or migrated; `init`: anything else at startup. */
  | { readonly kind: 'open-failed'; readonly stage: 'open' | 'init'; readonly error: WireError }
  | { readonly kind: 'result'; readonly id: number; readonly result: BatchResult }
  | { readonly kind: 'error'; readonly id: number; readonly error: WireError }
  | { readonly kind: 'closed'; readonly id: number }
  | { readonly kind: 'maintained'; readonly id: number; readonly result: MaintenanceResult };

/** Packs a batch and lists the buffers to transfer with it. */
export function packBatch(batch: readonly InboundMessage[]): {
  packed: PackedBatch;
  transfer: ArrayBuffer[];
} {
  const n = batch.length;
  let total = 0;
  for (const m of batch) total += m.payload.length;
  const payload = new Uint8Array(total);
  const offsets = new Uint32Array(n + 1);
  const qos = new Uint8Array(n);
  const flags = new Uint8Array(n);
  const receivedAt = new Float64Array(n);
  const topics: string[] = new Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const m = batch[i] as InboundMessage;
    topics[i] = m.topic;
    payload.set(m.payload, at);
    offsets[i] = at;
    at += m.payload.length;
    qos[i] = m.qos;
    flags[i] = (m.retain ? FLAG_RETAIN : 0) | (m.dup ? FLAG_DUP : 0);
    receivedAt[i] = m.receivedAt;
  }
  offsets[n] = at;
  const transfer = [payload.buffer, offsets.buffer, qos.buffer, flags.buffer, receivedAt.buffer];
  return { packed: { topics, payload, offsets, qos, flags, receivedAt }, transfer };
}

/** Payload of message i, a view into the packed buffer (no copy). */
export function payloadAt(b: PackedBatch, i: number): Uint8Array {
  return b.payload.subarray(b.offsets[i] ?? 0, b.offsets[i + 1] ?? 0);
}
