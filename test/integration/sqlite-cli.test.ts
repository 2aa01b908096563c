/**
 * The data model is read with other tools than mqlite: the README promises that its example queries
 * run in the stock `sqlite3` CLI (Debian 12: 3.40, JSON text only, no JSONB). Each SQL statement of
 * the README's data-model section runs there, on a file written by mqlite's own write path.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBatch } from '../../src/sink/protocol.js';
import { SinkStore } from '../../src/sink/store.js';
import type { DecodeFn } from '../../src/sink/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { message } from './sink-fixture.js';

function sqlite3Bin(): string {
  const bin = process.env.SQLITE3_BIN ?? 'sqlite3';
  try {
    execFileSync(bin, ['-version'], { stdio: 'pipe' });
    return bin;
  } catch {
    throw new Error(
      `this test needs the sqlite3 CLI, which was not found as "${bin}" (install it: apt-get install sqlite3; .ci/run does)`,
    );
  }
}

/** The SQL statements of the README's "Data model" section, comments included. */
function readmeQueries(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Data model'), readme.indexOf('## Delivery guarantees'));
  const block = /```sql\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split(/;\s*\n/)
    .map((q) => q.trim())
    .filter((q) => q !== '');
}

/** zigbee2mqtt-shaped: {"temperature":..,"humidity":..,"battery":..}, ts = receive time. */
const decode: DecodeFn = (topic, payload, receivedAt) => {
  const j = JSON.parse(Buffer.from(payload).toString()) as Record<string, number>;
  const readings = Object.entries(j).map(([metric, value]) => ({ metric, value }));
  return {
    ok: true,
    device: topic.split('/')[1] ?? null,
    text: null,
    ts: receivedAt,
    tsFromPayload: false,
    identity: null,
    readings,
  };
};

let dir: string;
let cleanup: () => void;
let path: string;
let bin: string;

beforeAll(() => {
  bin = sqlite3Bin();
  ({ dir, cleanup } = tmpDir('mqlite-cli-'));
  path = join(dir, 'mqlite.db');
  const store = SinkStore.open(
    { path, synchronous: 'NORMAL', busyTimeoutMs: 2000, deadLetterPayloadBytes: 64 },
    decode,
  );
  const now = Date.now();
  const msgs = [];
  // Two devices, one reading every 10 minutes over the last 2 hours.
  for (let t = now - 2 * 3_600_000; t <= now; t += 600_000) {
    msgs.push(
      message('zigbee2mqtt/kitchen', { temperature: 21.5, humidity: 40, battery: 97 }, { receivedAt: t }),
      message('zigbee2mqtt/hall', { temperature: 19.25, linkquality: 120 }, { receivedAt: t }),
    );
  }
  store.writeBatch(packBatch(msgs).packed);
  store.close();
});
afterAll(() => cleanup?.());

function cli(sql: string): Record<string, unknown>[] {
  // On stdin, as a user pastes it: a statement starting with a comment is not taken for an option.
  const out = execFileSync(bin, ['-bail', '-json', '-readonly', path], {
    input: `${sql};\n`,
    encoding: 'utf8',
  });
  return out.trim() === '' ? [] : (JSON.parse(out) as Record<string, unknown>[]);
}

describe('sqlite3 CLI', () => {
  it('reads the views and tables of the data model', () => {
    expect(cli('SELECT count(*) AS n FROM readings')).toEqual([{ n: 13 * 5 }]);
    expect(cli('SELECT DISTINCT typeof(value) AS t FROM readings')).toEqual([{ t: 'real' }]);
    expect(
      cli("SELECT sum(count) AS n FROM readings_1h WHERE device = 'kitchen' AND metric = 'battery'"),
    ).toEqual([{ n: 13 }]);
    expect(cli("SELECT metric, value FROM latest WHERE device = 'hall' ORDER BY metric")).toEqual([
      { metric: 'linkquality', value: 120 },
      { metric: 'temperature', value: 19.25 },
    ]);
  });

  const queries = readmeQueries();
  it('finds the README example queries', () => {
    expect(queries.length).toBeGreaterThanOrEqual(6);
  });
  it.each(queries.filter((q) => !q.includes('dead_letters')).map((q) => [q.split('\n')[0], q]))(
    'README %s: runs and returns rows',
    (_title, sql) => {
      expect(cli(sql as string).length).toBeGreaterThan(0);
    },
  );
  it('README dead-letter query runs (no dead letters here)', () => {
    const q = queries.find((x) => x.includes('dead_letters')) as string;
    expect(cli(q)).toEqual([]);
  });
});
