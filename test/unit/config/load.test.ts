import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redact } from '../../../src/config/index.js';
import { hashPassword } from '../../../src/broker/password.js';
import { stageValidators } from '../../../src/daemon-checks.js';
import { ConfigError } from '../../../src/lib/errors.js';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-config-'));
  const f = join(dir, 'mqlite.yaml');
  writeFileSync(f, text);
  return f;
}

function problemsOf(fn: () => unknown): { key: string; value: unknown; expected: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives the documented defaults with nothing configured', () => {
    const c = loadConfig({ env: {}, flags: {} });
    expect(c.broker.url).toBeUndefined();
    expect(c.embedded.listen).toBe('127.0.0.1:1883');
    expect(c.db.path).toBe('./data/mqlite.db');
    expect(c.db.synchronous).toBe('FULL');
    expect(c.subscribe).toMatchObject({ topics: ['#'], qos: 1, template: '+/{device}/#' });
    expect(c.http.listen).toBe('127.0.0.1:9464');
    expect(c.log.level).toBe('info');
    expect(c.limits.maxPayloadBytes).toBe(256 * 1024);
    expect(Object.isFrozen(c.broker)).toBe(true);
  });

  it('applies precedence flags > environment > file > defaults', () => {
    const file = yamlFile(
      'db:\n  path: /from/file.db\nsubscribe:\n  qos: 0\n  template: "a/{device}"\nlog:\n  level: debug\n',
    );
    const c = loadConfig({
      file,
      env: { MQLITE_DB: '/from/env.db', MQLITE_QOS: '2' },
      flags: { db: '/from/flag.db' },
    });
    expect(c.db.path).toBe('/from/flag.db');
    expect(c.subscribe.qos).toBe(2);
    expect(c.subscribe.template).toBe('a/{device}');
    expect(c.log.level).toBe('debug');
  });

  it('takes repeated --topic flags and a comma-separated MQLITE_TOPIC', () => {
    expect(loadConfig({ env: {}, flags: { topic: ['a/#', 'b/+'] } }).subscribe.topics).toEqual([
      'a/#',
      'b/+',
    ]);
    expect(loadConfig({ env: { MQLITE_TOPIC: 'x/#, y/#' }, flags: {} }).subscribe.topics).toEqual([
      'x/#',
      'y/#',
    ]);
  });

  it('parses sizes with units', () => {
    const c = loadConfig({
      file: yamlFile('queue:\n  maxBytes: 8MiB\nlimits:\n  maxPayloadBytes: 64KB\n'),
      env: {},
      flags: {},
    });
    expect(c.queue.maxBytes).toBe(8 * 1024 * 1024);
    expect(c.limits.maxPayloadBytes).toBe(64_000);
  });

  it('lists every problem at once, each with key, value as given and what was expected', () => {
    const file = yamlFile(
      'queue:\n  maxBytes: lots\ndb:\n  synchronous: SOMETIMES\nbatch:\n  maxBatchh: 10\n',
    );
    const problems = problemsOf(() =>
      loadConfig({ file, env: { MQLITE_QOS: '7' }, flags: { broker: 'http://x', http: 'nowhere' } }),
    );
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p]));
    expect(Object.keys(byKey).sort()).toEqual(
      [
        'batch.maxBatchh',
        'broker.url',
        'db.synchronous',
        'http.listen',
        'queue.maxBytes',
        'subscribe.qos',
      ].sort(),
    );
    expect(byKey['queue.maxBytes']).toMatchObject({ value: 'lots' });
    expect(byKey['queue.maxBytes']?.expected).toMatch(/size like "64MiB"/);
    expect(byKey['broker.url']).toMatchObject({ value: 'http://x' });
    expect(byKey['broker.url']?.expected).toMatch(/mqtt:\/\//);
    expect(byKey['db.synchronous']?.value).toBe('SOMETIMES');
    expect(byKey['db.synchronous']?.expected).toMatch(/FULL/);
    expect(byKey['subscribe.qos']?.value).toBe(7);
    expect(byKey['http.listen']?.value).toBe('nowhere');
  });

  it('refuses a network listener for the embedded broker without credentials', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, flags: { listen: '0.0.0.0:1883' } }));
    expect(problems).toEqual([
      expect.objectContaining({
        key: 'embedded.listen',
        value: '0.0.0.0:1883',
        expected: expect.stringMatching(/allowAnonymous/),
      }),
    ]);
    const ok = loadConfig({
      file: yamlFile('embedded:\n  allowAnonymous: true\n'),
      env: {},
      flags: { listen: '0.0.0.0:1883' },
    });
    expect(ok.embedded.listen).toBe('0.0.0.0:1883');
  });

  it('refuses an embedded user whose hash is not one hash-password makes, without echoing it', () => {
    const file = yamlFile('embedded:\n  users:\n    - username: dev\n      passwordHash: plaintext\n');
    const problems = problemsOf(() => loadConfig({ file, env: {}, flags: {}, validators: stageValidators }));
    expect(problems).toEqual([
      expect.objectContaining({ key: 'embedded.users.0.passwordHash', value: '(redacted)' }),
    ]);
    const good = `embedded:\n  users:\n    - username: dev\n      passwordHash: "${hashPassword('pw')}"\n`;
    expect(
      loadConfig({ file: yamlFile(good), env: {}, flags: {}, validators: stageValidators }).embedded.users,
    ).toHaveLength(1);
  });

  it('names an unreadable TLS file', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { MQLITE_TLS_CA: '/nonexistent/ca.pem' }, flags: { broker: 'mqtts://h:8883' } }),
    );
    expect(problems).toEqual([
      expect.objectContaining({ key: 'broker.tls.ca', value: '/nonexistent/ca.pem' }),
    ]);
  });

  it('reports a file that is not YAML as a problem with --config', () => {
    const problems = problemsOf(() => loadConfig({ file: yamlFile('a: [1, 2\n'), env: {}, flags: {} }));
    expect(problems[0]?.key).toBe('--config');
  });

  it('refuses a generated client id while the session is persistent', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, flags: { clientId: 'mqttjs_3f2a9c1b' } }));
    expect(problems).toEqual([expect.objectContaining({ key: 'broker.clientId', value: 'mqttjs_3f2a9c1b' })]);
    const clean = loadConfig({
      file: yamlFile('broker:\n  cleanSession: true\n'),
      env: {},
      flags: { clientId: 'mqttjs_3f2a9c1b' },
    });
    expect(clean.broker.clientId).toBe('mqttjs_3f2a9c1b');
    expect(loadConfig({ env: {}, flags: { clientId: 'gateway-7' } }).broker.clientId).toBe('gateway-7');
  });

  it('derives a stable client id that differs per database', () => {
    const a1 = loadConfig({ env: {}, flags: { db: '/tmp/a.db' } }).broker.clientId;
    const a2 = loadConfig({ env: {}, flags: { db: '/tmp/a.db' } }).broker.clientId;
    const b = loadConfig({ env: {}, flags: { db: '/tmp/b.db' } }).broker.clientId;
    expect(a1).toMatch(/^mqlite-/);
    expect(a1).toBe(a2);
    expect(a1).not.toBe(b);
  });
});

describe('redact', () => {
  it('hides the broker password, passwords in the URL and user hashes', () => {
    const c = loadConfig({
      file: yamlFile('embedded:\n  users:\n    - username: dev\n      passwordHash: "scrypt:00ff:abcd"\n'),
      env: { MQLITE_PASSWORD: 's3cret', MQLITE_USERNAME: 'me' },
      flags: { broker: 'mqtt://me:urlsecret@broker:1883' },
    });
    const text = JSON.stringify(redact(c));
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('urlsecret');
    expect(text).not.toContain('abcd');
    expect(text).toContain('"username":"me"');
    expect(text).toContain('broker:1883');
  });
});

describe('config/mqlite.example.yaml', () => {
  it('loads and states exactly the defaults', () => {
    const example = loadConfig({ file: 'config/mqlite.example.yaml', env: {}, flags: {} });
    expect(example).toEqual(loadConfig({ env: {}, flags: {} }));
  });
});
