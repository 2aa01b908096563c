/**
 * The first hour of a new user, run against the real CLI: a taken port is reported first and
 * leaves no files behind, hints are written the way the daemon was started (through npm or
 * not), `--help` shows the run flags, the start line names the client id and topics, a clean
 * stop is not a warning, a second daemon on the same database refuses to start naming the first
 * (and a kill -9 does not leave it locked out), a session taken over by another client says so,
 * and hash-password prompts on a terminal without echoing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPasswordHash, verifyPassword } from '../../src/broker/password.js';
import { logsWithMsg } from '../helpers/daemon-fixture.js';
import { CLI, type DaemonProcess, runCli, startDaemon } from '../helpers/daemon-process.js';
import { holdPort } from '../helpers/free-port.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => unknown)[] = [];
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

async function daemon(args: string[], env: Record<string, string> = {}): Promise<DaemonProcess> {
  const d = await startDaemon([...args, '--http', '127.0.0.1:0'], env);
  cleanups.push(() => d.kill9());
  return d;
}

/** Log lines at WARN (40) or above. */
function warnings(d: DaemonProcess): Record<string, unknown>[] {
  return d.logs.filter((l) => typeof l.level === 'number' && l.level >= 40);
}

describe('the first hour', () => {
  it('a taken port is the first thing said, and no database or folder is created', async () => {
    const port = await occupiedPort();
    const dir = tmp();
    const db = join(dir, 'data', 'm.db');
    const r = await runCli(['--listen', `127.0.0.1:${port}`, '--db', db, '--http', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `mqlite: MQLITE_PORT_IN_USE: 127.0.0.1:${port} is already in use (another MQTT broker is probably ` +
        `running there). Connect to it instead with --broker mqtt://127.0.0.1:${port}, or run the ` +
        `embedded broker elsewhere with --listen 127.0.0.1:<another port>\n`,
    );
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('through npm start the hint says npm start -- --broker, since npm swallows a bare --broker', async () => {
    const port = await occupiedPort();
    const dir = tmp();
    const args = ['--listen', `127.0.0.1:${port}`, '--db', join(dir, 'm.db'), '--http', '127.0.0.1:0'];
    const r = await runCli(args, { npm_lifecycle_event: 'start' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`npm start -- --broker mqtt://127.0.0.1:${port}`);
    expect(r.stderr).toContain('npm start -- --listen 127.0.0.1:<another port>');
    const http = await occupiedPort();
    const h = await runCli(
      ['--listen', '127.0.0.1:0', '--db', join(dir, 'm.db'), '--http', `127.0.0.1:${http}`],
      {
        npm_lifecycle_event: 'start',
      },
    );
    expect(h.code).toBe(1);
    expect(h.stderr).toContain(
      `MQLITE_PORT_IN_USE: 127.0.0.1:${http} (metrics and health) is already in use`,
    );
    expect(h.stderr).toContain('npm start -- --http HOST:PORT');
  });

  it('mqlite --help lists the commands and the run flags', async () => {
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    for (const text of [
      'check-config',
      'hash-password',
      '--broker <url>',
      '--listen',
      '--db',
      '--topic',
      '--http',
    ]) {
      expect(h.stdout).toContain(text);
    }
  });

  it('subscriber: the start line names client id and topics; SIGTERM logs no warning', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const dir = tmp();
    const d = await daemon([
      '--broker',
      mosquitto.url,
      '--db',
      join(dir, 'm.db'),
      '--client-id',
      'first-hour-1',
      '--topic',
      'zigbee2mqtt/#',
      '--topic',
      'tele/#',
    ]);
    const started = logsWithMsg(d, 'mqlite started')[0];
    expect(started?.clientId).toBe('first-hour-1');
    expect(started?.topics).toEqual(['zigbee2mqtt/#', 'tele/#']);
    await waitFor(async () => (await d.readyz()).status === 200, 'ready');
    expect(await d.stop()).toBe(0);
    expect(warnings(d)).toEqual([]);
    expect(logsWithMsg(d, 'disconnected from broker')).toHaveLength(1);
  });

  it('a second daemon on the same database refuses to start, naming the first; kill -9 does not lock it out', async () => {
    const dir = tmp();
    const db = join(dir, 'm.db');
    const first = await daemon(['--listen', '127.0.0.1:0', '--db', db]);
    const second = await runCli(['--listen', '127.0.0.1:0', '--db', db, '--http', '127.0.0.1:0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`mqlite: MQLITE_DB_LOCKED: ${db} is in use by another mqlite`);
    expect(second.stderr).toContain(`pid ${first.proc.pid}`);
    await first.kill9();
    const third = await daemon(['--listen', '127.0.0.1:0', '--db', db]);
    expect(await third.stop()).toBe(0);
    expect(existsSync(`${db}.lock`)).toBe(false);
  });

  it('a session taken over by another client with the same id is logged as such', async () => {
    const mosquitto = await startMosquitto();
    cleanups.push(() => mosquitto.stop());
    const args = (db: string) => ['--broker', mosquitto.url, '--db', db, '--client-id', 'same-id'];
    const a = await daemon(args(join(tmp(), 'a.db')));
    await waitFor(async () => (await a.readyz()).status === 200, 'first ready');
    await daemon(args(join(tmp(), 'b.db')));
    const line = await waitFor(
      () => a.logs.find((l) => String(l.msg).startsWith('session taken over')),
      'a "session taken over" line from the first daemon',
    );
    expect(line?.clientId).toBe('same-id');
  });

  it('hash-password on a terminal prompts on stderr, twice, and does not echo', () => {
    // A pseudo-terminal from python3's pty module (the suite needs python3 anyway).
    const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], 'hash-password'])
out = b''
def until(marker):
    global out
    while marker not in out:
        chunk = os.read(fd, 1024)
        if not chunk: raise SystemExit('eof before ' + marker.decode())
        out += chunk
until(b'Password: ')
os.write(fd, b'correct horse\\r')
until(b'Again: ')
os.write(fd, b'correct horse\\r')
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk: break
        out += chunk
except OSError:
    pass
os.waitpid(pid, 0)
sys.stdout.write(out.decode())
`;
    const r = spawnSync('python3', ['-c', script, process.execPath, CLI], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Password: ');
    expect(r.stdout).toContain('Again: ');
    expect(r.stdout).not.toContain('correct horse');
    const hash = r.stdout.split(/\r?\n/).find((l) => isPasswordHash(l));
    expect(hash, r.stdout).toBeDefined();
    expect(verifyPassword('correct horse', hash ?? '')).toBe(true);
  });
});
