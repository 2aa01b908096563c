/**
 * What a user writes in an afternoon: MQTT.js + better-sqlite3 (WAL, synchronous FULL), rows batched up to
 * 1000 or 10 ms, committed on the main thread. MQTT.js acknowledges on receipt, before the row is on disk,
 * so a crash loses the open batch: this baseline does not keep mqlite's delivery promise.
 * IPC: → {type:'ready'} once the table exists and the subscription is granted.
 */
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { subscriberOptions } from '../lib/connection.js';
import { sendToParent } from '../lib/ipc.js';
import { baselineArgs } from './args.js';

const MAX_BATCH = 1000;
const MAX_DELAY_MS = 10;

const args = baselineArgs();
if (!args.db) throw new Error('handwritten baseline needs "db"');
const db = new Database(args.db);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, topic TEXT NOT NULL, device TEXT, payload TEXT,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, dup INTEGER NOT NULL, received_at INTEGER NOT NULL)`);
const insert = db.prepare(
  'INSERT INTO messages (topic, device, payload, qos, retain, dup, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
);
type Row = [string, string | null, string, number, number, number, number];
const insertAll = db.transaction((rows: Row[]) => {
  for (const r of rows) insert.run(r);
});

let batch: Row[] = [];
let timer: NodeJS.Timeout | undefined;

function flush(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (batch.length === 0) return;
  const rows = batch;
  batch = [];
  insertAll(rows);
}

const client = mqtt.connect(args.url, subscriberOptions(args.clientId, args.protocolVersion));
client.on('message', (topic, payload, packet) => {
  batch.push([
    topic,
    topic.split('/')[1] ?? null,
    payload.toString('utf8'),
    packet.qos,
    packet.retain ? 1 : 0,
    packet.dup ? 1 : 0,
    Date.now(),
  ]);
  if (batch.length >= MAX_BATCH) flush();
  else timer ??= setTimeout(flush, MAX_DELAY_MS);
});
client.once('connect', () => {
  client.subscribe(args.topic, { qos: args.qos }, (err) => {
    if (err) {
      console.error('subscribe failed:', err);
      process.exit(1);
    }
    sendToParent({ type: 'ready' });
  });
});
client.on('error', (err) => console.error('mqtt error:', err.message));

process.once('SIGTERM', () => {
  flush();
  db.close();
  client.end(false, {}, () => process.exit(0));
});
