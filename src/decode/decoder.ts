/**
 * (topic, payload, receivedAt) → rows or a dead-letter reason. Runs in the SQLite worker
 * thread once per message: everything that can be prepared (template, rule matchers, the UTF-8
 * decoder, regexes) is prepared once in createDecoder, and the returned function never throws.
 */
import { FlatJsonScanner, type FlatShape } from './flat-json.js';
import { type FlattenRun, flattenInto, holderOf, locate } from './flatten.js';
import { type CompiledRule, createRuleSelector } from './format-rules.js';
import type { TemplateMatch } from './topic-template.js';
import { createCborDecoder } from './formats/cbor.js';
import { createMsgpackDecoder } from './formats/msgpack.js';
import type { DecoderReport } from './formats/sparkplug/outbox.js';
import { SPARKPLUG_CERTIFICATES } from './formats/sparkplug/topic.js';
import { classifyText, compileStateWords, DEFAULT_STATE_WORDS } from './formats/text.js';
import { jsonDepthExceeds } from './json-depth.js';
import {
  checkSettings,
  latin1,
  looksLikeJson,
  parseJson,
  reject,
  scalarMetric,
  showMs,
} from './decoder-helpers.js';
import { createReadingFormats, type TimePolicy } from './reading-formats.js';
import { describeBadTimestamp, timestampMs } from './timestamp.js';
import type { Decoded, DecodeResult, DecodeSettings, Reading, Rejected } from './types.js';

/**
 * What the topic alone decides (its rule, template captures, device, metric name), kept per topic:
 * a fleet publishes on the same topics over and over, and matching the template again allocated a
 * match, a null-prototype captures object and its strings per message (~300 B in the writer's
 * young generation). Bounded like the rule cache (format-rules.ts): 10k topics of ≤ 512 chars,
 * emptied at once when full; longer topics are matched every time.
 */
const TOPIC_CACHE_MAX_ENTRIES = 10_000;
const TOPIC_CACHE_MAX_TOPIC_CHARS = 512;

interface TopicFacts {
  readonly rule: CompiledRule;
  readonly match: TemplateMatch;
  readonly device: string | null;
  readonly named: string | undefined;
  /** The keys of this topic's last flat JSON payload (flat-json.ts), for the next one. */
  flat: FlatShape | undefined;
}

interface DecodeFn {
  (topic: string, payload: Uint8Array, receivedAt: number): DecodeResult;
  /** Stored messages the decoder rebuilds its state from at start (see sink/types.ts DecoderRestore). */
  restore?: { glob: string; feed: (topic: string, payload: Uint8Array) => void };
  /** After each committed batch: counts and messages to publish (Sparkplug), see sink/types.ts. */
  report?: () => DecoderReport | undefined;
}

/** Not configuration: how the decoder is built, for tests and measurements. */
export interface DecoderOptions {
  /**
   * Decode flat JSON objects with flat-json.ts (default true). false: every JSON payload goes
   * through JSON.parse and flatten, the general path the fast path is tested against.
   */
  readonly flatJson?: boolean;
}

