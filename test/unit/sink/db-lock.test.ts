import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbLock, isStale, type LockHolder } from '../../../src/sink/db-lock.js';
import { tmpDir } from '../../helpers/tmp.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function dbPath(): string {
  const t = tmpDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'm.db');
}

const me: LockHolder = { pid: process.pid, host: 'here', since: 't0', procStart: '100', bootId: 'boot-1' };

describe('DbLock', () => {
  it('writes who holds it, refuses a second holder naming the first, and is gone after release', () => {
    const db = dbPath();
    const lock = DbLock.acquire(db);
    const held = JSON.parse(readFileSync(`${db}.lock`, 'utf8')) as LockHolder;
    expect(held.pid).toBe(process.pid);
    expect(held.host).toBe(hostname());
    expect(() => DbLock.acquire(db)).toThrow(expect.objectContaining({ code: 'MQLITE_DB_LOCKED' }));
    expect(() => DbLock.acquire(db)).toThrow(`pid ${process.pid} on ${hostname()}`);
    lock.release();
    lock.release();
    expect(existsSync(`${db}.lock`)).toBe(false);
    DbLock.acquire(db).release();
  });

  it('takes over the lock of a process that is gone', () => {
    const db = dbPath();
    // pid 2^22 + 1 is above Linux's pid_max limit, so no process has it.
    writeFileSync(`${db}.lock`, JSON.stringify({ pid: 4_194_305, host: hostname(), since: 'yesterday' }));
    const lock = DbLock.acquire(db);
    expect((JSON.parse(readFileSync(`${db}.lock`, 'utf8')) as LockHolder).pid).toBe(process.pid);
    lock.release();
  });
});

describe('isStale', () => {
  it('same host: alive while the pid runs with the same start time; stale after a reboot', () => {
    expect(isStale({ ...me, pid: process.ppid, procStart: undefined as never }, 0, me)).toBe(false);
    expect(isStale({ ...me, pid: 4_194_305 }, 0, me)).toBe(true);
    expect(isStale({ ...me, pid: process.ppid, bootId: 'boot-0' }, 0, me)).toBe(true);
    // Our own pid with another start time: a previous process whose pid we got again.
    expect(isStale({ ...me, procStart: '99' }, 0, me)).toBe(true);
  });

  it('another host: alive while its heartbeat is fresh (30 s)', () => {
    const other = { ...me, host: 'elsewhere' };
    expect(isStale(other, 5_000, me)).toBe(false);
    expect(isStale(other, 31_000, me)).toBe(true);
  });
});
