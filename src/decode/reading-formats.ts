/**
 * The formats that produce readings themselves (line protocol, Sparkplug B) → the decoder's result:
 * device, message time under the timestamp range policy, readings at their own times, identity.
 * CBOR and MessagePack are not here: they produce a JSON-shaped tree that the decoder treats as
 * parsed JSON (tsField, idField, flattening).
 */
import type { FormatReading } from './formats/format-types.js';
import { createLineProtocolParser } from './formats/line-protocol.js';
import { SparkplugHost } from './formats/sparkplug/host.js';
import { SparkplugOutbox } from './formats/sparkplug/outbox.js';
import {
  parseSparkplugTopic,
  SPARKPLUG_CERTIFICATES,
  SPARKPLUG_NAMESPACE,
} from './formats/sparkplug/topic.js';
import type { CompiledRule } from './format-rules.js';
import type {
  DeadLetterReason,
  Decoded,
  DecodeResult,
  Reading,
  Rejected,
  SparkplugSettings,
} from './types.js';

/** The decoder's range policy for a payload time: the time to store, or a rejection. */
export type TimePolicy = (
  ms: number,
  receivedAt: number,
  what: string,
) => { ts: number; fromPayload: boolean } | Rejected;

export interface ReadingFormatDeps {
  maxReadings: number;
  policy: TimePolicy;
  reject: (reason: DeadLetterReason, detail: string) => Rejected;
  decodeText: (payload: Uint8Array) => string | null;
  sparkplug?: SparkplugSettings | undefined;
}

/** Sparkplug B 3.0 suggests no interval; one request per node per 30 s lets a slow node finish its BIRTHs. */
const DEFAULT_REBIRTH_INTERVAL_MS = 30_000;

/** Edge nodes whose alias tables are kept; a plant rarely has more than a few hundred. */
const SPARKPLUG_MAX_NODES = 10_000;

type LpParser = ReturnType<typeof createLineProtocolParser>;

export function createReadingFormats(deps: ReadingFormatDeps) {
  const { maxReadings, policy, reject, decodeText } = deps;
  // One parser per rule, found by the rule object itself: no key string built per message.
  const parsers = new WeakMap<CompiledRule, LpParser>();
  const parserFor = (rule: CompiledRule): LpParser => {
    let p = parsers.get(rule);
    if (p === undefined) {
      p = createLineProtocolParser({ precision: rule.precision, deviceTag: rule.deviceTag, maxReadings });
      parsers.set(rule, p);
    }
    return p;
  };
  const sparkplug = new SparkplugHost({
    maxReadings,
    rebirth: deps.sparkplug?.rebirth ?? false,
    rebirthIntervalMs: deps.sparkplug?.rebirthIntervalMs ?? DEFAULT_REBIRTH_INTERVAL_MS,
    maxNodes: SPARKPLUG_MAX_NODES,
  });
  const outbox = new SparkplugOutbox(sparkplug.counts);

  /** Readings + payload times → a stored message. */
  const finish = (
    device: string | null,
    text: string | null,
    identityBody: () => string,
    ownTs: number | undefined,
    found: FormatReading[],
    capped: boolean,
    receivedAt: number,
    what: string,
  ): DecodeResult => {
    let ts = receivedAt;
    let tsFromPayload = false;
    if (ownTs !== undefined) {
      const t = policy(ownTs, receivedAt, what);
      if ('ok' in t) return t;
      ts = t.ts;
      tsFromPayload = t.fromPayload;
    }
    const readings = settle(found, ts, receivedAt, policy, what);
    if (!Array.isArray(readings)) return readings;
    const out: Decoded = {
      ok: true,
      device,
      text,
      ts,
      tsFromPayload,
      // As for JSON: topic + exact payload, when the payload dates the message.
      identity: tsFromPayload ? identityBody() : null,
      readings,
    };
    if (capped) out.readingsCapped = 1;
    return out;
  };

  const lineProtocol = (
    rule: CompiledRule,
    payload: Uint8Array,
    receivedAt: number,
    templateDevice: string | null,
  ): DecodeResult => {
    const text = decodeText(payload);
    if (text === null)
      return reject(
        'invalid_utf8',
        `the ${payload.byteLength}-byte payload is not valid UTF-8 (format line-protocol)`,
      );
    const r = parserFor(rule)(text);
    if (!r.ok) return reject(r.reason, r.detail);
    return finish(
      r.device ?? templateDevice,
      text,
      () => text,
      r.ts,
      r.readings,
      r.capped,
      receivedAt,
      'timestamp',
    );
  };

  const sparkplugB = (topic: string, payload: Uint8Array, receivedAt: number): DecodeResult => {
    const certificate = topic.startsWith(SPARKPLUG_CERTIFICATES);
    const t = parseSparkplugTopic(certificate ? topic.slice(SPARKPLUG_CERTIFICATES.length) : topic);
    if (typeof t === 'string') return reject('invalid_sparkplug', `topic ${topic.slice(0, 80)}: ${t}`);
    if (certificate && (t.kind === 'state' || (t.type !== 'NBIRTH' && t.type !== 'DBIRTH')))
      return reject('invalid_sparkplug', `topic ${topic.slice(0, 80)}: a certificate is an NBIRTH or DBIRTH`);
    // A certificate is the broker's retained copy of the last BIRTH: it seeds the alias tables
    // (as a stored BIRTH does at start) and adds no readings, which its BIRTH gave when it passed.
    const r = sparkplug.handle(t, payload, receivedAt, certificate);
    if (!r.ok) return reject(r.reason, r.detail);
    if (certificate) outbox.certificate();
    if (r.rebirth !== undefined) outbox.rebirth(r.rebirth.group, r.rebirth.node, receivedAt);
    // Protobuf is binary: stored as a BLOB (text null); STATE is JSON text.
    const text = t.kind === 'state' ? decodeText(payload) : null;
    const body = () =>
      text ?? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
    return finish(r.device, text, body, r.ts, r.readings, r.capped, receivedAt, 'Sparkplug timestamp');
  };

  /** The last NBIRTH/DBIRTH per topic, replayed at start: alias tables without readings. */
  const restore = {
    glob: `${SPARKPLUG_NAMESPACE}/*/[ND]BIRTH/*`,
    feed: (topic: string, payload: Uint8Array): void => {
      const t = parseSparkplugTopic(topic);
      if (typeof t !== 'string') sparkplug.handle(t, payload, 0, true);
    },
  };

  return { lineProtocol, sparkplug: sparkplugB, report: () => outbox.take(), restore };
}

