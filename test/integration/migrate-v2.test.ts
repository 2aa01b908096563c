/**
 * A schema-1 file (the released format: one samples row per reading) opened by this version is
 * migrated in place: the readings view answers the same rows before and after, latest and the rollups
 * are built from the history, and a migration stopped between chunks resumes without counting twice.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION } from '../../src/sink/migrations/index.js';
import { V1 } from '../../src/sink/migrations/v1.js';
import { migrateToV2 } from '../../src/sink/migrations/v2.js';
import { SqliteSink } from '../../src/sink/sqlite-sink.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertBuilt, message, sinkSettings, writeStubWorker } from './sink-fixture.js';

const T0 = Date.UTC(2026, 10, 1);
const MESSAGES = 9_000;

let dir: string;
let cleanup: () => void;
let path: string;

beforeEach(() => {
  ({ dir, cleanup } = tmpDir('mqlite-migrate-'));
  path = join(dir, 'v1.db');
});
afterEach(() => cleanup());

/**
 * A schema-1 file as the released writer left it: zigbee2mqtt- and Tasmota-shaped payloads, a topic
 * without a device (NULL), messages without readings, values integer, fractional, negative and large.
 */
function writeSchema1(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(V1);
  db.pragma('user_version = 1');
  const insMsg = db.prepare(
    `INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at, ts, identity)
     VALUES (?, ?, ?, 1, 0, 0, ?, ?, ?)`,
  );
  const series = new Map<string, number>();
  const insSeries = db.prepare('INSERT INTO series (device, metric) VALUES (?, ?)');
  const insSample = db.prepare('INSERT INTO samples (message_id, series_id, value) VALUES (?, ?, ?)');
  const sid = (device: string | null, metric: string): number => {
    const k = `${device}\0${metric}`;
    let id = series.get(k);
    if (id === undefined) {
      id = Number(insSeries.run(device, metric).lastInsertRowid);
      series.set(k, id);
    }
    return id;
  };
  db.transaction(() => {
    for (let i = 0; i < MESSAGES; i++) {
      // Out of time order now and then, as late deliveries are.
      const ts = T0 + i * 1000 - (i % 17 === 0 ? 900_000 : 0);
      let topic: string;
      let device: string | null;
      let readings: [string, number][];
      let payload: string;
      switch (i % 4) {
        case 0:
          device = 'living_room';
          readings = [
            ['temperature', 20 + (i % 50) / 10],
            ['humidity', 40 + (i % 7)],
            ['battery', 97],
            ['linkquality', -(i % 120)],
          ];
          topic = 'zigbee2mqtt/living_room';
          payload = JSON.stringify({ ...Object.fromEntries(readings), last_seen: ts });
          break;
        case 1:
          device = 'tasmota_plug';
          readings = [
            ['ENERGY.Power', i % 3000],
            ['ENERGY.Total', 1234567890.125 + i],
          ];
          topic = 'tele/tasmota_plug/SENSOR';
          payload = JSON.stringify({ Time: new Date(ts).toISOString(), ENERGY: { Power: i % 3000 } });
          break;
        case 2:
          device = 'door';
          readings = [];
          topic = 'zigbee2mqtt/door';
          payload = '{"contact":"open"}';
          break;
        default:
          device = null;
          readings = [['uptime', i]];
          topic = 'uptime';
          payload = String(i);
      }
      const id = Number(insMsg.run(topic, device, payload, ts, ts, BigInt(i * 2 + 1)).lastInsertRowid);
      for (const [metric, value] of readings) insSample.run(id, sid(device, metric), value);
    }
  })();
  db.close();
}

function readingsView(db: Database.Database): unknown[] {
  return db
    .prepare('SELECT ts, device, metric, value, typeof(value) AS t FROM readings ORDER BY ts, device, metric')
    .all();
}

