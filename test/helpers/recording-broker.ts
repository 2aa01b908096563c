/**
 * The embedded broker under test (src/broker) with a pipeline stand-in that commits every message
 * at once, and lists of what it received, rejected, refused and which logins failed: what the
 * broker-* integration tests assert on. Port 0 on 127.0.0.1, anonymous off, no users, 100
 * connections and 64 KiB payloads unless `over` says otherwise. Not started: the caller starts it
 * and registers `broker.stop()` in its own cleanup.
 */
import {
  type AuthFailure,
  EmbeddedBroker,
  type EmbeddedBrokerSettings,
} from '../../src/broker/embedded-broker.js';
import type { InboundMessage } from '../../src/lib/message.js';

export interface RecordingBroker {
  broker: EmbeddedBroker;
  received: InboundMessage[];
  rejected: string[];
  refused: string[];
  authFailures: AuthFailure[];
}

export function recordingBroker(over: Partial<EmbeddedBrokerSettings> = {}): RecordingBroker {
  const received: InboundMessage[] = [];
  const rejected: string[] = [];
  const refused: string[] = [];
  const authFailures: AuthFailure[] = [];
  const broker = new EmbeddedBroker(
    {
      host: '127.0.0.1',
      port: 0,
      allowAnonymous: false,
      users: [],
      maxPayloadBytes: 65536,
      maxConnections: 100,
      ...over,
    },
    {
      accept: (m) => {
        received.push(m);
        m.settle('committed');
        return undefined;
      },
      hooks: {
        onClientConnected: () => {},
        onClientDisconnected: () => {},
        onRejectedPublish: (reason) => rejected.push(reason),
        onRefused: (reason) => refused.push(reason),
        onAuthFailure: (f) => authFailures.push(f),
      },
    },
  );
  return { broker, received, rejected, refused, authFailures };
}
