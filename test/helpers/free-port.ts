import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, close): for a listener that
 * must come back on the same port after a restart. Nothing listens there until the caller does.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/**
 * A TCP port on 127.0.0.1 held by a listener that accepts and does nothing: for tests of what
 * happens when the port asked for is taken. `release` closes the listener.
 */
export async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const release = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') {
    await release();
    throw new Error('no port assigned');
  }
  return { port: address.port, release };
}
