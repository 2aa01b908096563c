/**
 * MqttSource settings and hooks for the source's integration tests. The settings every such test
 * shares (MQTT 3.1.1, QoS 1, a persistent session, TLS verification on, 64 KiB payloads, 100 in
 * flight) are here; each test names its client id, topics and reconnect policy, and whatever else
 * it varies, in `over`. Hooks do nothing unless a test passes the ones it records.
 */
import type { SourceHooks, SourceSettings } from '../../src/source/source-types.js';

export function sourceSettings(
  url: string,
  over: Pick<SourceSettings, 'clientId' | 'topics' | 'reconnect'> & Partial<SourceSettings>,
): SourceSettings {
  return {
    url,
    protocolVersion: 4,
    tls: { rejectUnauthorized: true },
    keepaliveSeconds: 30,
    connectTimeoutMs: 5000,
    cleanSession: false,
    sessionExpiryHours: 1,
    receiveMaximum: 100,
    maxPayloadBytes: 65536,
    qos: 1,
    ...over,
  };
}

export function sourceHooks(over: Partial<SourceHooks> = {}): SourceHooks {
  return {
    onConnect: () => {},
    onDisconnect: () => {},
    onReconnectScheduled: () => {},
    onSubscribed: () => {},
    onError: () => {},
    onAcksDropped: () => {},
    onDropped: () => {},
    ...over,
  };
}
