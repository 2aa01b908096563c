/**
 * An external aedes broker on an ephemeral port, for tests of the MQTT source (as opposed to
 * the embedded broker under test in test/integration/broker-*). `broker` exposes aedes events
 * ('ack', 'publish', 'client') so a test can see the broker's side of the conversation.
 */
import net from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

export interface RunningAedes {
  url: string;
  port: number;
  broker: Aedes;
  /** Closes the listener, every client and the broker. Idempotent. */
  stop(): Promise<void>;
}

export async function startAedes(opts: AedesOptions = {}): Promise<RunningAedes> {
  const broker = await Aedes.createBroker(opts);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('aedes: no port assigned');
  let stopped: Promise<void> | undefined;
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    port: address.port,
    broker,
    stop() {
      stopped ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await serverClosed;
      })();
      return stopped;
    },
  };
}
