/**
 * The forwarder (its real worker thread, from dist/) against a database file written by the sink
 * and the machine's PostgreSQL, each test in a schema of its own: every message arrives exactly
 * once, with its payload and readings; a lost commit acknowledgement re-sends rows that are then
 * skipped; an unreachable or cut link delays delivery and loses nothing; purge keeps what is not
 * delivered.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Forwarder, type ForwarderHooks } from '../../src/forward/forwarder.js';
import type { ForwardWorkerInit } from '../../src/forward/protocol.js';
import { SqlitePurge } from '../../src/sink/sqlite-purge.js';
import { forwardInit } from '../helpers/forward-init.js';
import { writeOutbox } from '../helpers/outbox-db.js';
import { makeEarlierReleaseSchema, primaryKeyDef } from '../helpers/pg-earlier-schema.js';
import { PG, type TestSchema, testSchema } from '../helpers/pg-test-schema.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertBuilt } from './sink-fixture.js';

const WORKER = new URL('../../dist/forward/forward-worker.js', import.meta.url);

interface Seen {
  source: string | undefined;
  batches: number;
  inserted: number;
  duplicates: number;
  errors: string[];
  backlog: number | undefined;
}

function recorder(): { seen: Seen; hooks: ForwarderHooks } {
  const seen: Seen = {
    source: undefined,
    batches: 0,
    inserted: 0,
    duplicates: 0,
    errors: [],
    backlog: undefined,
  };
  return {
    seen,
    hooks: {
      onReady: (s) => {
        seen.source = s;
      },
      onConnected: () => undefined,
      onBatch: (b) => {
        seen.batches++;
        seen.inserted += b.inserted;
        seen.duplicates += b.messages - b.inserted;
      },
      onError: (stage, e) => {
        seen.errors.push(`${stage}: ${e.message}`);
      },
      onBacklog: (s) => {
        seen.backlog = s.rows;
      },
    },
  };
}

function init(dbPath: string, schema: string, over: Partial<ForwardWorkerInit> = {}): ForwardWorkerInit {
  return forwardInit(dbPath, schema, over);
}

function protectedAfter(dbPath: string): number | undefined {
  const db = new Database(dbPath, { readonly: true });
  try {
    const r = db.prepare("SELECT after_id FROM purge_protect WHERE consumer = 'forward.postgres'").get() as
      | { after_id: number }
      | undefined;
    return r?.after_id;
  } finally {
    db.close();
  }
}

function localMessages(
  dbPath: string,
): { id: number; payload: string | Buffer; readings: string | null; ts: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT id, payload, readings, ts FROM messages ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

describe('forwarding to PostgreSQL', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let pg: TestSchema;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    assertBuilt();
    tmp = tmpDir('mqlite-forward-');
    pg = await testSchema();
  });

  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    await pg.drop();
    tmp.cleanup();
  });

  async function start(i: ForwardWorkerInit): Promise<{ f: Forwarder; seen: Seen }> {
    const { seen, hooks } = recorder();
    const f = new Forwarder(i, hooks, WORKER);
    stops.push(() => f.stop());
    await f.start();
    return { f, seen };
  }

  for (const method of ['copy', 'copy-direct', 'unnest'] as const) {
    it(`delivers every stored message once, payloads and readings intact (${method})`, async () => {
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 3000);
      const { seen } = await start(init(db, pg.name, { method }));
      await waitFor(async () => (await pg.count('messages')) === 3000, 'all 3000 messages in PostgreSQL');

      const local = localMessages(db);
      const remote = await pg.rows<{
        id: string;
        payload: string | null;
        payload_raw: Buffer | null;
        readings: Record<string, number> | null;
        ts: Date;
        source: string;
      }>(`SELECT id, payload, payload_raw, readings, ts, source FROM ${pg.name}.messages ORDER BY id`);
      expect(remote.map((r) => Number(r.id))).toEqual(local.map((m) => m.id));
      for (const [i, m] of local.entries()) {
        const r = remote[i]!;
        const bytes = r.payload_raw ?? Buffer.from(r.payload ?? '');
        expect(bytes.equals(Buffer.from(m.payload))).toBe(true);
        expect(r.readings).toEqual(m.readings === null ? null : JSON.parse(m.readings));
        expect(r.ts.getTime()).toBe(m.ts);
        expect(r.source).toBe(seen.source);
      }
      // Every 50th message has a reading of its own time: 60 in 1..3000.
      expect(await pg.count('readings_at')).toBe(60);
      const cursor = await pg.rows<{ after_id: string }>(`SELECT after_id FROM ${pg.name}.forward_cursor`);
      expect(cursor.map((c) => Number(c.after_id))).toEqual([local.at(-1)!.id]);
      await waitFor(() => protectedAfter(db) === local.at(-1)!.id, 'purge_protect to mirror the cursor');
      expect(seen.inserted).toBe(3000);
      expect(seen.duplicates).toBe(0);
    });
  }

  for (const method of ['copy', 'copy-direct'] as const) {
    it(`picks up messages stored while it runs, and re-sends after a lost acknowledgement are skipped (${method})`, async () => {
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 1000);
      const first = await start(init(db, pg.name, { method }));
      await waitFor(async () => (await pg.count('messages')) === 1000, 'the first 1000');
      writeOutbox(db, 1001, 500);
      await waitFor(async () => (await pg.count('messages')) === 1500, 'the 500 stored meanwhile');
      await first.f.stop();

      // As if the commit of ids 701.. had happened but its acknowledgement was lost: the cursor
      // says 700, so the next forwarder sends 701..1500 again.
      await pg.client.query(`UPDATE ${pg.name}.forward_cursor SET after_id = 700`);
      const second = await start(init(db, pg.name, { method }));
      await waitFor(() => second.seen.duplicates === 800, 'the 800 re-sent rows to be skipped');
      expect(second.seen.inserted).toBe(0);
      expect(await pg.count('messages')).toBe(1500);
      const ids = await pg.rows<{ n: string }>(`SELECT count(DISTINCT id) AS n FROM ${pg.name}.messages`);
      expect(Number(ids[0]!.n)).toBe(1500);
    });
  }

  /** Readings the view should list for the outbox: each message's readings, plus readings_at. */
  async function viewReadings(): Promise<number> {
    return Number((await pg.rows<{ n: string }>(`SELECT count(*) AS n FROM ${pg.name}.readings`))[0]?.n);
  }

  function expectedReadings(dbPath: string): number {
    let n = 0;
    for (const m of localMessages(dbPath))
      n += m.readings === null ? 0 : Object.keys(JSON.parse(m.readings)).length;
    return n + 60 * (localMessages(dbPath).length / 3000);
  }

  it('makes readings json (nothing for the server to parse into a tree), and the readings view expands it', async () => {
    const db = join(tmp.dir, 'm.db');
    writeOutbox(db, 1, 3000);
    await start(init(db, pg.name, { method: 'copy-direct' }));
    await waitFor(async () => (await pg.count('messages')) === 3000, 'all 3000 messages in PostgreSQL');
    const type = await pg.rows<{ t: string }>(
      `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${pg.name}.messages'::regclass AND attname = 'readings'`,
    );
    expect(type[0]?.t).toBe('json');
    // The view's values are the numbers of the local JSON.
    const v = await pg.rows<{ id: string; value: number }>(
      `SELECT m.id, r.value FROM ${pg.name}.messages m JOIN ${pg.name}.readings r USING (source, ts, device)
        WHERE r.metric = 'v' AND m.readings IS NOT NULL ORDER BY m.id LIMIT 5`,
    );
    const local = new Map(localMessages(db).map((m) => [m.id, m.readings]));
    for (const r of v) expect(r.value).toBe(JSON.parse(local.get(Number(r.id)) ?? '{}').v);
    expect(await viewReadings()).toBe(expectedReadings(db));
  });

  it('makes the (device, ts) index with the table, and does not make it again once dropped', async () => {
    const indexes = async () =>
      (
        await pg.rows<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'messages' ORDER BY 1`,
          [pg.name],
        )
      ).map((r) => r.indexname);
    const db = join(tmp.dir, 'm.db');
    writeOutbox(db, 1, 1000);
    const first = await start(init(db, pg.name, { method: 'copy-direct' }));
    await waitFor(async () => (await pg.count('messages')) === 1000, 'the first 1000');
    await first.f.stop();
    expect(await indexes()).toEqual(['messages_device_ts', 'messages_pkey']);
    await pg.client.query(`DROP INDEX ${pg.name}.messages_device_ts`);
    writeOutbox(db, 1001, 500);
    await start(init(db, pg.name, { method: 'copy-direct' }));
    await waitFor(async () => (await pg.count('messages')) === 1500, 'the next 500');
    expect(await indexes()).toEqual(['messages_pkey']);
  });

  /**
   * The schema as the version before json readings made it (pg-schema.ts at b7a5293): a
   * PostgreSQL that already holds forwarded data keeps its tables, and the new version writes
   * into them as they are, through every method and the re-send path.
   */
  async function earlierVersionSchema(s: string): Promise<void> {
    for (const stmt of [
      `CREATE SCHEMA ${s}`,
      `CREATE TABLE ${s}.messages (
        source text NOT NULL, id bigint NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,
        topic text NOT NULL, device text, payload text, payload_raw bytea, qos smallint NOT NULL,
        retain boolean NOT NULL, dup boolean NOT NULL, readings jsonb,
        forwarded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, id))`,
      `CREATE INDEX messages_device_ts ON ${s}.messages (device, ts)`,
      `CREATE TABLE ${s}.readings_at (
        source text NOT NULL, message_id bigint NOT NULL, device text, metric text NOT NULL,
        ts timestamptz NOT NULL, value double precision NOT NULL, PRIMARY KEY (source, message_id, metric, ts))`,
      `CREATE TABLE ${s}.forward_cursor (
        source text PRIMARY KEY, after_id bigint NOT NULL, messages bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL)`,
      `CREATE VIEW ${s}.readings (source, ts, device, metric, value) AS
        SELECT m.source, m.ts, m.device, r.key, (r.value)::double precision
          FROM ${s}.messages m, jsonb_each(m.readings) r WHERE jsonb_typeof(r.value) = 'number'
        UNION ALL SELECT source, ts, device, metric, value FROM ${s}.readings_at`,
    ])
      await pg.client.query(stmt);
  }

  for (const method of ['copy-direct', 'copy', 'unnest'] as const) {
    it(`writes into a schema an earlier version made (readings jsonb) as it is, re-sends skipped (${method})`, async () => {
      await earlierVersionSchema(pg.name);
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 3000);
      const first = await start(init(db, pg.name, { method }));
      await waitFor(async () => (await pg.count('messages')) === 3000, 'all 3000 messages in PostgreSQL');
      await first.f.stop();
      // A lost acknowledgement: the next forwarder sends 2501.. again (copy-direct: a unique
      // violation, then the same rows through its binary staging table, typed jsonb here).
      await pg.client.query(`UPDATE ${pg.name}.forward_cursor SET after_id = 2500`);
      const second = await start(init(db, pg.name, { method }));
      await waitFor(() => second.seen.duplicates === 500, 'the 500 re-sent rows to be skipped');
      expect(second.seen.errors.filter((e) => !e.includes('duplicate key'))).toEqual([]);

      const type = await pg.rows<{ t: string }>(
        `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${pg.name}.messages'::regclass AND attname = 'readings'`,
      );
      expect(type[0]?.t).toBe('jsonb');
      const local = localMessages(db);
      const remote = await pg.rows<{ id: string; readings: Record<string, number> | null }>(
        `SELECT id, readings FROM ${pg.name}.messages ORDER BY id`,
      );
      expect(remote.map((r) => [Number(r.id), r.readings])).toEqual(
        local.map((m) => [m.id, m.readings === null ? null : JSON.parse(m.readings)]),
      );
      expect(await pg.count('readings_at')).toBe(60);
      expect(await viewReadings()).toBe(expectedReadings(db));
    });
  }

  it('makes the primary key (id, source): the bigint decides the btree comparisons before the text', async () => {
    const db = join(tmp.dir, 'm.db');
    writeOutbox(db, 1, 500);
    await start(init(db, pg.name, { method: 'copy-direct' }));
    await waitFor(async () => (await pg.count('messages')) === 500, 'all 500 messages in PostgreSQL');
    expect(await primaryKeyDef(pg.client, pg.name)).toBe(
      `CREATE UNIQUE INDEX messages_pkey ON ${pg.name}.messages USING btree (id, source)`,
    );
  });

  for (const method of ['copy-direct', 'copy', 'unnest'] as const) {
    it(`writes into a schema the release before made (key (source, id)), every message once (${method})`, async () => {
      await makeEarlierReleaseSchema(pg.client, pg.name);
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 3000);
      const first = await start(init(db, pg.name, { method }));
      await waitFor(async () => (await pg.count('messages')) === 3000, 'all 3000 messages in PostgreSQL');
      await first.f.stop();
      // A lost acknowledgement: 2501.. are sent again and must collide with the (source, id) key.
      await pg.client.query(`UPDATE ${pg.name}.forward_cursor SET after_id = 2500`);
      const second = await start(init(db, pg.name, { method }));
      await waitFor(() => second.seen.duplicates === 500, 'the 500 re-sent rows to be skipped');
      expect(second.seen.inserted).toBe(0);
      expect(second.seen.errors.filter((e) => !e.includes('duplicate key'))).toEqual([]);

      const remote = await pg.rows<{ id: string; n: string }>(
        `SELECT id, count(*) AS n FROM ${pg.name}.messages GROUP BY id ORDER BY id`,
      );
      expect(remote.map((r) => [Number(r.id), Number(r.n)])).toEqual(localMessages(db).map((m) => [m.id, 1]));
      expect(await pg.count('readings_at')).toBe(60);
      // The table is left as it was: its key is not rebuilt behind the user's back.
      expect(await primaryKeyDef(pg.client, pg.name)).toBe(
        `CREATE UNIQUE INDEX messages_pkey ON ${pg.name}.messages USING btree (source, id)`,
      );
    });
  }

  describe('through a link that fails', () => {
    let proxy: TcpProxy;
    beforeEach(async () => {
      proxy = await startTcpProxy({ host: PG.host, port: PG.port });
    });
    afterEach(async () => {
      await proxy.stop();
    });

    it('waits out an unreachable server, keeps undelivered rows from purge, then delivers everything', async () => {
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 2000);
      proxy.refuse();
      const { seen } = await start(
        init(db, pg.name, { connection: { ...init(db, '').connection, port: proxy.port } }),
      );
      await waitFor(() => seen.errors.filter((e) => e.startsWith('connect')).length >= 3, 'connect failures');
      expect(protectedAfter(db)).toBe(0);
      expect(seen.backlog).toBe(2000);

      // Retention wants everything gone (budget): nothing undelivered may go.
      const w = new Database(db);
      const purge = new SqlitePurge(w);
      const step = purge.run({ kind: 'raw-oldest', maxRows: 1000 });
      expect(step.kind === 'step' && step.step.rows).toBe(0);
      expect(localMessages(db)).toHaveLength(2000);

      proxy.accept();
      await waitFor(async () => (await pg.count('messages')) === 2000, 'all 2000 after the link returns');
      await waitFor(() => protectedAfter(db) === 2000, 'the mirror to reach 2000');
      // Now delivered: purge may take them (all but the newest, which keeps ids growing).
      let purged = 0;
      for (let i = 0; i < 3; i++) {
        const r = purge.run({ kind: 'raw-oldest', maxRows: 1000 });
        if (r.kind === 'step') purged += r.step.rows;
      }
      w.close();
      expect(purged).toBe(1999);
    });

    it('survives connections cut mid-batch: every message once', async () => {
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 20_000);
      const { seen } = await start(
        init(db, pg.name, {
          batchMessages: 500,
          connection: { ...init(db, '').connection, port: proxy.port },
        }),
      );
      for (let cuts = 0; cuts < 5; ) {
        await waitFor(() => proxy.open > 0, 'a connection to cut');
        if (proxy.cut() > 0) cuts++;
        await new Promise((r) => setTimeout(r, 30));
      }
      await waitFor(async () => (await pg.count('messages')) === 20_000, 'all 20000', 60_000);
      expect(seen.errors.length).toBeGreaterThan(0);
      const ids = await pg.rows<{ n: string; lo: string; hi: string }>(
        `SELECT count(DISTINCT id) AS n, min(id) AS lo, max(id) AS hi FROM ${pg.name}.messages`,
      );
      expect(ids[0]).toEqual({ n: '20000', lo: '1', hi: '20000' });
    });
    it('a link that goes silent mid-batch: the batch times out, is sent again on a new connection, once', async () => {
      const db = join(tmp.dir, 'm.db');
      writeOutbox(db, 1, 10_000);
      const { seen } = await start(
        init(db, pg.name, {
          batchMessages: 500,
          batchTimeoutMs: 1500,
          connection: { ...init(db, '').connection, port: proxy.port },
        }),
      );
      await waitFor(async () => (await pg.count('messages')) >= 1000, 'forwarding under way');
      expect(proxy.stall()).toBeGreaterThan(0);
      await waitFor(
        () => seen.errors.some((e) => /^write: .*did not finish within 1500 ms/.test(e)),
        'the timeout',
      );
      await waitFor(async () => (await pg.count('messages')) === 10_000, 'all 10000 after the stall', 60_000);
      const ids = await pg.rows<{ n: string }>(`SELECT count(DISTINCT id) AS n FROM ${pg.name}.messages`);
      expect(ids[0]?.n).toBe('10000');
    });
  });

  it('three gateways starting together share one schema, each row under its own source', async () => {
    const files = [0, 1, 2].map((i) => join(tmp.dir, `g${i}.db`));
    for (const f of files) writeOutbox(f, 1, 2000);
    const started = await Promise.all(files.map((f) => start(init(f, pg.name))));
    await waitFor(async () => (await pg.count('messages')) === 6000, 'all 3 × 2000');
    const sources = started.map((s) => s.seen.source);
    expect(new Set(sources).size).toBe(3);
    const perSource = await pg.rows<{ source: string; n: string; after_id: string }>(
      `SELECT m.source, count(*) AS n, c.after_id FROM ${pg.name}.messages m
         JOIN ${pg.name}.forward_cursor c USING (source) GROUP BY m.source, c.after_id ORDER BY m.source`,
    );
    expect(perSource).toEqual([...sources].sort().map((source) => ({ source, n: '2000', after_id: '2000' })));
  });

  it('with protectUndelivered: false registers no protection, so retention purges as usual', async () => {
    const db = join(tmp.dir, 'm.db');
    writeOutbox(db, 1, 100);
    const w = new Database(db);
    w.prepare("INSERT INTO purge_protect VALUES ('forward.postgres', 0, 0)").run();
    await start(
      init(db, pg.name, { protectUndelivered: false, connection: { ...init(db, '').connection, port: 1 } }),
    );
    expect(protectedAfter(db)).toBeUndefined();
    const r = new SqlitePurge(w).run({ kind: 'raw-oldest', maxRows: 1000 });
    w.close();
    expect(r.kind === 'step' && r.step.rows).toBe(99);
  });
});
