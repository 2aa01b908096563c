/**
 * A TCP proxy in the test process, on an ephemeral port, forwarding to one target. A test
 * cuts every connection through it (both sides get a reset, as from a middlebox dropping
 * the flow), stalls them silently (only keepalive notices), and can refuse new
 * connections for a while (each is reset at once) to keep a client away from its broker.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections currently forwarded. */
  readonly open: number;
  /** Connections accepted and forwarded so far. */
  readonly accepted: number;
  /** Resets every forwarded connection (both sides); returns how many were cut. */
  cut(): number;
  /**
   * Stops forwarding on every open connection without closing it: a silent link (a dead route
   * or NAT entry), which only keepalive can detect. New connections are forwarded normally.
   * Returns how many were stalled.
   */
  stall(): number;
  /** New connections are reset at once until accept(). */
  refuse(): void;
  accept(): void;
  /** Cuts everything and closes the listener. Idempotent. */
  stop(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  let accepted = 0;

  const server = net.createServer({ noDelay: true }, (client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const close = (): void => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    // Errors (ECONNRESET after a cut, a refused upstream) just end the pair.
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port assigned');
  const port = address.port;

  const cut = (): number => {
    const n = pairs.size;
    for (const p of [...pairs]) {
      pairs.delete(p);
      // RST rather than FIN: the peers see the connection fail, not a polite close.
      if (!p.client.destroyed) p.client.resetAndDestroy();
      if (!p.upstream.destroyed) p.upstream.resetAndDestroy();
    }
    return n;
  };

  const stall = (): number => {
    for (const { client, upstream } of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    return pairs.size;
  };

  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cut,
    stall,
    refuse() {
      refusing = true;
    },
    accept() {
      refusing = false;
    },
    stop() {
      stopped ??= (async () => {
        refusing = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        cut();
        await closed;
      })();
      return stopped;
    },
  };
}
