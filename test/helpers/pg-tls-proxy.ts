/**
 * A TLS-terminating proxy for PostgreSQL, in the test process: the machine's PostgreSQL has no
 * TLS (and is not reconfigured for a test), so TLS clients connect here instead. It speaks the
 * protocol's opening the way a TLS-enabled server does (postgresql.org/docs/15/protocol-flow.html,
 * "SSL Session Encryption"): read the 8-byte SSLRequest, answer 'S', run the TLS handshake as the
 * server with the given certificate, then pipe the decrypted stream to the real server. A client
 * that starts in plain text is refused (a server with `hostssl` lines only).
 */
import net from 'node:net';
import tls from 'node:tls';

/** Int32 length 8, then the SSLRequest code 1234 << 16 | 5679. */
const SSL_REQUEST = 80877103;
const CLOSE_TIMEOUT_MS = 5000;

export interface PgTlsProxy {
  readonly host: string;
  readonly port: number;
  /** Handshakes completed: sessions that then reached the real server. */
  readonly sessions: number;
  /** Connections that began without SSLRequest, closed at once. */
  readonly plaintextRefused: number;
  /** TLS connections closed before the handshake completed (the client rejected the certificate). */
  readonly handshakeFailures: number;
  close(): Promise<void>;
}

export interface PgTlsProxyOptions {
  /** PEM text of the server certificate and its key. */
  readonly cert: string;
  readonly key: string;
  readonly target: { readonly host: string; readonly port: number };
  /** Address to listen on; 127.0.0.1 unless a test needs another name for the same machine. */
  readonly host?: string;
}

export async function startPgTlsProxy(o: PgTlsProxyOptions): Promise<PgTlsProxy> {
  const context = tls.createSecureContext({ cert: o.cert, key: o.key });
  const open = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const counts = { sessions: 0, plaintextRefused: 0, handshakeFailures: 0 };

  const server = net.createServer((raw) => {
    track(raw);
    raw.on('error', () => raw.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 8) return;
      raw.off('data', onData);
      // The client waits for the answer before its ClientHello: more bytes mean no SSLRequest.
      if (head.length !== 8 || head.readInt32BE(0) !== 8 || head.readInt32BE(4) !== SSL_REQUEST) {
        counts.plaintextRefused++;
        raw.destroy();
        return;
      }
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      track(secure);
      let established = false;
      // A client that rejects the certificate may send an alert or just close: either way the
      // socket closes before 'secure'.
      secure.on('error', () => secure.destroy());
      secure.once('close', () => {
        if (!established) counts.handshakeFailures++;
      });
      secure.once('secure', () => {
        established = true;
        counts.sessions++;
        const upstream = net.connect(o.target.port, o.target.host);
        track(upstream);
        upstream.on('error', () => secure.destroy());
        upstream.once('close', () => secure.destroy());
        secure.once('close', () => upstream.destroy());
        secure.pipe(upstream).pipe(secure);
      });
    };
    raw.on('data', onData);
  });

  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    get sessions() {
      return counts.sessions;
    },
    get plaintextRefused() {
      return counts.plaintextRefused;
    },
    get handshakeFailures() {
      return counts.handshakeFailures;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const s of open) s.destroy();
      });
      return closed;
    },
  };
}
