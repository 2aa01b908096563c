/**
 * Small pieces the resilience tests share: a YAML config file for the settings that have no
 * flag, the daemon's peak resident memory, read-only queries on its database, log searches, and
 * an MQTT publisher that connects or fails loudly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import type { DaemonProcess } from './daemon-process.js';

/** Writes `settings` as `<dir>/mqlite.yaml` and returns `--config <file>`. */
export function configArgs(dir: string, settings: Record<string, unknown>): string[] {
  const file = join(dir, 'mqlite.yaml');
  writeFileSync(file, stringify(settings));
  return ['--config', file];
}

/** Linux: peak resident set size (VmHWM) of a process, in bytes. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Runs `fn` on a read-only connection to the database, closing it after. */
export function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * Whether latest and the rollups count every stored message yet: they are written about once a
 * second under load (sink/pending-rollups.ts), and their cursor in purge_protect says up to where.
 */
export function rollupsCurrent(path: string): boolean {
  return (
    count(path, "SELECT after_id FROM purge_protect WHERE consumer = 'rollups'") ===
    count(path, 'SELECT max(id) FROM messages')
  );
}

export function count(path: string, sql: string, ...params: unknown[]): number {
  return withDb(
    path,
    (db) =>
      db
        .prepare(sql)
        .pluck()
        .get(...params) as number,
  );
}

/** Log records (NDJSON lines the daemon wrote to stdout) whose msg is `msg`. */
export function logsWithMsg(d: DaemonProcess, msg: string): Record<string, unknown>[] {
  return d.logs.filter((l) => l.msg === msg);
}

/** Connects an MQTT.js client or rejects within 10 s (no silent reconnect loop in a test). */
export async function connectClient(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 200,
    connectTimeout: 5000,
    ...opts,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`could not connect to ${url}`)), 10_000);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
