import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbFileIdentity } from '../../../src/sink/db-file-identity.js';
import { tmpDir } from '../../helpers/tmp.js';

describe('DbFileIdentity', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  function files(): string {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, 'x.db');
    writeFileSync(path, 'db');
    return path;
  }

  it('is quiet while the files stay, and records a -wal that appears later', () => {
    const path = files();
    const id = DbFileIdentity.capture(path);
    expect(id.check()).toBeUndefined();
    writeFileSync(`${path}-wal`, 'wal');
    expect(id.check()).toBeUndefined();
    writeFileSync(`${path}-wal`, 'rewritten in place'); // same inode
    expect(id.check()).toBeUndefined();
  });

  it('reports a deleted database or -wal', () => {
    const path = files();
    writeFileSync(`${path}-wal`, 'wal');
    const id = DbFileIdentity.capture(path);
    rmSync(`${path}-wal`);
    expect(id.check()).toMatch(/x\.db-wal was deleted/);
    rmSync(path);
    expect(id.check()).toMatch(/x\.db was deleted/);
  });

  it('reports a file replaced at the path', () => {
    const path = files();
    const id = DbFileIdentity.capture(path);
    writeFileSync(`${path}.new`, 'other');
    renameSync(`${path}.new`, path);
    expect(id.check()).toMatch(/replaced or moved/);
  });

  it('reports a folder that is gone as a file that cannot be checked or was deleted', () => {
    const tmp = tmpDir();
    const path = join(tmp.dir, 'x.db');
    writeFileSync(path, 'db');
    const id = DbFileIdentity.capture(path);
    tmp.cleanup();
    expect(id.check()).toMatch(/deleted|cannot be checked/);
  });
});
