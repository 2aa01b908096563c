/**
 * The slice of configuration and the callbacks the MQTT source needs. daemon.ts builds these
 * from the config (stages never import config/).
 */
export interface SourceSettings {
  url: string;
  protocolVersion: 4 | 5;
  clientId: string;
  username?: string;
  password?: string;
  /** File paths, read once at start. */
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  cleanSession: boolean;
  sessionExpiryHours: number;
  receiveMaximum: number;
  maxPayloadBytes: number;
  topics: string[];
  /** Subscribe to `$share/<shareGroup>/<topic>` for each topic: the group's members split the stream. */
  shareGroup?: string;
  qos: 0 | 1 | 2;
  /**
   * Filters subscribed at QoS 0 on every connection, each answered before the topics are subscribed,
   * for their retained messages (Sparkplug BIRTH certificates seed the alias tables before DATA).
   */
  readFirst?: string[];
  /** Subscribe to the broker's count of dropped messages (broker-drops.ts) and report it. */
  watchDrops?: boolean;
  reconnect: { baseMs: number; factor: number; capMs: number; stableMs: number };
  /**
   * Benchmarks only: PUBACK on receipt, as other ingesters do, so `npm run bench` can show what
   * ack-after-commit costs. A crash then loses what was acknowledged but not yet committed.
   */
  ackOnReceipt?: boolean;
}

export interface SourceHooks {
  onConnect(info: { sessionPresent: boolean }): void;
  onDisconnect(reason: string): void;
  onReconnectScheduled(delayMs: number, attempt: number): void;
  /** SUBACK codes, one per filter sent (0-2 granted QoS, >= 0x80 refused), and those filters. */
  onSubscribed(granted: number[], filters: readonly string[]): void;
  onError(err: Error): void;
  /** Held acks lost with a closed connection: the broker redelivers those messages. */
  onAcksDropped(count: number): void;
  /**
   * A message acknowledged without being stored: 'invalid_topic' (NUL or U+FFFD in its topic),
   * 'retained_shared' (a retained copy sent to a shared subscription, see mqtt-source.ts).
   */
  onDropped(reason: string, detail: Record<string, unknown>): void;
  /**
   * A keepalive timeout came while reading was held by a full queue: a PINGREQ went out instead of a
   * disconnect (stall-keepalive.ts), the `rePings`-th since the broker last answered one.
   */
  onRePing?(rePings: number): void;
  /** MQTT.js lacks the `missing` methods stall-keepalive.ts hooks: keepalive stays stock. */
  onStockKeepalive?(missing: string[]): void;
  /** The broker's count of messages it dropped, all clients, since it started (broker-drops.ts). */
  onBrokerDropped?(total: number): void;
}
