import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientIdOnVolatileHost, loadConfig, redact } from '../../../src/config/index.js';
import { derivedClientId } from '../../../src/config/load.js';
import { hashPassword } from '../../../src/broker/password.js';
import { stageValidators } from '../../../src/daemon-checks.js';
import { ConfigError, HiddenValue } from '../../../src/lib/errors.js';

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

function messageOf(file: string): string {
  try {
    loadConfig({ file, env: {}, flags: {}, validators: stageValidators });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration errors echo no secret and no huge value', () => {
  it('never prints a secret, whatever its type, nor a misspelled secret key', () => {
    const text = messageOf(
      yamlFile(
        'broker:\n  username: me\n  password: 918273645\n  pasword: hunter2hunter2\nembedded:\n  apiToken: [tok3n]\n',
      ),
    );
    expect(text).toContain('broker.password: expected string, got a number (not shown: secret)');
    expect(text).toContain('broker.pasword');
    expect(text).toContain('embedded.apiToken');
    for (const secret of ['918273645', 'hunter2hunter2', 'tok3n']) expect(text).not.toContain(secret);
  });

  it('hides the password in a broker URL it refuses', () => {
    const text = messageOf(yamlFile('broker:\n  url: "http://me:urlsecret@broker:1883"\n'));
    expect(text).toContain('broker.url');
    expect(text).not.toContain('urlsecret');
  });

  it('shows 80 characters of a huge value and its size, not the value', () => {
    const huge = 'x'.repeat(500_000);
    const text = messageOf(yamlFile(`nonsense: ${huge}\ndb:\n  path: [${'1,'.repeat(1000)}1]\n`));
    expect(text).toContain(`nonsense: expected no such key`);
    expect(text).toContain(`"${'x'.repeat(80)}"… (500000 bytes)`);
    expect(text).toMatch(/db\.path: expected string, got \[1,1,.*… \(2003 characters\)/);
    expect(text.length).toBeLessThan(1000);
  });

  it('refuses a config file over 1 MiB before parsing it', () => {
    const text = messageOf(yamlFile(`nonsense: ${'x'.repeat(2 * 1024 * 1024)}\n`));
    expect(text).toMatch(/--config: expected a YAML file under 1048576 characters \(this one has 2097163\)/);
  });
});

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
      expect.objectContaining({ key: 'embedded.users.0.passwordHash', value: new HiddenValue('string') }),
    ]);
    expect(messageOf(file)).not.toContain('plaintext');
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

  it('takes a share group from the file, MQLITE_SHARE_GROUP or --share-group with an external broker', () => {
    const broker = { broker: 'mqtt://127.0.0.1:1883' };
    expect(loadConfig({ env: {}, flags: { ...broker, shareGroup: 'g1' } }).subscribe.shareGroup).toBe('g1');
    expect(loadConfig({ env: { MQLITE_SHARE_GROUP: 'g2' }, flags: broker }).subscribe.shareGroup).toBe('g2');
    const file = yamlFile('broker:\n  url: mqtt://b:1883\nsubscribe:\n  shareGroup: ingest\n');
    expect(loadConfig({ file, env: {}, flags: {} }).subscribe.shareGroup).toBe('ingest');
    expect(loadConfig({ env: {}, flags: broker }).subscribe.shareGroup).toBeUndefined();
  });

  it('refuses a share group name with "/", "+" or "#", naming key and value', () => {
    for (const bad of ['a/b', 'g+', '#', '']) {
      const problems = problemsOf(() =>
        loadConfig({ env: {}, flags: { broker: 'mqtt://127.0.0.1:1883', shareGroup: bad } }),
      );
      expect(problems).toEqual([
        {
          key: 'subscribe.shareGroup',
          value: bad,
          expected: bad === '' ? expect.any(String) : 'a group name without "/", "+", "#" (e.g. "mqlite")',
        },
      ]);
    }
  });

  it('refuses a share group with the embedded broker, saying what to do', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, flags: { shareGroup: 'ingest' } }));
    expect(problems).toEqual([
      {
        key: 'subscribe.shareGroup',
        value: 'ingest',
        expected: expect.stringContaining(
          'no share group with the embedded broker (aedes has no shared subscriptions)',
        ),
      },
    ]);
    expect(problems[0]?.expected).toContain('set broker.url');
  });

  it('refuses a $share/ topic, pointing to subscribe.shareGroup', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: {}, flags: { broker: 'mqtt://127.0.0.1:1883', topic: ['ok/#', '$share/g/tele/#'] } }),
    );
    expect(problems).toEqual([
      {
        key: 'subscribe.topics.1',
        value: '$share/g/tele/#',
        expected:
          "a plain topic filter; for a shared subscription set subscribe.shareGroup (e.g. topics: ['tele/#'] with shareGroup: g)",
      },
    ]);
  });

  it('flags a derived client id on a host name a recreated container loses, not a chosen one', () => {
    const subscriber = (flags: Record<string, string>) =>
      loadConfig({ env: {}, flags: { broker: 'mqtt://b:1883', db: '/tmp/a.db', ...flags } });
    const at = (host: string, flags: Record<string, string> = {}) => {
      const c = subscriber({ clientId: derivedClientId('/tmp/a.db', host), ...flags });
      return clientIdOnVolatileHost(c, host);
    };
    expect(at('3f4e5d6c7b8a')).toBe(true); // Docker's default: the container id
    expect(at('mqlite-7d9f8b6c4d-x2k9p')).toBe(true); // a Kubernetes Deployment's pod
    expect(at('gateway-7')).toBe(false);
    expect(at('mqlite-0')).toBe(false); // a StatefulSet's pod keeps its name
    expect(clientIdOnVolatileHost(subscriber({ clientId: 'mqlite-a' }), '3f4e5d6c7b8a')).toBe(false);
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
