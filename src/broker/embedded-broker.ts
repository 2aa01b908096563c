/**
 * Embedded aedes broker (MQTT 3.1/3.1.1): devices publish straight into mqlite. A device's
 * QoS 1/2 PUBLISH is acknowledged only after the transaction storing it committed: aedes runs
 * `authorizePublish` before it writes PUBACK/PUBREC (lib/handlers/publish.js), so we hold that
 * callback until settle('committed') (docs/Aedes.md, authorizePublish). `published` would be too late: it runs
 * after the PUBACK.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { errorCode, MqliteError } from '../lib/errors.js';
import { settlesWithin } from '../lib/timeout.js';
import type { Accept, InboundMessage, QoS, Settlement } from '../lib/message.js';
import { type AuthFailure, assertSecure, makeAuthenticate } from './auth.js';
import { pauseReading, resumeReading } from './client-flow.js';
import { DEFAULT_PERMISSIONS, TopicAcl, type TopicPermissions } from './topic-acl.js';
import { limitPacketSize } from './packet-size-guard.js';
import { rejectMalformedStrings } from './string-guard.js';

export type { AuthFailure } from './auth.js';
export { hashPassword, verifyPassword } from './password.js';

export interface EmbeddedBrokerSettings {
  host: string;
  port: number;
  allowAnonymous: boolean;
  /** publish/subscribe: topic filters (topic-acl.ts); omitted: DEFAULT_PERMISSIONS. */
  users: { username: string; passwordHash: string; publish?: string[]; subscribe?: string[] }[];
  /** Clients without a user name (anonymous, or anyone in local-only mode). */
  anonymous?: TopicPermissions;
  maxPayloadBytes: number;
  /** Open connections at most; more are closed as soon as they are accepted. */
  maxConnections: number;
}

export interface BrokerHooks {
  onClientConnected(id: string): void;
  onClientDisconnected(id: string): void;
  /** 'payload_too_large' | 'sys_topic' | 'not_authorised' */
  onRejectedPublish(reason: string): void;
  /**
   * A connection or subscription refused: 'max_connections' | 'subscribe_not_authorised', or a
   * connection closed for a malformed string: 'string_with_nul' | 'invalid_utf8'.
   */
  onRefused(reason: string, detail: Record<string, unknown>): void;
  /** A CONNECT refused for its credentials, or unchecked because its address is throttled. */
  onAuthFailure(failure: AuthFailure): void;
}

export interface BrokerDeps {
  accept: Accept;
  hooks: BrokerHooks;
}

/**
 * aedes writes packets with mqtt-packet, which by default builds a cache of 65,536 two-byte Buffers
 * at the first packet written (~6.6 MB of heap for the life of the process, issue #11). Off, as
 * MQTT.js's `writeCache: false` does for the subscriber (source/client-options.ts): one 2-byte
 * Buffer per packet id written instead. The switch is module-wide, so it is set on the copy aedes
 * itself resolves.
 */
