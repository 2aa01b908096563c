/**
 * Fallback broker when Mosquitto is not installed: aedes in its own process (so its CPU is not charged to
 * any target), on an ephemeral port reported over IPC. aedes speaks MQTT 3.1.1 only.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
// noDelay: without it a trailing PUBACK waits for Nagle (~40 ms, see shared/research/mqtt-internals.md §4).
const server = createServer({ noDelay: true }, (socket) => broker.handle(socket));
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
