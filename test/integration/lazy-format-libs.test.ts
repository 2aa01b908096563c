/**
 * Idle memory (issue #11): the decoder the daemon builds from its default configuration loads the
 * libraries of the binary formats only when a payload of theirs arrives. @bufbuild/protobuf
 * (Sparkplug B), cbor-x and msgpackr cost ~10, ~11 and ~3 MB of RSS in a bare process, and the
 * default presets include Sparkplug, so a daemon with no such device would pay for them all.
 *
 * Run in a fresh `node` on the built dist/ (as the daemon's SQLite worker runs it), because this
 * test process's module cache is shared with other tests that load those libraries themselves.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSparkplug } from '../unit/decode/formats/sparkplug-encode.js';

const dist = resolve(import.meta.dirname, '../../dist');

const CHILD = `
import { createRequire } from 'node:module';
const dist = process.argv[1];
const { loadConfig } = await import(dist + '/config/load.js');
const { decodeSettings } = await import(dist + '/daemon-settings.js');
const { createDecoder } = await import(dist + '/decode/decoder.js');
const cache = createRequire(import.meta.url).cache;
const loaded = () => ['@bufbuild/protobuf', 'cbor-x', 'msgpackr'].filter((lib) =>
  Object.keys(cache).some((k) => k.includes('/node_modules/' + lib + '/')));
const decode = createDecoder(decodeSettings(loadConfig({ env: {}, flags: {} })));
const out = {};
const json = decode('zigbee2mqtt/living room/sensor', Buffer.from('{"temperature":21.5,"humidity":48}'), Date.now());
out.json = { ok: json.ok, loaded: loaded() };
const sp = decode('spBv1.0/plant/NBIRTH/edge1', Buffer.from(process.argv[2], 'base64'), Date.now());
out.sparkplug = { ok: sp.ok, readings: sp.ok ? sp.readings.length : sp.reason, loaded: loaded() };
console.log(JSON.stringify(out));
`;

describe('binary format libraries', () => {
  it('are not loaded until a payload of their format arrives', () => {
    const birth = encodeSparkplug({
      timestamp: 1_700_000_000_000,
      seq: 0,
      metrics: [
        { name: 'bdSeq', datatype: 8, value: { long: '0' } },
        { name: 'Temperature', alias: 1, datatype: 10, value: { double: 20.5 } },
      ],
    });
    const stdout = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', CHILD, dist, Buffer.from(birth).toString('base64')],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const out = JSON.parse(stdout) as {
      json: { ok: boolean; loaded: string[] };
      sparkplug: { ok: boolean; readings: number | string; loaded: string[] };
    };
    expect(out.json).toEqual({ ok: true, loaded: [] });
    expect(out.sparkplug.ok).toBe(true);
    expect(out.sparkplug.readings).toBeGreaterThanOrEqual(1);
    expect(out.sparkplug.loaded).toEqual(['@bufbuild/protobuf']);
  });
});
