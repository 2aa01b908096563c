/**
 * mqtt-packet's per-packet `debug` calls are no-ops unless DEBUG asks for them (lib/quiet-debug.ts).
 * Run in a fresh `node` on the built dist/, because it changes the process's require cache, which
 * this test process shares with other tests that load MQTT.js and aedes.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = resolve(import.meta.dirname, '../../dist');

const CHILD = `
import { createRequire } from 'node:module';
const { quietMqttPacketDebug } = await import(process.argv[1] + '/lib/quiet-debug.js');
const quiet = quietMqttPacketDebug();
const require = createRequire(process.argv[1] + '/lib/');
const mp = require('mqtt-packet');
const parser = mp.parser({ protocolVersion: 4 });
const packets = [];
parser.on('packet', (p) => packets.push({ topic: p.topic, payload: p.payload.toString() }));
parser.parse(mp.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('21.5'), qos: 0 }));
const debug = require('debug');
console.log(JSON.stringify({
  quiet,
  packets,
  packetLoggerIsReal: debug('mqtt-packet:parser').useColors !== undefined,
  otherLoggerIsReal: debug('mqttjs:client').useColors !== undefined,
  enable: typeof debug.enable,
}));
`;

function run(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, dist], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return { out: JSON.parse(r.stdout), stderr: r.stderr };
}

describe('mqtt-packet debug logging', () => {
  it('is a no-op without DEBUG, and parsing still works; other loggers stay real', () => {
    const { out, stderr } = run({});
    expect(out).toEqual({
      quiet: true,
      packets: [{ topic: 'a/b', payload: '21.5' }],
      packetLoggerIsReal: false,
      otherLoggerIsReal: true,
      enable: 'function',
    });
    expect(stderr).toBe('');
  });

  it('stays the real logger when DEBUG names mqtt-packet', () => {
    const { out, stderr } = run({ DEBUG: 'mqtt-packet:*' });
    expect(out.quiet).toBe(false);
    expect(out.packets).toEqual([{ topic: 'a/b', payload: '21.5' }]);
    expect(out.packetLoggerIsReal).toBe(true);
    expect(stderr).toContain('mqtt-packet:parser');
  });
});
