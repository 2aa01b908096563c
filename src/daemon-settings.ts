/** Config → the small settings object each stage declares. Stages never see Config itself. */
import type { EmbeddedBrokerSettings } from './broker/embedded-broker.js';
import { type Config, parseHostPort } from './config/index.js';
import type { IntakeSettings } from './daemon-intake.js';
import { SPARKPLUG_CERTIFICATES_FILTER } from './decode/formats/sparkplug/topic.js';
import { PRESET_NAMES, presetRules } from './decode/presets/index.js';
import type { DecodeSettings, FormatRule } from './decode/types.js';
import type { TestHooks } from './daemon-test-hooks.js';
import { flushAtFor } from './sink/batch-policy.js';
import type { SinkSettings } from './sink/sqlite-sink.js';
import type { SourceSettings } from './source/mqtt-source.js';

/**
 * The format rules in the order they are tried: the user's (subscribe.formats), then the enabled
 * presets'. A topic no rule claims gets the default: format auto, subscribe.template.
 */
export function effectiveRules(c: Config): FormatRule[] {
  const p = c.subscribe.presets;
  const names = p === 'all' ? PRESET_NAMES : p === 'none' ? [] : p;
  return [
    ...c.subscribe.formats.map((f) => ({ ...f, source: 'config' })),
    ...presetRules(names).map((r) => ({ ...r })),
  ];
}

/** What `check-config` shows: every rule in the order tried, ending with the default. */
export function effectiveFormats(c: Config): FormatRule[] {
  return [
    ...effectiveRules(c),
    {
      filter: '#',
      format: 'auto',
      tsField: 'ts',
      tsUnit: 'auto',
      template: c.subscribe.template,
      source: 'default',
    },
  ];
}

export function decodeSettings(c: Config): DecodeSettings {
  return {
    template: c.subscribe.template,
    formats: effectiveRules(c),
    stateWords: { on: [...c.subscribe.stateWords.on], off: [...c.subscribe.stateWords.off] },
    timeZone: c.timestamps.zone,
    maxPayloadBytes: c.limits.maxPayloadBytes,
    maxJsonDepth: c.limits.maxJsonDepth,
    maxReadingsPerMessage: c.limits.maxReadingsPerMessage,
    maxFutureMs: c.timestamps.maxFutureMs,
    maxPastMs: c.timestamps.maxPastMs,
    outOfRange: c.timestamps.outOfRange,
    sparkplug: {
      rebirth: c.subscribe.sparkplug.rebirth,
      rebirthIntervalMs: c.subscribe.sparkplug.rebirthIntervalMs,
    },
  };
}

export function sinkSettings(
  c: Config,
  decode: DecodeSettings,
  hooks: TestHooks,
): SinkSettings<DecodeSettings> {
  return {
    path: c.db.path,
    synchronous: c.db.synchronous,
    busyTimeoutMs: c.db.busyTimeoutMs,
    deadLetterPayloadBytes: c.limits.deadLetterPayloadBytes,
    // Retained deliveries are copies only when a broker re-sends them to our subscription.
    redelivery: {
      windowMs: c.redelivery.windowMs,
      lookback: c.redelivery.lookback,
      retainedCopies: c.broker.url !== undefined,
    },
    ...(hooks.maxPageCount === undefined ? {} : { maxPageCount: hooks.maxPageCount }),
    decode,
  };
}

/** broker.url set: subscriber; absent: embedded broker. The YAML keys stay flat. */
export function intakeSettings(c: Config, hooks: TestHooks): IntakeSettings {
  const url = c.broker.url;
  return url === undefined
    ? { mode: 'embedded', broker: embeddedSettings(c) }
    : { mode: 'subscriber', source: sourceSettings(c, url, hooks) };
}

function embeddedSettings(c: Config): EmbeddedBrokerSettings {
  const { host, port } = listener(c.embedded.listen);
  return {
    host,
    port,
    allowAnonymous: c.embedded.allowAnonymous,
    users: c.embedded.users.map((u) => ({ ...u, publish: [...u.publish], subscribe: [...u.subscribe] })),
    anonymous: c.embedded.anonymous,
    maxPayloadBytes: c.limits.maxPayloadBytes,
    maxConnections: c.embedded.maxConnections,
  };
}

/** The schema accepted this address (hostPort); parsing it again cannot fail. */
export function listener(text: string): { host: string; port: number } {
  const hp = parseHostPort(text);
  if (hp === undefined) throw new Error(`bug: the schema let through the address "${text}"`);
  return hp;
}

function sourceSettings(c: Config, url: string, hooks: TestHooks): SourceSettings {
  const b = c.broker;
  return {
    url,
    protocolVersion: b.protocolVersion,
    // The loader derives one when none is set (config/load.ts).
    clientId: b.clientId ?? '',
    ...(b.username !== undefined ? { username: b.username } : {}),
    ...(b.password !== undefined ? { password: b.password } : {}),
    tls: {
      rejectUnauthorized: b.tls.rejectUnauthorized,
      ...(b.tls.ca !== undefined ? { ca: b.tls.ca } : {}),
      ...(b.tls.cert !== undefined ? { cert: b.tls.cert } : {}),
      ...(b.tls.key !== undefined ? { key: b.tls.key } : {}),
    },
    keepaliveSeconds: b.keepaliveSeconds,
    connectTimeoutMs: b.connectTimeoutMs,
    cleanSession: b.cleanSession,
    sessionExpiryHours: b.sessionExpiryHours,
    receiveMaximum: b.receiveMaximum,
    maxPayloadBytes: c.limits.maxPayloadBytes,
    topics: [...c.subscribe.topics],
    ...(c.subscribe.shareGroup !== undefined ? { shareGroup: c.subscribe.shareGroup } : {}),
    qos: c.subscribe.qos,
    readFirst: readFirst(c),
    watchDrops: b.watchDrops,
    reconnect: { ...b.reconnect },
    ackOnReceipt: hooks.ackOnReceipt,
  };
}

/** Filters whose retained messages are read before the topics: Sparkplug BIRTH certificates. */
function readFirst(c: Config): string[] {
  const sparkplug = effectiveRules(c).some((r) => r.format === 'sparkplug');
  return sparkplug && c.subscribe.sparkplug.certificates ? [SPARKPLUG_CERTIFICATES_FILTER] : [];
}

/** How many commits in a row may fail before the source reconnects to get redeliveries. */
const STUCK_AFTER_ATTEMPTS = 10;

export function writerSettings(c: Config, mode: IntakeSettings['mode']) {
  const embedded = mode === 'embedded';
  // [MQTT 5.0 §3.3.4] In subscriber mode the broker stops at receiveMaximum unacked messages:
  // once that many are pending nothing more can arrive, so waiting for the timer only adds
  // latency. MQTT 3.1.1 has no window we can set; the broker's inflight limit applies.
  const window =
    !embedded && c.broker.protocolVersion === 5 && c.subscribe.qos > 0 ? c.broker.receiveMaximum : undefined;
  return {
    maxBatch: c.batch.maxBatch,
    maxDelayMs: c.batch.maxDelayMs,
    flushAt: flushAtFor(c.batch.maxBatch, window),
    retryBaseMs: c.batch.retryBaseMs,
    retryCapMs: c.batch.retryCapMs,
    stuckAfterAttempts: STUCK_AFTER_ATTEMPTS,
  };
}
