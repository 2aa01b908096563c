/**
 * The two ways messages come in, as one shape: the embedded broker (devices publish to us) or
 * the subscriber (we subscribe to a broker). The daemon holds one Intake and never asks which.
 */
import type { BrokerHooks, EmbeddedBrokerSettings } from './broker/embedded-broker.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import type { Accept } from './lib/message.js';
import { MqttSource, type SourceHooks, type SourceSettings } from './source/mqtt-source.js';

export type IntakeSettings =
  | { readonly mode: 'embedded'; readonly broker: EmbeddedBrokerSettings }
  | { readonly mode: 'subscriber'; readonly source: SourceSettings };

export interface IntakeHealth {
  /** Subscriber: connected to the broker. Embedded: the broker is listening. */
  readonly connected: boolean;
  /** Subscriber: every subscription granted. Embedded: the broker is listening. */
  readonly subscribed: boolean;
}

export interface Intake {
  readonly mode: IntakeSettings['mode'];
  start(): Promise<void>;
  /** Shutdown: take no more messages; those not taken stay unacknowledged at their sender. */
  pause(): void;
  /** Idempotent. */
  stop(): Promise<void>;
  health(): IntakeHealth;
  /** QoS 1/2 acknowledgements held until their commit (subscriber; embedded holds them in aedes). */
  heldAcks(): number;
  /** Commits keep failing: make the sender redeliver what is held, if this intake can. */
  onCommitsStuck(reason: string): void;
  /** For the start line: where messages come from. */
  describe(): Record<string, unknown>;
  /** A message of mqlite's own (a Sparkplug rebirth request): QoS 0, not retained, not ingested. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
}

export interface IntakeDeps {
  readonly accept: Accept;
  readonly brokerHooks: () => BrokerHooks;
  readonly sourceHooks: () => SourceHooks;
  /** For the start line: the subscriber's URL with any password hidden. */
  readonly shownUrl: (url: string) => string;
}

export function createIntake(settings: IntakeSettings, deps: IntakeDeps): Intake {
  switch (settings.mode) {
    case 'embedded':
      return embeddedIntake(settings.broker, deps);
    case 'subscriber':
      return subscriberIntake(settings.source, deps);
  }
}

function embeddedIntake(s: EmbeddedBrokerSettings, deps: IntakeDeps): Intake {
  const broker = new EmbeddedBroker(s, { accept: deps.accept, hooks: deps.brokerHooks() });
  let listening = false;
  return {
    mode: 'embedded',
    async start() {
      await broker.start();
      listening = true;
    },
    // Nothing to do: the queue, closed at shutdown, refuses what devices still send (unacked).
    pause() {},
    async stop() {
      listening = false;
      await broker.stop();
    },
    health: () => ({ connected: listening, subscribed: listening }),
    heldAcks: () => 0,
    // Devices resend on their own after we close them; a stuck commit holds their PUBACKs.
    onCommitsStuck() {},
    describe: () => ({ mode: 'embedded', broker: broker.address() }),
    publish: (topic, payload) => broker.publish(topic, payload),
  };
}

function subscriberIntake(s: SourceSettings, deps: IntakeDeps): Intake {
  const source = new MqttSource(s, { accept: deps.accept, hooks: deps.sourceHooks() });
  return {
    mode: 'subscriber',
    start: () => source.start(),
    pause: () => source.pause(),
    stop: () => source.stop(),
    health: () => ({ connected: source.connected, subscribed: source.subscribed }),
    heldAcks: () => source.heldAcks,
    onCommitsStuck: (reason) => source.forceReconnect(reason),
    describe: () => ({
      mode: 'subscriber',
      broker: deps.shownUrl(s.url),
      clientId: s.clientId,
      topics: s.topics,
      ...(s.shareGroup !== undefined ? { shareGroup: s.shareGroup } : {}),
    }),
    publish: (topic, payload) => source.publish(topic, payload),
  };
}
