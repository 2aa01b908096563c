/**
 * Access to the query API on a network listener: refused at start without credentials (naming
 * the key), and with credentials only authenticated clients (basic auth, bearer token, promtool
 * with credentials in its server URL) read data while /healthz and /metrics stay open.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/broker/password.js';
import { type DaemonProcess, runCli, startDaemon } from '../helpers/daemon-process.js';
import { promtool } from '../helpers/promtool.js';
import { tmpDir } from '../helpers/tmp.js';

describe('query API access on a non-loopback listener', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let daemon: DaemonProcess;
  let url: string;

  beforeAll(async () => {
    tmp = tmpDir();
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(
      config,
      [
        'http:',
        '  users:',
        `    - { username: grafana, passwordHash: "${hashPassword('s3cret')}" }`,
        `  tokenHashes: ["${hashPassword('tok-123')}"]`,
        'exposition:',
        '  enabled: true',
      ].join('\n'),
    );
    daemon = await startDaemon([
      '--config',
      config,
      '--db',
      join(tmp.dir, 'a.db'),
      '--listen',
      '127.0.0.1:0',
      '--http',
      '0.0.0.0:0',
    ]);
    url = `http://127.0.0.1:${daemon.http!.port}`;
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('refuses to start without credentials, naming http.listen', async () => {
    const r = await runCli(['check-config', '--http', '0.0.0.0:9464', '--db', join(tmp.dir, 'b.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/http\.listen: expected a loopback address, or credentials for the query API/);
  });

  it('answers 401 without credentials, data with basic auth or a bearer token', async () => {
    for (const path of ['/api/v1/labels', '/api/v1/query?query=temperature', '/readings/metrics']) {
      const anon = await fetch(url + path);
      expect(anon.status, path).toBe(401);
      expect(anon.headers.get('www-authenticate')).toMatch(/^Basic/);
      const wrong = await fetch(url + path, {
        headers: { authorization: `Basic ${Buffer.from('grafana:nope').toString('base64')}` },
      });
      expect(wrong.status, path).toBe(401);
      const good = await fetch(url + path, {
        headers: { authorization: `Basic ${Buffer.from('grafana:s3cret').toString('base64')}` },
      });
      expect(good.status, path).toBe(200);
      const bearer = await fetch(url + path, { headers: { authorization: 'Bearer tok-123' } });
      expect(bearer.status, path).toBe(200);
    }
  });

  it('keeps /healthz and /metrics open', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('serves promtool with basic auth (credentials in the server URL)', async () => {
    const anon = await promtool(['query', 'labels', url, 'device']);
    expect(anon.code).not.toBe(0);
    const withUser = url.replace('http://', 'http://grafana:s3cret@');
    const r = await promtool(['query', 'labels', withUser, '__name__']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