function disableMqttPacketNumberCache(): void {
  const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'));
  const mqttPacket = fromAedes('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };
  mqttPacket.writeToStream.cacheNumbers = false;
}

/** stop(): how long clients get to close before their sockets are destroyed. */
const STOP_TIMEOUT_MS = 5000;
/** start(): bound on binding the listener. */
const LISTEN_TIMEOUT_MS = 10_000;
/** aedes defaults to 23 (the MQTT 3.1 minimum); real devices use longer ids (MAC + prefix). */
const MAX_CLIENT_ID_LENGTH = 128;
/** MQTT 3.1.1 PUBLISH besides the payload: fixed header 1+4, topic 2+65 535, packet id 2. */
const PUBLISH_OVERHEAD_BYTES = 5 + 2 + 65_535 + 2;

type AuthorizeCallback = (error?: Error | null) => void;

export class EmbeddedBroker {
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private stopped: Promise<void> | undefined;
  /** What each authenticated client may do, from its user (set at CONNECT). */
  private readonly acls = new WeakMap<Client, TopicAcl>();

  constructor(
    private readonly settings: EmbeddedBrokerSettings,
    private readonly deps: BrokerDeps,
  ) {}

  address(): { host: string; port: number } {
    const a = this.server?.address();
    if (a === null || a === undefined || typeof a === 'string') {
      return { host: this.settings.host, port: this.settings.port };
    }
    return { host: this.settings.host, port: a.port };
  }

  async start(): Promise<void> {
    if (this.aedes !== undefined || this.stopped !== undefined) return;
    const s = this.settings;
    assertSecure(s);
    const { hooks } = this.deps;
    const authenticate = makeAuthenticate(s, {
      onFailure: (f) => hooks.onAuthFailure(f),
      onSuccess: (client, username) => this.acls.set(client, this.aclFor(client, username)),
    });
    disableMqttPacketNumberCache();
    const aedes = await Aedes.createBroker({
      maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
      authenticate,
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => {
        if (this.acls.get(client)?.canSubscribe(sub.topic) === true) return cb(null, sub);
        hooks.onRefused('subscribe_not_authorised', { client: client.id, topic: sub.topic });
        cb(null, null); // SUBACK 0x80 for this filter; the connection stays
      },
    });
    this.aedes = aedes;
    aedes.on('client', (c) => hooks.onClientConnected(c.id));
    aedes.on('clientDisconnect', (c) => hooks.onClientDisconnected(c.id));
    // Without noDelay a trailing PUBACK waited ~43 ms for Nagle (measured with aedes 1.2).
    const server = net.createServer({ noDelay: true }, (socket) => this.onSocket(aedes, socket));
    this.server = server;
    try {
      await listen(server, s.host, s.port);
    } catch (err) {
      this.server = undefined;
      this.aedes = undefined;
      await closeAedes(aedes);
      if (errorCode(err) === 'EADDRINUSE') {
        throw new MqliteError(
          'MQLITE_PORT_IN_USE',
          `${s.host}:${s.port} is already in use (another MQTT broker is probably running there). ` +
            `Connect to it instead with --broker mqtt://${s.host}:${s.port}, ` +
            `or run the embedded broker elsewhere with --listen ${s.host}:<another port>`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * A message from mqlite itself to the broker's subscribers (a Sparkplug rebirth request), QoS 0,
   * not retained. It passes no authorizePublish (no client sends it), so it is not ingested.
   */
  publish(topic: string, payload: Uint8Array): Promise<void> {
    const aedes = this.aedes;
    if (aedes === undefined || this.stopped !== undefined)
      return Promise.reject(new MqliteError('MQLITE_SOURCE_FAILED', 'the embedded broker is not running'));
    const packet = {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      qos: 0,
      retain: false,
      dup: false,
    } as PublishPacket;
    return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    const { server, aedes } = this;
    if (server === undefined || aedes === undefined) return;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    // aedes.close() closes every client connection, then its emitter.
    const closed = Promise.all([serverClosed, closeAedes(aedes)]);
    if (!(await settlesWithin(closed, STOP_TIMEOUT_MS))) {
      for (const socket of this.sockets) socket.destroy();
      await settlesWithin(serverClosed, STOP_TIMEOUT_MS);
    }
  }

  private aclFor(client: Client, username: string | undefined): TopicAcl {
    const user =
      username === undefined ? undefined : this.settings.users.find((u) => u.username === username);
    const perms: TopicPermissions =
      user === undefined
        ? (this.settings.anonymous ?? DEFAULT_PERMISSIONS)
        : {
            publish: user.publish ?? DEFAULT_PERMISSIONS.publish,
            subscribe: user.subscribe ?? DEFAULT_PERMISSIONS.subscribe,
          };
    return TopicAcl.for(perms, { username, clientId: client.id });
  }

  private onSocket(aedes: Aedes, socket: net.Socket): void {
    if (this.sockets.size >= this.settings.maxConnections) {
      // Before aedes sees it: no CONNECT is read, no scrypt is run, no session is made.
      this.deps.hooks.onRefused('max_connections', { address: socket.remoteAddress });
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const client = aedes.handle(socket);
    const limit = this.settings.maxPayloadBytes + PUBLISH_OVERHEAD_BYTES;
    limitPacketSize(client, limit, (cmd) => {
      if (cmd === 'publish') this.deps.hooks.onRejectedPublish('payload_too_large');
    });
    rejectMalformedStrings(client, (violation) =>
      this.deps.hooks.onRefused(violation, { client: client.id, address: socket.remoteAddress }),
    );
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: AuthorizeCallback): void {
    const { hooks, accept } = this.deps;
    if (packet.topic.startsWith('$SYS/')) {
      hooks.onRejectedPublish('sys_topic');
      cb(new Error('clients may not publish to $SYS/'));
      return;
    }
    if (client !== null && this.acls.get(client)?.canPublish(packet.topic) !== true) {
      // [MQTT-3.3.5-2] allows a PUBACK or closing the connection. Closed, not acked: the device
      // keeps the message and delivers it once its permissions are fixed; acked it would be lost.
      hooks.onRejectedPublish('not_authorised');
      cb(new Error(`${client.id} may not publish to ${packet.topic}`));
      return;
    }
    // A payload over maxPayloadBytes that got past the packet-size guard (within its allowance
    // for the topic) goes on: the decoder dead-letters it as payload_too_large with a truncated
    // copy, and it is acknowledged after that commit. Refusing it here would close the connection
    // without PUBACK ([MQTT-3.3.5-2]), and a QoS 1 device would resend it forever, blocking
    // everything it sends after it.
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const qos = packet.qos as QoS;
    let settled = false;
    const answer = (err: Error | null): void => {
      // A closed client's remaining publishes have nowhere to go; aedes dropped them already.
      if (client?.closed !== true) cb(err);
    };
    const msg: InboundMessage = {
      topic: packet.topic,
      payload,
      qos,
      retain: packet.retain === true,
      dup: packet.dup === true,
      receivedAt: Date.now(),
      receivedMono: performance.now(),
      // QoS 0 was answered already: one shared no-op, no closure per message for the queue to hold.
      settle:
        qos === 0
          ? settleNothing
          : (how: Settlement) => {
              if (settled) return;
              settled = true;
              // An error makes aedes close the connection without PUBACK: the device resends
              // (docs/Aedes.md, authorizePublish).
              answer(how === 'committed' ? null : new Error('message not stored; resend it'));
            },
    };
    let pending: Promise<void> | undefined;
    try {
      pending = accept(msg);
    } catch (err) {
      settled = true;
      answer(toError(err));
      return;
    }
    if (pending !== undefined) this.holdReading(client, pending, qos === 0 ? answer : undefined);
    else if (qos === 0) answer(null);
    // QoS 1/2 are answered by settle.
  }

  /**
   * Queue full: read nothing more from this device until there is room (client-flow.ts).
   * If the aedes internals for that are missing, a QoS 0 answer is at least held back.
   */
  private holdReading(client: Client | null, room: Promise<void>, answerQos0?: (e: null) => void): void {
    const paused = client !== null && pauseReading(client);
    if (paused) answerQos0?.(null);
    const resume = (): void => {
      if (paused && client !== null) resumeReading(client);
      else answerQos0?.(null);
    };
    room.then(resume, resume);
  }
}

function settleNothing(): void {}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      server.close();
      reject(new Error(`listening on ${host}:${port} took longer than ${LISTEN_TIMEOUT_MS} ms`));
    }, LISTEN_TIMEOUT_MS);
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onListening = (): void => {
      cleanup();
      resolve();
    };
    function cleanup(): void {
      clearTimeout(timer);
      server.off('error', onError);
      server.off('listening', onListening);
    }
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
