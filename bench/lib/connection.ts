/**
 * The subscriber connection every target uses, so the comparison is like for like. These match mqlite's
 * defaults (src/config/schema.ts): MQTT 5, persistent session with expiry, receiveMaximum 10000, keepalive 30.
 */
import type { IClientOptions } from 'mqtt';

export const SUBSCRIBER = {
  keepaliveSeconds: 30,
  sessionExpirySeconds: 72 * 3600,
  receiveMaximum: 10_000,
} as const;

/** protocolVersion 4 only for the aedes fallback broker, which does not speak MQTT 5. */
export function subscriberOptions(clientId: string, protocolVersion: 4 | 5): IClientOptions {
  const base: IClientOptions = {
    clientId,
    clean: false,
    keepalive: SUBSCRIBER.keepaliveSeconds,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    protocolVersion,
  };
  if (protocolVersion === 4) return base;
  return {
    ...base,
    properties: {
      sessionExpiryInterval: SUBSCRIBER.sessionExpirySeconds,
      receiveMaximum: SUBSCRIBER.receiveMaximum,
    },
  };
}
