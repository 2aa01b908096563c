/**
 * The two ways messages come in, as one shape: the embedded broker (devices publish to us) or
 * the subscriber (we subscribe to a broker). The daemon holds one Intake and never asks which.
 */
import type { BrokerHooks, EmbeddedBrokerSettings } from './broker/embedded-broker.js';
import type { Accept } from './lib/message.js';
import { quietMqttPacketDebug } from './lib/quiet-debug.js';
import type { SourceHooks, SourceSettings } from './source/mqtt-source.js';

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

/**
 * The mode's module (aedes, or MQTT.js) is loaded by start(): a process holds the code of the one
 * it uses, not both (MQTT.js beside aedes: ~6 MB resident, issue #11's idle RSS). Until then the
 * intake reports itself not connected and holds nothing.
 */
export function createIntake(settings: IntakeSettings, deps: IntakeDeps): Intake {
  let inner: Intake | undefined;
  let loading: Promise<Intake> | undefined;
  const load = (): Promise<Intake> => {
    loading ??= (async () => {
      // Before mqtt-packet (under both) loads: its per-packet debug calls become no-ops.
      quietMqttPacketDebug();
      switch (settings.mode) {
        case 'embedded': {
          const { EmbeddedBroker } = await import('./broker/embedded-broker.js');
          return embeddedIntake(new EmbeddedBroker(settings.broker, brokerDeps(deps)));
        }
        case 'subscriber': {
          const { MqttSource } = await import('./source/mqtt-source.js');
          const source = new MqttSource(settings.source, { accept: deps.accept, hooks: deps.sourceHooks() });
          return subscriberIntake(settings.source, source, deps);
        }
      }
    })();
    return loading;
  };
  return {
    mode: settings.mode,
    async start() {
      inner = await load();
      await inner.start();
    },
    pause: () => inner?.pause(),
    stop: async () => {
      // A start still loading the module: wait for it, so what it opens is closed. A module that
      // failed to load opened nothing, and start() has already thrown that error to the daemon.
      const loaded = loading ? await loading.catch(() => undefined) : undefined;
      await loaded?.stop();
    },
    health: () => inner?.health() ?? { connected: false, subscribed: false },
    heldAcks: () => inner?.heldAcks() ?? 0,
    onCommitsStuck: (reason) => inner?.onCommitsStuck(reason),
    describe: () =>
      inner?.describe() ??
      (settings.mode === 'embedded' ? { mode: 'embedded' } : subscriberDescription(settings.source, deps)),
    // A Sparkplug rebirth request before the intake started has nowhere to go: refused, and counted
    // as failed by the caller (daemon-decoder-report.ts).
    publish: (topic, payload) =>
      inner === undefined ? Promise.reject(new Error('intake not started')) : inner.publish(topic, payload),
  };
}

function brokerDeps(deps: IntakeDeps): { accept: Accept; hooks: BrokerHooks } {
  return { accept: deps.accept, hooks: deps.brokerHooks() };
}

type Broker = InstanceType<typeof import('./broker/embedded-broker.js').EmbeddedBroker>;
type Source = InstanceType<typeof import('./source/mqtt-source.js').MqttSource>;

function embeddedIntake(broker: Broker): Intake {
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

function subscriberDescription(s: SourceSettings, deps: IntakeDeps): Record<string, unknown> {
  return {
    mode: 'subscriber',
    broker: deps.shownUrl(s.url),
    clientId: s.clientId,
    topics: s.topics,
    ...(s.shareGroup !== undefined ? { shareGroup: s.shareGroup } : {}),
  };
}

function subscriberIntake(s: SourceSettings, source: Source, deps: IntakeDeps): Intake {
  return {
    mode: 'subscriber',
    start: () => source.start(),
    pause: () => source.pause(),
    stop: () => source.stop(),
    health: () => ({ connected: source.connected, subscribed: source.subscribed }),
    heldAcks: () => source.heldAcks,
    onCommitsStuck: (reason) => source.forceReconnect(reason),
    describe: () => subscriberDescription(s, deps),
    publish: (topic, payload) => source.publish(topic, payload),
  };
}
