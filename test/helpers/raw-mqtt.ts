/**
 * A raw MQTT 3.1.1 connection to the broker under test, for packets a client library would refuse
 * to send: CONNECT sent and CONNACK awaited, then whatever bytes the test writes to `socket`.
 * Every packet the broker sends back is parsed into `packets`; `closed` settles when the
 * connection closes. `defer` receives the socket's cleanup (the caller's afterEach list).
 */
import { once } from 'node:events';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { waitFor } from './wait-for.js';

export interface RawMqtt {
  socket: net.Socket;
  packets: Packet[];
  closed: Promise<unknown[]>;
}

export async function rawMqtt(
  port: number,
  defer: (cleanup: () => void) => void,
  /** For tests that make the broker drop the connection, where a reset is expected. */
  opts: { ignoreSocketErrors?: boolean } = {},
): Promise<RawMqtt> {
  const socket = net.connect({ host: '127.0.0.1', port });
  defer(() => socket.destroy());
  await once(socket, 'connect');
  const packets: Packet[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (d) => parser.parse(d));
  if (opts.ignoreSocketErrors === true) socket.on('error', () => {});
  const closed = once(socket, 'close');
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'raw',
      clean: true,
      keepalive: 60,
    }),
  );
  await waitFor(() => packets.some((p) => p.cmd === 'connack'), 'CONNACK');
  return { socket, packets, closed };
}
