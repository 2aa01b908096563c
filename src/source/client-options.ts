/**
 * Pure translation of SourceSettings into MQTT.js options. Kept apart from the I/O shell so
 * the protocol choices below are unit-tested and documented in one place.
 */
import type { IClientOptions, IClientSubscribeOptions } from 'mqtt';
import type { SourceSettings } from './source-types.js';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * What a PUBLISH carries besides its payload: fixed header (1 + up to 4 length bytes), topic
 * (2 + up to 65 535 bytes), packet id (2), and MQTT 5 properties (up to 4 length bytes + a
 * generous 8 KiB for user properties, content type, response topic...).
 */
export const PUBLISH_OVERHEAD_BYTES = 5 + 2 + 65_535 + 2 + 4 + 8_192;

/** MQTT 5 limit on any packet: 268 435 455 bytes (the largest 4-byte variable length). */
export const MQTT_MAX_PACKET_BYTES = 268_435_455;

/**
 * MQTT 5 Maximum Packet Size we advertise. [MQTT-3.1.2-24] the broker must not send us a
 * larger packet and drops such a message for us instead, so oversize payloads never reach
 * this process. The allowance is loose (a long topic must still fit), so a payload slightly
 * above maxPayloadBytes can still arrive; the decoder enforces the exact limit.
 */
export function maximumPacketSize(maxPayloadBytes: number): number {
  return Math.min(MQTT_MAX_PACKET_BYTES, maxPayloadBytes + PUBLISH_OVERHEAD_BYTES);
}

/**
 * QoS we subscribe with. QoS 2 is asked for as 1: with QoS 2 MQTT.js sends PUBREC on receipt
 * and releases the message only at PUBREL, after which the broker has dropped its copy.
 * Holding PUBREC instead would mean driving the PUBREL path, whose MQTT.js 5.16 state
 * (incomingStore, inbound QoS 2 tracking) leaks when the callback fails: on the PUBREL path,
 * cb(err) skips incomingStore.del (MQTT.js 5.16 lib/handlers/pubrel).
 * QoS 1 plus ack-after-commit gives at-least-once; redeliveries are deduplicated downstream.
 */
export function subscriptionQos(requested: 0 | 1 | 2): 0 | 1 {
  return requested === 2 ? 1 : requested;
}

/**
 * The filters sent in SUBSCRIBE. With a share group each is `$share/<group>/<filter>` (MQTT 5
 * §4.8.2; Mosquitto accepts it over 3.1.1 too). The broker still sends each message under its
 * real topic, so decoding (templates, format rules, presets) never sees the `$share/` prefix.
 */
export function subscriptionFilters(s: Pick<SourceSettings, 'topics' | 'shareGroup'>): string[] {
  const group = s.shareGroup;
  return group === undefined ? [...s.topics] : s.topics.map((t) => `$share/${group}/${t}`);
}

export function subscribeOptions(settings: SourceSettings): IClientSubscribeOptions {
  const qos = subscriptionQos(settings.qos);
  // MQTT 5 Retain Handling 1: retained messages only when the subscription is new, so our
  // resubscribe on a resumed session does not ingest every retained message again. A shared
  // subscription asks for none (2), as MQTT 5 §4.8.2 has it: Mosquitto 2.0.11 would otherwise
  // send them to each member (test/integration/share-mosquitto.test.ts), and the source drops any
  // that still come. No Local stays 0, as [MQTT-3.8.3-4] requires on a shared subscription.
  if (settings.protocolVersion !== 5) return { qos };
  return { qos, rh: settings.shareGroup === undefined ? 1 : 2 };
}

export function buildClientOptions(
  s: SourceSettings,
  tls: TlsMaterial,
  firstReconnectMs: number,
): IClientOptions {
  const opts: IClientOptions = {
    protocolVersion: s.protocolVersion,
    clientId: s.clientId,
    clean: s.cleanSession,
    keepalive: s.keepaliveSeconds,
    connectTimeout: s.connectTimeoutMs,
    // Rewritten before every arming by the source (see reconnect.ts); never 0.
    reconnectPeriod: firstReconnectMs,
    // The source subscribes itself on every CONNACK without a session, so it knows which
    // SUBACK belongs to which connection; MQTT.js's own resubscribe skips the first connect
    // and reports nothing (client.js `_resubscribe`).
    resubscribe: false,
    // A refused CONNACK (server busy, bad credentials being fixed) is retried with backoff
    // instead of leaving the daemon disconnected for good.
    reconnectOnConnackError: true,
    // We never publish; nothing should pile up offline.
    queueQoSZero: false,
    // mqtt-packet's number cache: 65,536 pre-built 2-byte Buffers, made at the first packet written,
    // ~6.6 MB of the idle heap (and, promoted at startup, what grows the young generation to its
    // maximum). We write CONNECT, SUBSCRIBE, PINGREQ and the PUBACKs only: one 2-byte Buffer per
    // PUBACK instead (issue #11, BENCHMARKS.md "Idle RSS").
    writeCache: false,
    rejectUnauthorized: s.tls.rejectUnauthorized,
  };
  // MQTT.js logs each packet through `debug` several times (handlePublish, _writePacket, …); even
  // disabled, each call copies its arguments and reads a getter: ~1 µs of the main thread per
  // message in a profile of the bench. A no-op unless someone asked for it with DEBUG=mqttjs*.
  if (!mqttjsDebugRequested(process.env.DEBUG)) opts.log = noLog;
  if (s.username !== undefined) opts.username = s.username;
  if (s.password !== undefined) opts.password = s.password;
  if (tls.ca !== undefined) opts.ca = tls.ca;
  if (tls.cert !== undefined) opts.cert = tls.cert;
  if (tls.key !== undefined) opts.key = tls.key;
  if (s.protocolVersion === 5) {
    opts.properties = {
      receiveMaximum: s.receiveMaximum,
      maximumPacketSize: maximumPacketSize(s.maxPayloadBytes),
    };
    // MQTT 5 ends a session at disconnect unless an expiry is set (mosquitto handle_connect.c),
    // so a persistent session needs it; with a clean start it would only linger uselessly.
    if (!s.cleanSession) opts.properties.sessionExpiryInterval = s.sessionExpiryHours * 3600;
  }
  return opts;
}

function noLog(): void {}

/** Whether DEBUG (the `debug` package's variable) names MQTT.js's namespaces: `*`, `mqttjs*`, … */
export function mqttjsDebugRequested(debug: string | undefined): boolean {
  if (debug === undefined) return false;
  return debug
    .split(/[\s,]+/)
    .some((ns) => ns !== '' && !ns.startsWith('-') && 'mqttjs:client'.startsWith(ns.replace(/\*.*$/, '')));
}
