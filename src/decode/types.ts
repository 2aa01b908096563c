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
  'invalid_timestamp',
  'timestamp_out_of_range',
  'invalid_line_protocol',
  'invalid_cbor',
  'invalid_msgpack',
  'payload_too_deep',
  'invalid_sparkplug',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * auto: JSON → readings, a bare number → one reading, a state word → 0/1, other text → a message
 * without readings (binary: stored as a BLOB). json: JSON only, anything else is dead-lettered.
 * text: a number or a state word → one reading, else no readings. document: stored as is (JSON
 * timestamp honoured), no readings: configuration and inventory documents. raw: stored as is.
 * line-protocol (InfluxDB), cbor, msgpack, sparkplug (Sparkplug B): see decode/formats/.
 */
export const FORMATS = [
  'auto',
  'json',
  'text',
  'document',
  'raw',
  'line-protocol',
  'cbor',
  'msgpack',
  'sparkplug',
] as const;
export type Format = (typeof FORMATS)[number];

export interface FormatRule {
  /** MQTT topic filter; the first rule whose filter matches the topic (and template, if set) applies. */
  filter: string;
  format: Format;
  /** Dot path of the timestamp in the payload (`ts`, `meta.time`, `samples.0.t`). */
  tsField: string;
  /** auto: a number below 1e11 is seconds, else milliseconds; a string is ISO-8601. */
  tsUnit: 'auto' | 's' | 'ms' | 'iso';
  /** Dot path of a message id that identifies redeliveries. */
  idField?: string | undefined;
  /**
   * IANA time zone for timestamp strings without an offset (Tasmota `Time` is the device's local
   * time); 'local' is the host's zone. Default: DecodeSettings.timeZone.
   */
  tsZone?: string | undefined;
  /** Topic template for this rule; the rule applies only to topics it matches. Default: the global one. */
  template?: string | undefined;
  /** Device name from the template's captures, e.g. '{user}/{device}'. Default: the '{device}' capture. */
  device?: string | undefined;
  /**
   * Metric name from the captures, e.g. '{object}': names a bare value, and prefixes JSON readings
   * ('{component}' → 'switch:0.apower'). Default: a bare value is named by the levels after the
   * device, JSON readings by their paths.
   */
  metric?: string | undefined;
  /** Dot path of the part of a JSON payload that holds the readings (Shelly Gen2 'params'). */
  readingsField?: string | undefined;
  /** Where the rule comes from, for check-config and logs: 'config' or a preset name. */
  source?: string | undefined;
  /** line-protocol: the unit of timestamps; default 'ns', as InfluxDB. */
  precision?: 'ns' | 'us' | 'ms' | 's' | undefined;
  /** line-protocol: the tag that names the device; default 'host', as Telegraf sets it. */
  deviceTag?: string | undefined;
}

/** Text values that are states: matched case-insensitively, stored as 1 (on) or 0 (off). */
export interface StateWords {
  on: readonly string[];
  off: readonly string[];
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
  /** Words stored as 0/1 readings; default DEFAULT_STATE_WORDS. */
  stateWords?: StateWords | undefined;
  /** Zone for timestamp strings without an offset when the rule sets none; default 'local'. */
  timeZone?: string | undefined;
  /** Sparkplug B host behaviour; default: no rebirth requests. */
  sparkplug?: SparkplugSettings | undefined;
}

export interface SparkplugSettings {
  /** Ask an edge node to rebirth (NCMD Node Control/Rebirth) after an anomaly. Off: non-primary hosts should not. */
  rebirth: boolean;
  /** At most one rebirth request per edge node per this many ms. */
  rebirthIntervalMs: number;
}

export interface Reading {
  metric: string;
  value: number;
  /**
   * ms since epoch, only when the payload gave this reading a time other than its message's:
   * Sparkplug is_historical metrics, line protocol lines with different timestamps.
   */
  ts?: number;
  /** Only when the reading belongs to another device than its message's (Sparkplug NDEATH → devices). */
  device?: string;
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
  /**
   * Redelivery identity when the payload has a timestamp or the rule an idField present in it; null
   * otherwise (see sink/redelivery.ts for how those are recognised). The identity is the topic and
   * the payload's bytes, `p:<topic>\0<payload>`; this field holds its last part only (the payload's
   * text, or its bytes as latin1), and the store hashes the whole (sink/identity-hash.ts
   * messageIdentityKey) without joining it.
   */
  identity: string | null;
  readings: Reading[];
  /**
   * The readings as the JSON text the sink stores in `messages.readings`, when the payload already
   * held it (a compact flat object, decode/flat-json.ts): then exactly what sink/readings-json.ts
   * readingsJson(readings) would give (test/unit/decode/flat-json.property.test.ts). Absent or
   * undefined: the sink builds it from the readings.
   */
  readingsJson?: string | undefined;
  /** Readings beyond maxReadingsPerMessage, not stored (counted). Absent when none. */
  readingsCapped?: number;
  /** Numbers that are not finite (1e400 parses as Infinity), not stored (counted). Absent when none. */
  nonFinite?: number;
}

export interface Rejected {
  ok: false;
  reason: DeadLetterReason;
  /** Short and human, at most 200 characters. */
  detail: string;
}

export type DecodeResult = Decoded | Rejected;
