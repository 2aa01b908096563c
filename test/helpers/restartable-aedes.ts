/**
 * An external aedes broker on a port chosen before it first listens, that can be stopped and
 * started again on that same port: for tests where the broker is down when the daemon starts,
 * or restarts under it. aedes keeps sessions in memory only, so every restart forgets every
 * subscription: a subscriber that does not resubscribe becomes "connected but deaf".
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { freePort } from './free-port.js';

export interface RestartableAedes {
  readonly port: number;
  readonly url: string;
  /** Whether the broker listens right now. */
  readonly running: boolean;
  /** Starts a fresh broker (no sessions) on `port`. */
  start(): Promise<void>;
  /** Closes the listener, destroys every connection, closes the broker. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once some client has subscribed to a filter matching `topic` on the current broker. */
  subscribedTo(topic: string, timeoutMs?: number): Promise<void>;
  /** Payloads of the QoS 1 messages `clientId` acknowledged (PUBACK), across every restart. */
  ackedBy(clientId: string): readonly string[];
}

/** MQTT topic filter match ([MQTT-4.7]); enough for the filters tests use. */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export function restartableAedes(port: number): RestartableAedes {
  let current: { broker: Aedes; server: net.Server; sockets: Set<net.Socket>; filters: string[] } | undefined;
  const acks = new Map<string, string[]>();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get running() {
      return current !== undefined;
    },
    async start() {
      if (current) return;
      const broker = await Aedes.createBroker();
      const sockets = new Set<net.Socket>();
      const filters: string[] = [];
      broker.on('subscribe', (subs) => {
        for (const s of subs) filters.push(s.topic);
      });
      broker.on('ack', (packet, client) => {
        if (!client || !('payload' in packet)) return;
        const list = acks.get(client.id) ?? [];
        list.push(Buffer.from(packet.payload).toString());
        acks.set(client.id, list);
      });
      const server = net.createServer({ noDelay: true }, (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        broker.handle(socket);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      current = { broker, server, sockets, filters };
    },
    async stop() {
      const c = current;
      current = undefined;
      if (!c) return;
      const serverClosed = new Promise<void>((resolve) => c.server.close(() => resolve()));
      for (const socket of c.sockets) socket.destroy();
      await new Promise<void>((resolve) => c.broker.close(() => resolve()));
      await serverClosed;
    },
    ackedBy(clientId) {
      return acks.get(clientId) ?? [];
    },
    async subscribedTo(topic, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!current?.filters.some((f) => matches(f, topic))) {
        if (Date.now() > deadline)
          throw new Error(`nobody subscribed to ${topic} on aedes :${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A port for a broker that must come back on the same port after each restart. */
export const reservePort = freePort;
