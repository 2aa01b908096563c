/**
 * The decode stage's contract: (topic, payload bytes, receivedAt) → rows to store, or a reason
 * to dead-letter. Pure and synchronous: it runs in the SQLite worker thread once per message.
 */

/** Every reason a payload is dead-lettered. Label values of the dead-letter metric. */
export const DEAD_LETTER_REASONS = [
  'payload_too_large',
  'empty_payload',
  'invalid_utf8',
  'invalid_json',
  'json_too_deep',
  'too_many_readings',
  'invalid_timestamp',
  'timestamp_out_of_range',
  'invalid_line_protocol',
  'invalid_cbor',
  'invalid_msgpack',
  'payload_too_deep',
  'invalid_sparkplug',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface FormatRule {
  /** MQTT topic filter; the first rule whose filter matches the topic applies. */
  filter: string;
  format: 'json' | 'raw';
  /** Dot path of the timestamp in the payload (`ts`, `meta.time`, `samples.0.t`). */
  tsField: string;
  /** auto: a number below 1e11 is seconds, else milliseconds; a string is ISO-8601. */
  tsUnit: 'auto' | 's' | 'ms' | 'iso';
  /** Dot path of a message id that identifies redeliveries. */
  idField?: string | undefined;
}

export interface DecodeSettings {
  /** Topic template, e.g. '+/{device}/#'. */
  template: string;
  /** First matching filter wins; no match → json, tsField 'ts', tsUnit 'auto'. */
  formats: readonly FormatRule[];
  maxPayloadBytes: number;
  maxJsonDepth: number;
  maxReadingsPerMessage: number;
  maxFutureMs: number;
  maxPastMs: number;
  outOfRange: 'clamp' | 'keep' | 'dead-letter';
}

export interface Reading {
  metric: string;
  value: number;
}

export interface Decoded {
  ok: true;
  /** From the topic template; null when the topic does not match it or the level is empty. */
  device: string | null;
  /** The payload as a string when it is valid UTF-8 (store as TEXT), else null (store as BLOB). */
  text: string | null;
  /** ms since epoch: the payload timestamp (after the out-of-range rule), else receivedAt. */
  ts: number;
  tsFromPayload: boolean;
  /** Redelivery identity (`id:<device ?? topic>\0<id>` or `ts:<topic>\0<ts>`), or null. */
  identity: string | null;
  readings: Reading[];
}

export interface Rejected {
  ok: false;
  reason: DeadLetterReason;
  /** Short and human, at most 200 characters. */
  detail: string;
}

export type DecodeResult = Decoded | Rejected;
