/**
 * MQTT.js subscriber for ack-after-commit: hands each message to the queue, holds QoS 1
 * PUBACKs until commit (deferred-acks.ts), reconnects with backoff and resubscribes when the
 * broker has no session for us.
 */
import type { IConnackPacket, IPublishPacket, MqttClient } from 'mqtt';
import { errorMessage, MqliteError } from '../lib/errors.js';
import type { Accept, InboundMessage, Settlement } from '../lib/message.js';
import { buildClientOptions } from './client-options.js';
import { mqtt } from './mqtt-lib.js';
import { BROKER_DROPPED_TOPIC, parseDroppedCount } from './broker-drops.js';
import { assertMqttInternals, DeferredAcks, NO_ACK, type Stream } from './deferred-acks.js';
import { isMalformedTopic } from './malformed-topic.js';
import { ReconnectBackoff, type ScheduledRetry } from './reconnect.js';
import type { SourceHooks, SourceSettings } from './source-types.js';
import { StallKeepalive } from './stall-keepalive.js';
import { type SubscriptionEvents, subscribeOnConnect } from './subscriptions.js';
import { readTls } from './tls-files.js';

export type { SourceHooks, SourceSettings } from './source-types.js';

/** stop(): how long a clean DISCONNECT may take before the socket is destroyed. */
const STOP_TIMEOUT_MS = 3000;
/** forceReconnect(): how long the broker gets to close a connection we ended. */
const FORCE_CLOSE_MS = 2000;

export interface SourceDeps {
  accept: Accept;
  hooks: SourceHooks;
  /** Sees the MQTT.js client once created; tests watch `packetsend` with it. */
  tap?: (client: MqttClient) => void;
  /** Jitter source for the reconnect backoff (tests make it deterministic). */
  random?: () => number;
}

export class MqttSource {
  private client: MqttClient | undefined;
  private readonly acks: DeferredAcks;
  private readonly keepalive: StallKeepalive;
  private readonly backoff: ReconnectBackoff;
  private retry: ScheduledRetry = { delayMs: 0, attempt: 0 };
  /** The connection whose first committed message reset the backoff (once per connection). */
  private provenStream: Stream | undefined;
  private hadConnack = false;
  private isSubscribed = false;
  private everSubscribed = false;
  private paused = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private lastReason = 'connection closed';
  private unacked:
    | { readonly stream: Stream | undefined; readonly settle: (how: Settlement) => void }
    | undefined;
  /**
   * Settles a QoS 1 message by its held-ack token: one function for all of them, which the queue
   * keeps with the token instead of a closure per message (lib/message.ts, InboundMessage.settler).
   */
  private readonly settleHeld = (token: number, how: Settlement): void => {
    if (this.acks.settle(token, how) && how === 'committed') this.committedOn(this.client?.stream);
  };

  private readonly subscriptionEvents: SubscriptionEvents = {
    onError: (err) => this.deps.hooks.onError(err),
    onSubscribed: (granted, filters) => {
      this.isSubscribed = true;
      this.everSubscribed = true;
      this.deps.hooks.onSubscribed(granted, filters);
    },
  };

  constructor(
    private readonly settings: SourceSettings,
    private readonly deps: SourceDeps,
  ) {
    this.acks = new DeferredAcks((count) => deps.hooks.onAcksDropped(count));
    this.keepalive = new StallKeepalive(deps.hooks);
    this.backoff = new ReconnectBackoff(settings.reconnect, deps.random, () => {
      if (this.client !== undefined) this.setRetry(this.client, this.backoff.next());
    });
  }

  get connected(): boolean {
    return this.client?.connected === true && this.hadConnack;
  }

  get subscribed(): boolean {
    return this.connected && this.isSubscribed;
  }

  get heldAcks(): number {
    return this.acks.size;
  }

  /** Starts connecting and resolves at once: an unreachable broker is retried, not fatal. */
  async start(): Promise<void> {
    if (this.client !== undefined || this.stopping) return;
    assertMqttInternals();
    const tls = await readTls(this.settings.tls);
    if (this.stopping || this.client !== undefined) return;
    this.retry = this.backoff.next();
    const client = mqtt.connect(
      this.settings.url,
      buildClientOptions(this.settings, tls, this.retry.delayMs),
    );
    this.client = client;
    this.install(client);
    this.deps.tap?.(client);
  }

