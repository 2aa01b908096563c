import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redact } from '../../../src/config/index.js';
import { forwardInit } from '../../../src/daemon-forward.js';

function fromYaml(yaml: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-fwd-cfg-'));
  const file = join(dir, 'mqlite.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env, flags: {} });
}

describe('forward.postgres config', () => {
  it('is off until a url or a host is given', () => {
    expect(forwardInit(loadConfig({ env: {}, flags: {} }))).toBeUndefined();
    const c = loadConfig({ env: { MQLITE_FORWARD_POSTGRES_URL: 'postgres://u@h/db' }, flags: {} });
    expect(forwardInit(c)?.connection.url).toBe('postgres://u@h/db');
    expect(forwardInit(fromYaml('forward: { postgres: { host: db1 } }'))?.connection).toMatchObject({
      host: 'db1',
      port: 5432,
      database: 'postgres',
    });
  });

  it('names the key, the value and what was expected', () => {
    expect(() =>
      fromYaml(
        'forward: { postgres: { url: "mysql://x", schema: "Bad-Name", batchBytes: "1KiB", method: fast } }',
      ),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /forward\.postgres\.url: expected a URL starting with postgres:\/\/[\s\S]*forward\.postgres\.schema: expected a lower-case SQL identifier[\s\S]*forward\.postgres\.batchBytes: expected a size like "16MiB"[\s\S]*forward\.postgres\.method/,
        ),
      }),
    );
  });

  it('refuses unreadable files and settings that contradict each other', () => {
    expect(() =>
      fromYaml(
        'forward: { postgres: { url: "postgres://h/db", host: h, passwordFile: /nonexistent/pw, password: x, tls: { ca: /nonexistent/ca.pem } } }',
      ),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /forward\.postgres\.tls\.ca: expected a readable file[\s\S]*forward\.postgres\.passwordFile: expected a readable file[\s\S]*forward\.postgres\.host: expected either url or host[\s\S]*forward\.postgres\.passwordFile: expected either password or passwordFile/,
        ),
      }),
    );
  });

  it('check-config shows no password: not the key, not the one in the URL', () => {
    const c = fromYaml('forward: { postgres: { url: "postgres://me:hunter2@db/x" } }', {
      MQLITE_FORWARD_POSTGRES_PASSWORD: 'sekrit',
    });
    expect(c.forward.postgres.password).toBe('sekrit');
    const shown = JSON.stringify(redact(c));
    expect(shown).not.toMatch(/hunter2|sekrit/);
    expect(shown).toContain('postgres://me:***@db/x');
  });
});
