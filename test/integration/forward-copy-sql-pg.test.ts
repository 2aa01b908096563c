/**
 * copy-direct with the messages encoded by SQLite (outbox-copy-sql.ts), through the real worker
 * (dist/) into the machine's PostgreSQL: rows SQLite cannot encode as the JS encoder does (a
 * fractional time) and text PostgreSQL refuses (bytes stored as TEXT that are not UTF-8: 22021)
 * still arrive, once each, the refused batch sent again from rows where that text reads as
 * U+FFFD, as it did before SQLite encoded anything.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Forwarder } from '../../src/forward/forwarder.js';
import { forwardInit } from '../helpers/forward-init.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { type TestSchema, testSchema } from '../helpers/pg-test-schema.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertBuilt } from './sink-fixture.js';

const WORKER = new URL('../../dist/forward/forward-worker.js', import.meta.url);

describe('copy-direct with rows encoded by SQLite', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let pg: TestSchema;
  let f: Forwarder | undefined;

  beforeEach(async () => {
    assertBuilt();
    tmp = tmpDir('mqlite-copy-sql-pg-');
    pg = await testSchema();
  });

  afterEach(async () => {
    await f?.stop();
    await pg.drop();
    tmp.cleanup();
  });

  it('delivers every message once, text PostgreSQL refuses sent again from rows', async () => {
    const path = join(tmp.dir, 'm.db');
    writeOutbox(path, 1, 1500);
    const db = new Database(path);
    // Written by other means than the sink (which stores such payloads as BLOBs).
    db.exec(`INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, readings)
             VALUES ('bad/utf8', 'd', CAST(x'ff61' AS TEXT), 1, 0, 0, 1764000000000, 1764000000000, NULL),
                    ('odd/time', 'd', 'x', 1, 0, 0, 1764000000000, 1764000000000.5, '{"x":1}')`);
    db.close();
    writeOutbox(path, 1501, 1500);

    const errors: string[] = [];
    let delivered = 0;
    f = new Forwarder(
      forwardInit(path, pg.name, { method: 'copy-direct', batchMessages: 1000 }),
      {
        onReady: () => undefined,
        onConnected: () => undefined,
        onBatch: (b) => {
          delivered += b.inserted;
        },
        onError: (stage, e) => {
          errors.push(`${stage}: ${e.code ?? ''} ${e.message}`);
        },
        onBacklog: () => undefined,
      },
      WORKER,
    );
    await f.start();
    await waitFor(async () => (await pg.count('messages')) === 3002, 'all 3002 messages in PostgreSQL');

    expect(delivered).toBe(3002);
    const ids = await pg.rows<{ n: string; max: string }>(
      `SELECT count(DISTINCT id) AS n, max(id) AS max FROM ${pg.name}.messages`,
    );
    expect(ids[0]).toEqual({ n: '3002', max: '3002' });
    // The refused batch: one error, then the same rows from JS, the text as it reads there.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^write: 22021 invalid byte sequence/);
    const bad = await pg.rows<{ payload: string }>(`SELECT payload FROM ${pg.name}.messages WHERE id = 1501`);
    expect(bad[0]?.payload).toBe('\uFFFDa');
    const odd = await pg.rows<{ ts: string }>(
      `SELECT (extract(epoch FROM ts) * 1000000)::bigint::text AS ts FROM ${pg.name}.messages WHERE id = 1502`,
    );
    expect(odd[0]?.ts).toBe('1764000000000500');
    // Every other payload as stored.
    const local = new Database(path, { readonly: true });
    const want = local
      .prepare('SELECT id, payload FROM messages WHERE id NOT IN (1501, 1502) ORDER BY id')
      .all() as {
      id: number;
      payload: string | Buffer;
    }[];
    local.close();
    const got = await pg.rows<{ id: string; payload: string | null; payload_raw: Buffer | null }>(
      `SELECT id, payload, payload_raw FROM ${pg.name}.messages WHERE id NOT IN (1501, 1502) ORDER BY id`,
    );
    expect(got.map((r) => r.payload_raw ?? Buffer.from(r.payload ?? ''))).toEqual(
      want.map((r) => Buffer.from(r.payload)),
    );
    const cursor = await pg.rows<{ after_id: string }>(`SELECT after_id FROM ${pg.name}.forward_cursor`);
    expect(cursor[0]?.after_id).toBe('3002');
  });
});