  /** Drops held acks and replaces the connection; the broker redelivers what was not acked. */
  forceReconnect(reason: string): void {
    const client = this.client;
    if (client === undefined || this.stopping) return;
    this.lastReason = reason;
    const stream = client.stream;
    this.acks.dropStream(stream);
    if (stream.destroyed) return;
    // end(), not destroy(): PUBACKs released just before are still corked in the stream
    // (mqtt-packet uncorks on nextTick) and destroy() would discard them, turning committed
    // messages into redeliveries. The stream's 'close' arms MQTT.js's reconnect timer.
    stream.end();
    const timer = setTimeout(() => stream.destroy(), FORCE_CLOSE_MS);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }

  /**
   * Publishes at QoS 0, not retained (a Sparkplug rebirth request): written to the live connection,
   * or refused when there is none. Never queued offline: a request that waited for a reconnect
   * would be stale, and the rebirth a reconnect brings makes it moot.
   */
  publish(topic: string, payload: Uint8Array): Promise<void> {
    const client = this.client;
    if (client === undefined || !this.connected || this.stopping)
      return Promise.reject(new MqliteError('MQLITE_SOURCE_FAILED', 'not connected to the broker'));
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return new Promise((resolve, reject) =>
      client.publish(topic, body, { qos: 0, retain: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Shutdown: take no more messages (they stay unacked at the broker). */
  pause(): void {
    this.paused = true;
  }

  /** After the writer drained (held acks released): disconnect cleanly, bounded in time. */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.paused = true;
    this.backoff.closed();
    const client = this.client;
    if (client === undefined) return;
    this.acks.dropAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // end() leaves a still-connecting socket alone (it only queues DISCONNECT offline).
    if (!client.stream.destroyed) client.stream.destroy();
  }

  private install(client: MqttClient): void {
    this.acks.install(client);
    this.keepalive.install(client);
    client.handleMessage = (packet, callback) => this.onPublish(packet, callback);
    client.on('connect', (connack) => this.onConnect(client, connack));
    client.on('close', () => this.onClose(client));
    // Each retry picks the delay for the one after it. The period has to be in place before
    // MQTT.js arms its timer, which happens in the 'close' handler but also synchronously in
    // `_cleanUp` (keepalive timeout) and after a refused CONNACK, before any 'close' listener
    // (even a prepended one) could change it.
    client.on('reconnect', () => this.setRetry(client, this.backoff.next()));
    client.on('disconnect', (packet) => {
      this.lastReason = `broker sent DISCONNECT (reason code ${packet.reasonCode ?? 0})`;
    });
    client.on('error', (err) => {
      this.lastReason = err.message;
      this.deps.hooks.onError(err);
    });
  }

  private setRetry(client: MqttClient, retry: ScheduledRetry): void {
    this.retry = retry;
    client.options.reconnectPeriod = retry.delayMs;
  }

  private onConnect(client: MqttClient, connack: IConnackPacket): void {
    this.hadConnack = true;
    this.lastReason = 'connection closed';
    this.backoff.connected();
    const sessionPresent = connack.sessionPresent === true;
    this.deps.hooks.onConnect({ sessionPresent });
    if (this.settings.shareGroup !== undefined && connack.properties?.sharedSubscriptionAvailable === false) {
      // MQTT 5 CONNACK property 0x2A: the broker says up front it will refuse $share/ filters.
      this.deps.hooks.onError(
        new MqliteError(
          'MQLITE_SOURCE_FAILED',
          'the broker has no shared subscriptions (CONNACK Shared Subscription Available: 0): subscribe.shareGroup cannot work with it',
        ),
      );
    }
    // Without a session the broker forgot our subscriptions. On our first connection we
    // subscribe even to a resumed session: the configured topics may have changed.
    const topicsToo = !sessionPresent || !this.everSubscribed;
    if (topicsToo) this.isSubscribed = false;
    else this.isSubscribed = true; // the resumed session holds the subscription we made earlier
    subscribeOnConnect(client, this.settings, sessionPresent, topicsToo, this.subscriptionEvents);
  }

  private onClose(client: MqttClient): void {
    this.backoff.closed();
    this.isSubscribed = false;
    if (this.hadConnack) {
      this.hadConnack = false;
      this.deps.hooks.onDisconnect(this.lastReason);
    }
    // MQTT.js's own 'close' listener (registered first) has armed the timer by now.
    if (!this.stopping && !client.disconnecting) {
      this.deps.hooks.onReconnectScheduled(this.retry.delayMs, this.retry.attempt);
    }
  }

  private onPublish(packet: IPublishPacket, callback: (err?: Error) => void): void {
    if (this.paused) {
      // cb(err) makes MQTT.js skip the PUBACK without stalling (lib/handlers/publish: done ignores
      // the error): the message
      // stays unacknowledged at the broker and comes back with the next session.
      callback(new Error('source paused'));
      return;
    }
    if (packet.topic === BROKER_DROPPED_TOPIC && this.settings.watchDrops === true) {
      const body = packet.payload;
      const total = parseDroppedCount(typeof body === 'string' ? Buffer.from(body) : body);
      if (total !== undefined) this.deps.hooks.onBrokerDropped?.(total);
      // Ours (QoS 0: nothing to acknowledge), unless the user subscribed to $SYS topics too.
      if (!this.settings.topics.some((t) => t.startsWith('$'))) {
        callback();
        return;
      }
    }
    const entry = this.settings.ackOnReceipt === true ? NO_ACK : this.acks.track(packet.qos);
    if (isMalformedTopic(packet.topic)) {
      // Its topic cannot be stored faithfully, and unacknowledged the broker would resend it forever.
      this.ackUnstored(entry, callback, 'invalid_topic', { topic: packet.topic });
      return;
    }
    if (packet.retain === true && this.settings.shareGroup !== undefined) {
      // A retained copy sent because a member subscribed ([MQTT-3.3.1-9]: live deliveries carry
      // RETAIN=0). MQTT 5 §4.8.2 gives shared subscriptions none, but Mosquitto 2.0.11 sends one
      // to every member that subscribes (over 3.1.1 at every SUBSCRIBE): each instance would
      // store its own copy of a state the group already stored once, or never subscribed for.
      this.ackUnstored(entry, callback, 'retained_shared', { topic: packet.topic });
      return;
    }
    const msg = this.toMessage(packet, entry);
    let pending: Promise<void> | undefined;
    try {
      pending = this.deps.accept(msg);
    } catch (err) {
      this.deps.hooks.onError(
        new MqliteError('MQLITE_SOURCE_FAILED', `accept: ${errorMessage(err)}`, { cause: err }),
      );
      msg.settle('abandoned');
      callback(new Error('not accepted'));
      return;
    }
    if (pending === undefined) {
      this.acks.release(entry, callback);
      return;
    }
    // Queue full: hold MQTT.js's pipeline, so the socket and then the broker stop sending (and the
    // PINGRESP waits unread: stall-keepalive.ts keeps the keepalive from ending the connection).
    const release = this.keepalive.hold(() => this.acks.release(entry, callback));
    pending.then(release, (err: unknown) => {
      this.deps.hooks.onError(
        new MqliteError('MQLITE_SOURCE_FAILED', `accept: ${errorMessage(err)}`, { cause: err }),
      );
      release();
    });
  }

  /** Acknowledged (in receive order, through the held acks) and counted, not stored. */
  private ackUnstored(
    entry: number,
    callback: (err?: Error) => void,
    reason: string,
    detail: Record<string, unknown>,
  ): void {
    this.deps.hooks.onDropped(reason, detail);
    this.acks.release(entry, callback); // hands the PUBACK to the held acks...
    if (entry !== NO_ACK) this.acks.settle(entry, 'committed'); // ...which send it in order
  }

  private toMessage(packet: IPublishPacket, entry: number): InboundMessage {
    const held = entry !== NO_ACK;
    const settleHeld = this.settleHeld;
    return {
      // We advertise no Topic Alias Maximum, so the broker always sends the full topic.
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain === true,
      dup: packet.dup === true,
      receivedAt: Date.now(),
      receivedMono: performance.now(),
      // A held ack's closure is short-lived: the queue keeps settler + token instead (the held ack
      // settles once). QoS 0 has no ack; a QoS 2 message (only if a broker ignores our QoS 1
      // grant) was already PUBREC'd by MQTT.js, so there is nothing left to hold either.
      settle: held ? (how) => settleHeld(entry, how) : this.unackedSettle(this.client?.stream),
      settler: held ? settleHeld : undefined,
      token: held ? entry : undefined,
    };
  }

  /** One settle function per connection for the messages without a held ack: no closure per message. */
  private unackedSettle(stream: Stream | undefined): (how: Settlement) => void {
    if (this.unacked === undefined || this.unacked.stream !== stream) {
      const settle = (how: Settlement): void => {
        if (how === 'committed') this.committedOn(stream);
      };
      this.unacked = { stream, settle };
    }
    return this.unacked.settle;
  }

  /** The first commit of a message from the live connection resets the reconnect backoff. */
  private committedOn(stream: Stream | undefined): void {
    if (stream === undefined || stream === this.provenStream || stream !== this.client?.stream) return;
    if (stream.destroyed) return;
    this.provenStream = stream;
    this.backoff.proven();
  }
}
