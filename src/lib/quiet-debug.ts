/**
 * mqtt-packet, the MQTT parser and writer under both MQTT.js and aedes, logs through the `debug`
 * package about ten times per packet, from module-level loggers no option reaches (MQTT.js's own
 * client takes a `log` option: source/client-options.ts). Even disabled, each call allocates its
 * rest-argument array and reads a getter: mqtt-packet 9.0.2 alone parsed a 90-byte PUBLISH in
 * 2.2 µs with them and 1.7 µs with no-ops (1M packets, three runs each), garbage the main thread's
 * scavenges then sweep too.
 *
 * Before mqtt-packet loads, the `debug` module it will require is replaced in Node's require cache
 * by a proxy that hands out a no-op for the `mqtt-packet:` namespaces and the real logger for any
 * other (every property, `enable()` included, still reaches the real module). Nothing changes when
 * DEBUG names mqtt-packet at start: its loggers are then the real ones.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const PREFIX = 'mqtt-packet:';
const NAMESPACES = ['mqtt-packet:parser', 'mqtt-packet:writeToStream'];

interface DebugFactory {
  (namespace: string): unknown;
  enabled(namespace: string): boolean;
}

let done = false;

/**
 * Call before mqtt or aedes is imported; later calls do nothing. Returns whether the loggers are
 * no-ops (false: DEBUG asked for them, or mqtt-packet or debug is not where it is expected).
 */
export function quietMqttPacketDebug(): boolean {
  if (done) return false;
  done = true;
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet'))] });
  } catch {
    return false;
  }
  const real = require(path) as DebugFactory;
  const cached = require.cache[path];
  if (cached === undefined || NAMESPACES.some((ns) => real.enabled(ns))) return false;
  cached.exports = new Proxy(real, {
    apply(target, self, args: unknown[]) {
      const ns = args[0];
      if (typeof ns === 'string' && ns.startsWith(PREFIX)) return silent(ns);
      return Reflect.apply(target, self, args);
    },
  });
  return true;
}

function silent(namespace: string): unknown {
  const log = (): void => {};
  return Object.assign(log, {
    namespace,
    enabled: false,
    log,
    extend: (sub: string, delimiter = ':') => silent(`${namespace}${delimiter}${sub}`),
    destroy: () => false,
  });
}