/**
 * Readings with their own time: one equal to the message's needs none; one outside the range
 * policy is clamped to the message's time (or rejects the message, as the policy says). The same
 * metric twice at one time keeps the last, as JSON keeps the last of a repeated key.
 */
function settle(
  found: FormatReading[],
  ts: number,
  receivedAt: number,
  policy: TimePolicy,
  what: string,
): Reading[] | Rejected {
  // The format already kept one reading per (metric, own time). Readings now stored at the
  // message's time can collide only if they came from different times: some without one, some
  // with the message's, some clamped to it from elsewhere.
  // Most payloads give no reading a time of its own (the formats leave out one equal to the
  // message's): nothing to settle, and no copy.
  let i0 = 0;
  while (i0 < found.length && found[i0]!.ts === undefined) i0++;
  if (i0 === found.length) return found;
  let untimed = false;
  let movedFrom: number | undefined;
  let mixed = false;
  const out: Reading[] = new Array(found.length);
  for (let i = 0; i < found.length; i++) {
    const r = found[i]!;
    if (r.ts === undefined) {
      untimed = true;
      out[i] = r;
      continue;
    }
    const t = r.ts === ts ? undefined : policy(r.ts, receivedAt, what);
    if (t !== undefined && 'ok' in t) return t;
    if (t === undefined || !t.fromPayload || t.ts === ts) {
      if (movedFrom !== undefined && movedFrom !== r.ts) mixed = true;
      movedFrom = r.ts;
      out[i] = { metric: r.metric, value: r.value };
    } else {
      out[i] = t.ts === r.ts ? r : { metric: r.metric, value: r.value, ts: t.ts };
    }
  }
  if (!mixed && !(untimed && movedFrom !== undefined)) return out;
  const last = new Map<string, number>();
  const key = (r: Reading) => `${r.device ?? ''}\u0000${r.metric}\u0000${r.ts ?? ''}`;
  for (let i = 0; i < out.length; i++) last.set(key(out[i]!), i);
  return out.filter((r, i) => last.get(key(r)) === i);
}
