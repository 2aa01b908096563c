/**
 * The contract every payload format in this folder keeps: bytes (or text) in, readings out, or a
 * typed rejection. Pure and synchronous, never throws: the decoder (../decoder.ts) picks the format
 * from the topic's rule, then applies the device template, the timestamp range policy and identity.
 */
import type { DeadLetterReason } from '../types.js';

/** One number from the payload. `ts` only when the payload gave this reading its own time (ms). */
export interface FormatReading {
  metric: string;
  value: number;
  ts?: number;
  /** Another device than the message's: an NDEATH marks each of its node's devices offline too. */
  device?: string;
}

export interface FormatDecoded {
  ok: true;
  readings: FormatReading[];
  /** A device named by the payload itself (line protocol's `host` tag), else null: the template decides. */
  device: string | null;
  /** True when readings were dropped at the cap (`maxReadings`); the message itself is still stored. */
  capped: boolean;
  /** The message's own time in ms (line protocol: the first line's timestamp), if the payload has one. */
  ts: number | undefined;
}

export interface FormatRejected {
  ok: false;
  reason: DeadLetterReason;
  /** Short and human; the decoder trims it to 200 characters. */
  detail: string;
}

export type FormatResult = FormatDecoded | FormatRejected;

/**
 * What a document format (CBOR, MessagePack) gives back: a tree shaped like parsed JSON (plain
 * objects with string keys, arrays, finite numbers, booleans, strings, null), so the JSON path's
 * timestamp field, id field and flattening apply to it unchanged.
 */
export type DocumentResult = { ok: true; value: unknown } | FormatRejected;

export function rejected(reason: DeadLetterReason, detail: string): FormatRejected {
  return { ok: false, reason, detail };
}
