/**
 * The machine's PostgreSQL (127.0.0.1:5432, trust auth, database `test`; PGHOST/PGPORT/PGDATABASE
 * override), with a schema of the test's own that drop() removes. A missing server fails loudly:
 * scripts/test-prereqs.sh starts it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};

export interface TestSchema {
  readonly name: string;
  readonly client: pg.Client;
  /** Rows of one query. */
  rows<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Rows in one of the schema's tables; 0 while the forwarder has not made it yet. */
  count(table: string): Promise<number>;
  drop(): Promise<void>;
}

export async function testSchema(prefix = 'mqlite_t'): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client(PG);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG.host}:${PG.port} (database ${PG.database}): run scripts/test-prereqs.sh (${String(err)})`,
    );
  }
  const rows = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    (await client.query<R>(sql, params)).rows;
  return {
    name,
    client,
    rows,
    count: async (table) => {
      const made = await rows(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2`, [
        name,
        table,
      ]);
      if (made.length === 0) return 0;
      return Number((await rows<{ n: string }>(`SELECT count(*) AS n FROM ${name}.${table}`))[0]?.n);
    },
    drop: async () => {
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await client.end();
    },
  };
}
