/**
 * The wire between the main thread and the SQLite worker. A batch crosses once, as a handful of
 * typed arrays (lib/message.ts PackedMessages): structured-cloning a thousand message objects per
 * batch would cost more than the insert itself. The arrays are copied, not transferred: the writer
 * keeps the batch until it commits, to retry it.
 */
import { batchOf, FLAG_DUP, FLAG_RETAIN, type InboundMessage, type PackedMessages } from '../lib/message.js';
import type { MigrationProgress } from './migrations/index.js';
import type { MaintenanceOp, MaintenanceResult } from './purge-types.js';
import type { BatchResult, StoreSettings } from './types.js';

/** The batch's fields as they cross to the worker (lib/message.ts: the queue packs them). */
export type PackedBatch = PackedMessages;
export { FLAG_DUP, FLAG_RETAIN };

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

/** Packs a batch and lists the buffers to transfer with it (tests and benches). */
export function packBatch(batch: readonly InboundMessage[]): {
  packed: PackedBatch;
  transfer: ArrayBuffer[];
} {
  const packed = batchOf(batch).packed;
  const { payload, offsets, qos, flags, receivedAt } = packed;
  const transfer = [
    payload.buffer,
    offsets.buffer,
    qos.buffer,
    flags.buffer,
    receivedAt.buffer,
  ] as ArrayBuffer[];
  return { packed, transfer };
}

/** Payload of message i, a view into the packed buffer (no copy). */
export function payloadAt(b: PackedBatch, i: number): Uint8Array {
  return b.payload.subarray(b.offsets[i] ?? 0, b.offsets[i + 1] ?? 0);
}
