/**
 * What the source asks the broker for on each connection: the read-first filters (their retained
 * messages), the topics, the broker's dropped-message count, and leaving plain filters a share-group
 * member's resumed session may still hold. Every answer is checked against the connection it was
 * asked on: MQTT.js fails pending requests on close, and a late answer must not touch the next one.
 */
import type { MqttClient } from 'mqtt';
import { MqliteError } from '../lib/errors.js';
import { BROKER_DROPPED_TOPIC } from './broker-drops.js';
import { subscribeOptions, subscriptionFilters } from './client-options.js';
import type { Stream } from './deferred-acks.js';
import type { SourceSettings } from './source-types.js';

export interface SubscriptionEvents {
  onError(err: Error): void;
  /** The topics' SUBACK: one code per filter sent (0-2 granted QoS, >= 0x80 refused). */
  onSubscribed(granted: number[], filters: readonly string[]): void;
}

/** An answer for a connection that is gone, or that is no longer the client's. */
function stale(client: MqttClient, stream: Stream): boolean {
  return stream.destroyed || client.stream !== stream;
}

function failed(what: string, err: Error): MqliteError {
  return new MqliteError('MQLITE_SOURCE_FAILED', `${what}: ${err.message}`, { cause: err });
}

/**
 * After CONNACK: the read-first filters, each answered before the topics are subscribed (when
 * `topicsToo`; a resumed session already holds them).
 */
export function subscribeOnConnect(
  client: MqttClient,
  settings: SourceSettings,
  sessionPresent: boolean,
  topicsToo: boolean,
  events: SubscriptionEvents,
): void {
  const stream = client.stream;
  const readFirst = settings.readFirst ?? [];
  if (readFirst.length === 0) {
    if (topicsToo) subscribeTopics(client, stream, settings, sessionPresent, events);
    return;
  }
  // Subscribing again, even within a session, makes the broker send the retained messages anew
  // ([MQTT-3.8.4-3]; MQTT 5 Retain Handling 0). They are queued behind the SUBACK, so whatever
  // the topics' subscription brings arrives after them, in order, through the same queue.
  const first = Object.fromEntries(readFirst.map((t) => [t, { qos: 0 as const }]));
  client.subscribe(first, (err) => {
    if (stale(client, stream)) return;
    if (err) events.onError(failed(`subscribe ${readFirst.join(', ')}`, err));
    if (topicsToo) subscribeTopics(client, stream, settings, sessionPresent, events);
  });
}

function subscribeTopics(
  client: MqttClient,
  stream: Stream,
  settings: SourceSettings,
  sessionPresent: boolean,
  events: SubscriptionEvents,
): void {
  const opts = subscribeOptions(settings);
  const filters = subscriptionFilters(settings);
  const topics = Object.fromEntries(filters.map((t) => [t, { ...opts }]));
  client.subscribe(topics, (err, granted) => {
    if (stale(client, stream)) return;
    if (err) {
      events.onError(failed(`subscribe ${filters.join(', ')}`, err));
      return;
    }
    events.onSubscribed(
      (granted ?? []).map((g) => g.qos),
      filters,
    );
    if (sessionPresent && settings.shareGroup !== undefined)
      leavePlainFilters(client, stream, settings, events);
    if (settings.watchDrops === true) watchDrops(client, stream, events);
  });
}

/**
 * QoS 0, after the topics: the count is retained, so it arrives at once and then with every
 * change. A broker that refuses it or has no such topic (aedes, other brokers) just sends
 * nothing; the metric then stays unknown, which is what it is.
 */
function watchDrops(client: MqttClient, stream: Stream, events: SubscriptionEvents): void {
  client.subscribe(BROKER_DROPPED_TOPIC, { qos: 0 }, (err) => {
    if (err === undefined || err === null || stale(client, stream)) return;
    events.onError(failed(`subscribe ${BROKER_DROPPED_TOPIC}`, err));
  });
}

/**
 * A session resumed by an instance that joined a share group may still hold the plain
 * subscriptions of its earlier configuration: through them it would get every message, on top
 * of its share (and so would each member that made the same move). Dropped after the shared
 * ones are in place, so no message finds this session without a subscription meanwhile; a broker
 * answers "no subscription existed" (0x11) when there was none.
 */
function leavePlainFilters(
  client: MqttClient,
  stream: Stream,
  settings: SourceSettings,
  events: SubscriptionEvents,
): void {
  client.unsubscribe([...settings.topics], (err) => {
    if (err === undefined || err === null || stale(client, stream)) return;
    events.onError(failed(`unsubscribe ${settings.topics.join(', ')}`, err));
  });
}