/** Build the per-message decode function for these settings. Throws here, at startup, on bad settings. */
export function createDecoder(settings: DecodeSettings, options: DecoderOptions = {}): DecodeFn {
  checkSettings(settings);
  const selectRule = createRuleSelector(settings.formats, settings.template);
  const topicCache = new Map<string, TopicFacts>();
  const topicFacts = (topic: string): TopicFacts => {
    const hit = topicCache.get(topic);
    if (hit !== undefined) return hit;
    const rule = selectRule(topic);
    // Frozen: one match now serves every message on this topic.
    const match = Object.freeze(rule.matchTemplate(topic));
    Object.freeze(match.fields);
    const facts: TopicFacts = {
      rule,
      match,
      device: rule.deviceOf(match),
      named: rule.metricOf(match),
      flat: undefined,
    };
    if (topic.length <= TOPIC_CACHE_MAX_TOPIC_CHARS) {
      if (topicCache.size >= TOPIC_CACHE_MAX_ENTRIES) topicCache.clear();
      topicCache.set(topic, facts);
    }
    return facts;
  };
  const stateOf = compileStateWords(settings.stateWords ?? DEFAULT_STATE_WORDS);
  const defaultZone = settings.timeZone ?? 'local';
  // fatal: invalid UTF-8 is reported, not replaced with U+FFFD. ignoreBOM: keep a BOM in the
  // stored text, so TEXT holds exactly what was sent; it is skipped for JSON.parse below.
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const { maxPayloadBytes, maxJsonDepth, maxReadingsPerMessage, maxFutureMs, maxPastMs, outOfRange } =
    settings;

  const decodeText = (payload: Uint8Array): string | null => {
    try {
      return utf8.decode(payload);
    } catch {
      return null;
    }
  };

  /** A payload time in ms under the range policy (`what` names it in a dead letter's detail). */
  const inRange: TimePolicy = (ms, receivedAt, what) => {
    if (ms >= receivedAt - maxPastMs && ms <= receivedAt + maxFutureMs) return { ts: ms, fromPayload: true };
    // 'clamp' is the default because a Raspberry Pi has no RTC: until NTP syncs it stamps
    // readings in 1970, and those readings are still worth keeping at their receive time.
    if (outOfRange === 'dead-letter') {
      return reject(
        'timestamp_out_of_range',
        `${what} ${showMs(ms)} is outside [received − ${maxPastMs} ms, received + ${maxFutureMs} ms] (received ${showMs(receivedAt)})`,
      );
    }
    return outOfRange === 'keep' ? { ts: ms, fromPayload: true } : { ts: receivedAt, fromPayload: false };
  };

  /** Payload timestamp → [ts, fromPayload], or a rejection. */
  const timestampOf = (
    rule: CompiledRule,
    value: unknown,
    receivedAt: number,
  ): { ts: number; fromPayload: boolean } | Rejected => {
    const ms = timestampMs(value, rule.tsUnit, rule.tsZone ?? defaultZone);
    if (Number.isNaN(ms)) {
      return reject('invalid_timestamp', describeBadTimestamp(rule.tsField, value, rule.tsUnit));
    }
    return inRange(ms, receivedAt, rule.tsField);
  };

  // decode/formats/: built once; Sparkplug's host state lives as long as this decoder.
  const cbor = createCborDecoder({ maxDepth: maxJsonDepth });
  const msgpack = createMsgpackDecoder({ maxDepth: maxJsonDepth });
  const readingFormats = createReadingFormats({
    maxReadings: maxReadingsPerMessage,
    policy: inRange,
    reject,
    decodeText,
    sparkplug: settings.sparkplug,
  });
  const usesSparkplug = settings.formats.some((r) => r.format === 'sparkplug');

  /** A message without a payload timestamp: ts is the receive time, no identity (see sink/redelivery.ts). */
  const plain = (
    device: string | null,
    text: string | null,
    receivedAt: number,
    readings: Reading[],
  ): Decoded => ({
    ok: true,
    device,
    text,
    ts: receivedAt,
    tsFromPayload: false,
    identity: null,
    readings,
  });

  /** One reading from a bare value (text payload or JSON scalar), or none. */
  const scalar = (name: () => string, value: number | undefined): Reading[] =>
    value === undefined ? [] : [{ metric: name(), value }];

  // One flatten run and one scratch list for every message (decodeJsonObject is not re-entrant:
  // nothing it calls decodes): a message then allocates its readings array at its exact size, not a
  // run object and an array grown by push (~250 B of the writer thread's garbage per message).
  const scratch: Reading[] = [];
  const run: FlattenRun = {
    out: scratch,
    n: 0,
    max: maxReadingsPerMessage,
    stateOf,
    capped: 0,
    nonFinite: 0,
    skipHolderA: undefined,
    skipKeyA: '',
    skipHolderB: undefined,
    skipKeyB: '',
  };

  const decodeJsonObject = (
    rule: CompiledRule,
    device: string | null,
    prefix: string | undefined,
    text: string | null,
    root: object,
    receivedAt: number,
    withReadings: boolean,
    payloadOf: Uint8Array,
  ): DecodeResult => {
    let ts = receivedAt;
    let tsFromPayload = false;
    const tsPath = rule.tsPath;
    const tsHolder = holderOf(root, tsPath);
    const tsKey = tsPath[tsPath.length - 1] ?? '';
    if (tsHolder !== undefined) {
      const value = (tsHolder as Record<string, unknown>)[tsKey];
      const ms = timestampMs(value, rule.tsUnit, rule.tsZone ?? defaultZone);
      if (ms >= receivedAt - maxPastMs && ms <= receivedAt + maxFutureMs) {
        // In range (inRange's first case), without its result object.
        ts = ms;
        tsFromPayload = true;
      } else {
        const t = timestampOf(rule, value, receivedAt);
        if ('ok' in t) return t;
        ts = t.ts;
        tsFromPayload = t.fromPayload;
      }
    }
    const idPath = rule.idPath;
    const idHolder = idPath === undefined ? undefined : holderOf(root, idPath);
    const idKey = idPath === undefined ? '' : (idPath[idPath.length - 1] ?? '');
    run.n = 0;
    run.capped = 0;
    run.nonFinite = 0;
    run.skipHolderA = tsHolder;
    run.skipKeyA = tsHolder === undefined ? '' : tsKey;
    run.skipHolderB = idHolder;
    run.skipKeyB = idHolder === undefined ? '' : idKey;
    if (withReadings) {
      const from = rule.readingsPath === undefined ? root : locate(root, rule.readingsPath)?.value;
      if (typeof from === 'object' && from !== null) flattenInto(run, from, prefix);
    }
    const readings = scratch.slice(0, run.n);
    // Not kept past this message: the next one's parse is garbage either way, but not held by us.
    run.skipHolderA = undefined;
    run.skipHolderB = undefined;
    const id = idHolder === undefined ? undefined : (idHolder as Record<string, unknown>)[idKey];
    // An empty id would make every such message a "redelivery" of the first: treat it as absent.
    const hasId = (typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id));
    // The identity is the topic and the exact payload: two messages that differ in any byte are
    // never one, and a redelivery (same bytes) carries the same ts, so (ts, identity) finds it.
    // A binary document (CBOR, MessagePack) is stored as a BLOB: its bytes, as latin1, stand in for the text.
    // The store hashes it behind `p:<topic>\0` (Decoded.identity): the text itself, no copy.
    const identity = tsFromPayload || hasId ? (text ?? latin1(payloadOf)) : null;
    const out: Decoded = { ok: true, device, text, ts, tsFromPayload, identity, readings };
    if (run.capped > 0) out.readingsCapped = run.capped;
    if (run.nonFinite > 0) out.nonFinite = run.nonFinite;
    return out;
  };

  const flat = options.flatJson === false ? undefined : new FlatJsonScanner(maxReadingsPerMessage, stateOf);

  /**
   * A flat JSON object through flat-json.ts, or undefined for the general path. Only for rules that
   * take the readings from the whole object under their own names (no readingsField, no metric
   * prefix): the shapes the scanner's equivalence test covers, and those of nearly all flat payloads.
   * Timestamps outside the range policy go the general way too, which words the dead letter or clamps.
   */
  const decodeFlat = (scanner: FlatJsonScanner, facts: TopicFacts, text: string, receivedAt: number) => {
    const rule = facts.rule;
    const shape = scanner.read(
      text,
      facts.flat,
      rule.tsPath.length === 1 ? rule.tsPath[0] : undefined,
      rule.idPath?.length === 1 ? rule.idPath[0] : undefined,
    );
    if (shape === undefined) return undefined;
    facts.flat = shape;
    let ts = receivedAt;
    let tsFromPayload = false;
    if (shape.ts >= 0) {
      const ms = timestampMs(scanner.valueAt(text, shape.ts), rule.tsUnit, rule.tsZone ?? defaultZone);
      if (!(ms >= receivedAt - maxPastMs && ms <= receivedAt + maxFutureMs)) return undefined;
      ts = ms;
      tsFromPayload = true;
    }
    const hasId = shape.id >= 0 && scanner.isId(shape.id);
    const out: Decoded = {
      ok: true,
      device: facts.device,
      text,
      ts,
      tsFromPayload,
      // As decodeJsonObject: the payload's text when it dates or names the message.
      identity: tsFromPayload || hasId ? text : null,
      readings: scanner.readings,
      readingsJson: scanner.json,
    };
    return out;
  };

  const decodeOne: DecodeFn = (topic, payload, receivedAt) => {
    const size = payload.byteLength;
    if (size > maxPayloadBytes) {
      return reject(
        'payload_too_large',
        `payload is ${size} bytes, more than the limit of ${maxPayloadBytes}`,
      );
    }
    // `$` topics match no wildcard rule ([MQTT-4.7.2-1]); the certificates belong to Sparkplug.
    if (usesSparkplug && topic.startsWith(SPARKPLUG_CERTIFICATES))
      return readingFormats.sparkplug(topic, payload, receivedAt);
    const facts = topicFacts(topic);
    const { rule, match, device, named } = facts;
    const metricName = (): string => named ?? scalarMetric(topic, match.deviceEnd);
    const format = rule.format;

    if (format === 'raw') return plain(device, decodeText(payload), receivedAt, []);
    if (format === 'line-protocol') return readingFormats.lineProtocol(rule, payload, receivedAt, device);
    if (format === 'sparkplug') return readingFormats.sparkplug(topic, payload, receivedAt);
    if (format === 'cbor' || format === 'msgpack') {
      const doc = (format === 'cbor' ? cbor : msgpack)(payload);
      if (!doc.ok) return reject(doc.reason, doc.detail);
      const root = doc.value;
      if (typeof root === 'object' && root !== null) {
        return decodeJsonObject(rule, device, named, null, root, receivedAt, true, payload);
      }
      // A bare value, as a bare JSON value: a number, a boolean or a state word is one reading.
      let value: number | undefined;
      if (typeof root === 'number') value = Number.isFinite(root) ? root : undefined;
      else if (typeof root === 'boolean') value = root ? 1 : 0;
      else if (typeof root === 'string') value = stateOf(root);
      return plain(device, null, receivedAt, scalar(metricName, value));
    }
    const text = decodeText(payload);
    if (format === 'document') {
      // Kept whole, without readings; a JSON document's timestamp still dates it.
      if (text === null || jsonDepthExceeds(payload, maxJsonDepth))
        return plain(device, text, receivedAt, []);
      const root = parseJson(text);
      if (typeof root !== 'object' || root === null) return plain(device, text, receivedAt, []);
      return decodeJsonObject(rule, device, named, text, root, receivedAt, false, payload);
    }
    if (format === 'json' && size === 0)
      return reject('empty_payload', 'the payload is empty and the format is json');
    if (text === null) {
      // auto stores what it cannot read as a BLOB: binary is a payload too, not an error.
      if (format === 'auto') return plain(device, null, receivedAt, []);
      return reject('invalid_utf8', `the ${size}-byte payload is not valid UTF-8 (format ${format})`);
    }
    if (format === 'text' || (format === 'auto' && !looksLikeJson(text))) {
      const v = classifyText(text, stateOf);
      const d = plain(
        device,
        text,
        receivedAt,
        v.kind === 'number' || v.kind === 'state' ? scalar(metricName, v.value) : [],
      );
      if (v.kind === 'nonFinite') d.nonFinite = 1;
      return d;
    }
    // format is json or auto here, and the text starts like JSON.
    if (flat !== undefined && rule.readingsPath === undefined && named === undefined) {
      const d = decodeFlat(flat, facts, text, receivedAt);
      if (d !== undefined) return d;
    }
    // Counted on the bytes before parsing, so deep nesting never reaches JSON.parse.
    if (jsonDepthExceeds(payload, maxJsonDepth)) {
      return reject('json_too_deep', `JSON is nested more than ${maxJsonDepth} levels deep`);
    }
    let root: unknown;
    try {
      root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      return reject('invalid_json', err instanceof Error ? err.message : String(err));
    }
    if (typeof root !== 'object' || root === null) {
      // A bare value: `23.5` on home/kitchen/temperature is one reading named 'temperature'.
      let value: number | undefined;
      if (typeof root === 'number') value = Number.isFinite(root) ? root : undefined;
      else if (typeof root === 'boolean') value = root ? 1 : 0;
      else if (typeof root === 'string') value = stateOf(root);
      const d = plain(device, text, receivedAt, scalar(metricName, value));
      if (typeof root === 'number' && !Number.isFinite(root)) d.nonFinite = 1;
      return d;
    }
    return decodeJsonObject(rule, device, named, text, root, receivedAt, true, payload);
  };

  // Throwing is a bug (the property test looks for one); the store's one safety net turns it
  // into a `decoder_error` dead letter, so it is not mistaken for bad input (sink/store.ts).
  // Sparkplug alias tables come back from the stored BIRTHs at start (sink/restore-decoder.ts).
  return usesSparkplug
    ? Object.assign(decodeOne, { restore: readingFormats.restore, report: readingFormats.report })
    : decodeOne;
}