function version(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

describe('schema 1 → 2 migration', () => {
  it('keeps the readings view row for row, builds latest and rollups, drops samples', () => {
    writeSchema1(path);
    const db = new Database(path);
    try {
      const before = readingsView(db);
      const perSeries = db
        .prepare(
          'SELECT device, metric, count(*) AS n FROM readings GROUP BY device, metric ORDER BY device, metric',
        )
        .all();
      expect(before.length).toBeGreaterThan(15_000);
      const progress: number[] = [];
      expect(migrate(db, (p) => progress.push(p.done))).toBe(1);
      expect(version(db)).toBe(SCHEMA_VERSION);
      expect(progress.at(-1)).toBe(MESSAGES);
      expect(readingsView(db)).toEqual(before);
      expect(
        db.prepare("SELECT name FROM sqlite_schema WHERE name IN ('samples', 'mqlite_migration')").all(),
      ).toEqual([]);
      for (const view of ['readings_5m', 'readings_1h']) {
        expect(
          db
            .prepare(
              `SELECT device, metric, sum(count) AS n FROM ${view} GROUP BY device, metric ORDER BY device, metric`,
            )
            .all(),
        ).toEqual(perSeries);
      }
      expect(db.prepare('SELECT device, metric, ts FROM latest ORDER BY device, metric').all()).toEqual(
        db
          .prepare(
            'SELECT device, metric, max(ts) AS ts FROM readings GROUP BY device, metric ORDER BY device, metric',
          )
          .all(),
      );
      // One bucket checked in full against the raw readings.
      const bucket = db
        .prepare(
          `SELECT count, min, max, first, last FROM readings_5m
            WHERE device = 'living_room' AND metric = 'temperature' AND ts = ?`,
        )
        .get(T0 + 600_000);
      const raw = db
        .prepare(
          `SELECT value FROM readings WHERE device = 'living_room' AND metric = 'temperature'
              AND ts >= ? AND ts < ? ORDER BY ts`,
        )
        .pluck()
        .all(T0 + 600_000, T0 + 900_000) as number[];
      expect(bucket).toEqual({
        count: raw.length,
        min: Math.min(...raw),
        max: Math.max(...raw),
        first: raw[0],
        last: raw.at(-1),
      });
    } finally {
      db.close();
    }
  });

  it('resumes after being stopped between chunks, counting each message once', () => {
    writeSchema1(path);
    const reference = join(dir, 'reference.db');
    writeSchema1(reference);
    const ref = new Database(reference);
    // Same chunk boundaries as the interrupted run: float sums depend on the order of addition.
    migrateToV2(ref, () => {}, 2000);

    const db = new Database(path);
    try {
      let chunks = 0;
      expect(() =>
        migrateToV2(
          db,
          () => {
            if (++chunks === 2) throw new Error('killed');
          },
          2000,
        ),
      ).toThrow('killed');
      // Two chunks committed; still schema 1 with samples, cursor persisted.
      expect(version(db)).toBe(1);
      expect(db.prepare('SELECT cursor FROM mqlite_migration').pluck().get()).toBe(4000);
      expect(
        db.prepare('SELECT count(*) FROM messages WHERE readings IS NOT NULL').pluck().get(),
      ).toBeGreaterThan(0);
      db.close();

      const again = new Database(path);
      migrateToV2(again, () => {}, 2000);
      expect(version(again)).toBe(2);
      for (const sql of [
        'SELECT ts, device, metric, value FROM readings ORDER BY ts, device, metric',
        'SELECT * FROM readings_5m ORDER BY device, metric, ts',
        'SELECT * FROM readings_1h ORDER BY device, metric, ts',
        'SELECT * FROM latest ORDER BY series_id',
      ]) {
        expect(again.prepare(sql).all(), sql).toEqual(ref.prepare(sql).all());
      }
      again.close();
    } finally {
      ref.close();
      if (db.open) db.close();
    }
  });

  it('runs when the sink opens a schema-1 file, reports its progress, then stores new messages', async () => {
    assertBuilt();
    writeSchema1(path);
    const progress: { version: number; done: number; total: number }[] = [];
    const sink = new SqliteSink(
      { ...sinkSettings(path), onMigrationProgress: (p) => progress.push(p) },
      writeStubWorker(dir),
    );
    try {
      await sink.start();
      expect(progress.at(-1)).toMatchObject({ version: 2, done: MESSAGES, total: MESSAGES });
      await sink.write([message('zigbee2mqtt/living_room', { ts: T0 + 1e9, r: [['temperature', 30]] })]);
    } finally {
      await sink.stop();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(version(db)).toBe(SCHEMA_VERSION);
      expect(
        db.prepare("SELECT value FROM latest WHERE device = 'living_room' AND metric = 'temperature'").get(),
      ).toEqual({ value: 30 });
    } finally {
      db.close();
    }
  });
});
