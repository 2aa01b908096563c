/**
 * (topic, payload, receivedAt) → rows or a dead-letter reason. Runs in the SQLite worker
 * thread once per message: everything that can be prepared (template, rule matchers, the UTF-8
 * decoder, regexes) is prepared once in createDecoder, and the returned function never throws.
 */
import { flattenInto, type Located, locate } from './flatten.js';
import { type CompiledRule, createRuleSelector } from './format-rules.js';
import { jsonDepthExceeds } from './json-depth.js';
import { describeBadTimestamp, timestampMs } from './timestamp.js';
import { compileTemplate } from './topic-template.js';
import type { DeadLetterReason, DecodeResult, DecodeSettings, Reading, Rejected } from './types.js';

const MAX_DETAIL_CHARS = 200;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what we strip
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;
/** ±8.64e15 ms is the range of a JS Date (ECMA-262 §21.4.1.1); toISOString throws outside it. */
const MAX_DATE_MS = 8.64e15;

type DecodeFn = (topic: string, payload: Uint8Array, receivedAt: number) => DecodeResult;

function reject(reason: DeadLetterReason, detail: string): Rejected {
  // Parser messages quote the payload, which may hold control characters or be long.
  let d = detail.replace(CONTROL_CHARS, '?');
  if (d.length > MAX_DETAIL_CHARS) d = `${d.slice(0, MAX_DETAIL_CHARS - 1)}…`;
  return { ok: false, reason, detail: d };
}

function checkSettings(s: DecodeSettings): void {
  const whole = (name: string, v: number, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min)
      throw new RangeError(`decode settings: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  whole('maxPayloadBytes', s.maxPayloadBytes, 0);
  whole('maxJsonDepth', s.maxJsonDepth, 1);
  whole('maxReadingsPerMessage', s.maxReadingsPerMessage, 1);
  whole('maxFutureMs', s.maxFutureMs, 0);
  whole('maxPastMs', s.maxPastMs, 0);
}

/** Metric for a bare number payload: the topic levels after the device, joined with '.'. */
function scalarMetric(topic: string, deviceEnd: number): string {
  if (deviceEnd < 0 || deviceEnd >= topic.length) return 'value';
  const levels = topic.slice(deviceEnd + 1).split('/');
  let metric = '';
  for (const level of levels) {
    if (level === '') continue;
    metric = metric === '' ? level : `${metric}.${level}`;
  }
  return metric === '' ? 'value' : metric;
}

function showMs(ms: number): string {
  return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : `${ms} ms`;
}

/** Build the per-message decode function for these settings. Throws here, at startup, on bad settings. */
export function createDecoder(settings: DecodeSettings): DecodeFn {
  checkSettings(settings);
  const matchTemplate = compileTemplate(settings.template);
  const selectRule = createRuleSelector(settings.formats);
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

  const decodeOne: DecodeFn = (topic, payload, receivedAt) => {
    const size = payload.byteLength;
    if (size > maxPayloadBytes) {
      return reject(
        'payload_too_large',
        `payload is ${size} bytes, more than the limit of ${maxPayloadBytes}`,
      );
    }
    const rule: CompiledRule = selectRule(topic);
    const { device, deviceEnd } = matchTemplate(topic);

    if (rule.format === 'raw') {
      const text = decodeText(payload);
      return { ok: true, device, text, ts: receivedAt, tsFromPayload: false, identity: null, readings: [] };
    }
    if (size === 0) return reject('empty_payload', 'the payload is empty and the format is json');
    const text = decodeText(payload);
    if (text === null) return reject('invalid_utf8', `the ${size}-byte payload is not valid UTF-8`);
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

    const readings: Reading[] = [];
    if (typeof root !== 'object' || root === null) {
      // A bare value: `23.5` on home/kitchen/temperature is one reading named 'temperature'.
      if (typeof root === 'number' ? Number.isFinite(root) : typeof root === 'boolean') {
        readings.push({ metric: scalarMetric(topic, deviceEnd), value: root === true ? 1 : Number(root) });
      }
      return { ok: true, device, text, ts: receivedAt, tsFromPayload: false, identity: null, readings };
    }

    let ts = receivedAt;
    let tsFromPayload = false;
    const tsAt: Located | undefined = locate(root, rule.tsPath);
    if (tsAt !== undefined) {
      const ms = timestampMs(tsAt.value, rule.tsUnit);
      if (Number.isNaN(ms)) {
        return reject('invalid_timestamp', describeBadTimestamp(rule.tsField, tsAt.value, rule.tsUnit));
      }
      if (ms < receivedAt - maxPastMs || ms > receivedAt + maxFutureMs) {
        // 'clamp' is the default because a Raspberry Pi has no RTC: until NTP syncs it stamps
        // readings in 1970, and those readings are still worth keeping at their receive time.
        if (outOfRange === 'dead-letter') {
          return reject(
            'timestamp_out_of_range',
            `${rule.tsField} ${showMs(ms)} is outside [received − ${maxPastMs} ms, received + ${maxFutureMs} ms] (received ${showMs(receivedAt)})`,
          );
        }
        if (outOfRange === 'keep') {
          ts = ms;
          tsFromPayload = true;
        }
      } else {
        ts = ms;
        tsFromPayload = true;
      }
    }

    const idAt: Located | undefined = rule.idPath === undefined ? undefined : locate(root, rule.idPath);
    const ok = flattenInto(
      {
        out: readings,
        max: maxReadingsPerMessage,
        skipHolderA: tsAt?.holder,
        skipKeyA: tsAt?.key ?? '',
        skipHolderB: idAt?.holder,
        skipKeyB: idAt?.key ?? '',
      },
      root,
      undefined,
    );
    if (!ok) return reject('too_many_readings', `more than ${maxReadingsPerMessage} readings in one message`);

    let identity: string | null = null;
    const id = idAt?.value;
    // An empty id would make every such message a "redelivery" of the first: treat it as absent.
    if ((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isFinite(id))) {
      identity = `id:${device ?? topic}\u0000${id}`;
    } else if (tsFromPayload) {
      identity = `ts:${topic}\u0000${ts}`;
    }
    return { ok: true, device, text, ts, tsFromPayload, identity, readings };
  };

  // Throwing is a bug (the property test looks for one); the store's one safety net turns it
  // into a `decoder_error` dead letter, so it is not mistaken for bad input (sink/store.ts).
  return decodeOne;
}
