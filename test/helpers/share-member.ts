/**
 * A raw MQTT subscriber that decides itself when (and whether) to PUBACK, for probing what a
 * broker does with a shared-subscription member's in-flight and queued messages. MQTT.js cannot
 * hold a PUBACK without stalling its own parser, and it sends DISCONNECT on end(); this one can
 * die like a killed process: the socket closes with no DISCONNECT (the kernel's FIN after
 * kill -9 looks the same to the broker).
 */
import { once } from 'node:events';
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { waitFor } from './wait-for.js';

export interface MemberOptions {
  port: number;
  clientId: string;
  protocolVersion: 4 | 5;
  /** false: persistent session (with sessionExpirySeconds under MQTT 5). */
  clean: boolean;
  /** MQTT 5 Session Expiry Interval; ignored for 3.1.1. */
  sessionExpirySeconds?: number;
  /** PUBACK each message on receipt (default); false: hold every PUBACK (messages stay in flight). */
  autoAck?: boolean;
  /** Will message: the broker publishes it when it notices this member died (a test's barrier). */
  will?: { topic: string; payload: string };
}

export interface Member {
  /** PUBLISH packets received, in order. */
  readonly received: IPublishPacket[];
  /** CONNACK's session present flag. */
  readonly sessionPresent: boolean;
  /** rh: MQTT 5 Retain Handling (0: send retained messages, 1: only if new, 2: never). */
  subscribe(filter: string, qos: 0 | 1, rh?: 0 | 1 | 2): Promise<number>;
  /** Payloads received as text. */
  payloads(): string[];
  /** Closes the socket without DISCONNECT, as a killed process does. */
  kill(): Promise<void>;
  /** Sends DISCONNECT and closes. */
  disconnect(): Promise<void>;
}

export async function connectMember(o: MemberOptions): Promise<Member> {
  const opts = { protocolVersion: o.protocolVersion };
  const socket = net.connect({ host: '127.0.0.1', port: o.port });
  socket.on('error', () => {}); // a reset on kill() is what we asked for
  await once(socket, 'connect');
  const packets: Packet[] = [];
  const received: IPublishPacket[] = [];
  const parser = mqttPacket.parser(opts);
  const autoAck = o.autoAck !== false;
  parser.on('packet', (p: Packet) => {
    packets.push(p);
    if (p.cmd !== 'publish') return;
    received.push(p);
    if (autoAck && p.qos > 0 && p.messageId !== undefined) {
      socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }, opts));
    }
  });
  socket.on('data', (d) => parser.parse(d));
  const closed = once(socket, 'close');
  socket.write(
    mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: o.protocolVersion,
        clientId: o.clientId,
        clean: o.clean,
        keepalive: 60,
        ...(o.will === undefined
          ? {}
          : { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: false } }),
        ...(o.protocolVersion === 5 && o.sessionExpirySeconds !== undefined
          ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds } }
          : {}),
      },
      opts,
    ),
  );
  const connack = await waitFor(() => packets.find((p) => p.cmd === 'connack'), `CONNACK for ${o.clientId}`);
  let nextId = 1;
  return {
    received,
    sessionPresent: connack?.cmd === 'connack' && connack.sessionPresent,
    async subscribe(filter, qos, rh) {
      const messageId = nextId++;
      const subscription = rh === undefined ? { topic: filter, qos } : { topic: filter, qos, rh };
      socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [subscription] }, opts));
      const suback = await waitFor(
        () => packets.find((p) => p.cmd === 'suback' && p.messageId === messageId),
        `SUBACK for ${filter}`,
      );
      return suback?.cmd === 'suback' ? (suback.granted[0] as number) : -1;
    },
    payloads: () => received.map((p) => p.payload.toString()),
    async kill() {
      socket.destroy();
      await closed;
    },
    async disconnect() {
      socket.end(mqttPacket.generate({ cmd: 'disconnect' }, opts));
      await closed;
    },
  };
}
