import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/daemon-process.js';
import { holdPort } from '../helpers/free-port.js';
import { tmpDir } from '../helpers/tmp.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(): string {
  const t = tmpDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function occupiedPort(): Promise<number> {
  const held = await holdPort();
  cleanups.push(held.release);
  return held.port;
}

describe('mqlite CLI', () => {
  it('--version prints the package version and --help lists the flags', async () => {
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await runCli(['run', '--help']);
    expect(h.code).toBe(0);
    for (const flag of [
      '--config',
      '--broker',
      '--listen',
      '--db',
      '--topic',
      '--qos',
      '--client-id',
      '--template',
      '--share-group',
      '--http',
      '--log-level',
    ]) {
      expect(h.stdout).toContain(flag);
    }
  });

  it('exits 2 and names every bad key, the value given and what was expected', async () => {
    const dir = tmp();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'queue:\n  maxBytes: lots\ndb:\n  synchronous: SOMETIMES\nbatch:\n  maxBatchh: 5\n');
    const r = await runCli(['check-config', '--config', file, '--qos', '7', '--template', '+/{device}/#/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'queue.maxBytes: expected a size like "64MiB" or an integer ≥ 1024, got "lots"',
    );
    expect(r.stderr).toContain('db.synchronous');
    expect(r.stderr).toContain('"SOMETIMES"');
    expect(r.stderr).toContain('batch.maxBatchh');
    expect(r.stderr).toContain('subscribe.qos: expected a QoS of 0, 1 or 2, got 7');
    expect(r.stderr).toContain('subscribe.template');
  });

  it('refuses a share group with the embedded broker before starting, exit 2', async () => {
    const dir = tmp();
    const r = await runCli(['run', '--share-group', 'ingest', '--db', join(dir, 'x.db'), '--http', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'subscribe.shareGroup: expected no share group with the embedded broker (aedes has no shared subscriptions)',
    );
    expect(r.stderr).toContain('"ingest"');
    const env = await runCli(['check-config', '--broker', 'mqtt://127.0.0.1:1883'], {
      MQLITE_SHARE_GROUP: 'a/b',
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain(
      'subscribe.shareGroup: expected a group name without "/", "+", "#" (e.g. "mqlite"), got "a/b"',
    );
  });

  it('exits 2 on an unknown flag', async () => {
    const r = await runCli(['--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });

  it('check-config prints the effective config with secrets redacted', async () => {
    const dir = tmp();
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'broker:\n  url: mqtt://ingest:urlpass@broker.example:1883\n  username: ingest\n');
    const r = await runCli(['check-config', '--config', file, '--db', join(dir, 'x.db')], {
      MQLITE_PASSWORD: 'hunter2',
    });
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as {
      broker: { url: string; password: string; username: string };
      db: { path: string };
    };
    expect(printed.broker.password).toBe('***');
    expect(printed.broker.username).toBe('ingest');
    expect(printed.broker.url).toBe('mqtt://ingest:***@broker.example:1883');
    expect(printed.db.path).toBe(join(dir, 'x.db'));
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).not.toContain('urlpass');
  });

  it('says in one line that the embedded port is taken and how to proceed, exit 1', async () => {
    const port = await occupiedPort();
    const dir = tmp();
    const r = await runCli([
      '--listen',
      `127.0.0.1:${port}`,
      '--db',
      join(dir, 'm.db'),
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port} is already in use`);
    expect(r.stderr).toContain(`--broker mqtt://127.0.0.1:${port}`);
    expect(r.stderr).toContain('--listen');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 1 naming the database path when it cannot be opened', async () => {
    const dir = tmp();
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const bad = join(file, 'sub', 'm.db');
    const r = await runCli([
      '--db',
      bad,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(bad);
  });

  it('exits 1 naming the path when the database file is corrupt', async () => {
    const dir = tmp();
    const db = join(dir, 'corrupt.db');
    writeFileSync(db, Buffer.alloc(8192, 0x5a));
    const r = await runCli([
      '--db',
      db,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(db);
  });
});
