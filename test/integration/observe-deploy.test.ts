/**
 * The shipped Grafana dashboard and Prometheus alerts must only use metrics mqlite really
 * exposes, and promtool must accept both the live /metrics and the rules. promtool comes
 * from Debian's `prometheus` package (.ci/run installs it); without it this test fails.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type DaemonProcess, metricValue, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  if (!PROMTOOL) {
    throw new Error(
      'promtool not found in /usr/bin or /usr/local/bin: install it with `apt-get install prometheus`',
    );
  }
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL, args, { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && code === -1) reject(err);
      else resolve({ code, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(stdin ?? '');
  });
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const METRIC_NAME = /\b((?:mqlite|process|nodejs)_[a-zA-Z0-9_]+)\b/g;

/** Every metric name in a PromQL expression that belongs to mqlite or its runtime. */
function namesIn(expr: string): string[] {
  return [...expr.matchAll(METRIC_NAME)].map((m) => m[1] as string);
}

function dashboardExprs(): { file: string; exprs: string[] }[] {
  const dir = `${root}deploy/grafana`;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const exprs: string[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            if ((k === 'expr' || k === 'definition') && typeof x === 'string') exprs.push(x);
            else walk(x);
          }
        }
      };
      walk(JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
      return { file: f, exprs };
    });
}

function alertExprs(): { alert: string; expr: string }[] {
  const doc = parse(readFileSync(`${root}deploy/prometheus/alerts.yml`, 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr) })));
}

describe('deploy/ against the live /metrics', () => {
  let daemon: DaemonProcess;
  let tmp: { dir: string; cleanup: () => void };
  let exposition: string;
  /** family name → type, from `# TYPE` lines. */
  const families = new Map<string, string>();

  beforeAll(async () => {
    // The real daemon, not a registry built for the test: what operators scrape.
    tmp = tmpDir();
    daemon = await startEmbeddedDaemon(join(tmp.dir, 'm.db'));
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${daemon.broker!.port}`, {
      clientId: 'observe-dev',
    });
    await device.publishAsync('devices/d1/telemetry', '{"temp":21.5}', { qos: 1 });
    // A dead letter, so labelled families print a sample (text is stored; broken JSON is not).
    await device.publishAsync('devices/d1/telemetry', '{"temp":', { qos: 1 });
    await device.endAsync();
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_dead_letters_total') === 1,
      'dead letter counted',
    );
    exposition = await get(daemon.http!.port, '/metrics');
    for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm))
      families.set(m[1] as string, m[2] as string);
  });

  afterAll(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  function exposed(name: string): boolean {
    if (families.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && ['histogram', 'summary'].includes(families.get(base) ?? '');
  }

  it('serves a non-trivial exposition', () => {
    expect(families.size).toBeGreaterThan(30);
    expect(families.get('mqlite_receive_to_commit_seconds')).toBe('histogram');
  });

  it('the Grafana dashboard uses only exposed metrics', () => {
    const dashboards = dashboardExprs();
    expect(dashboards.length).toBeGreaterThan(0);
    for (const d of dashboards) {
      const used = new Set(d.exprs.flatMap(namesIn));
      // The dashboard covers throughput, queue, latency, errors, storage and the runtime.
      for (const must of [
        'mqlite_messages_received_total',
        'mqlite_queue_capacity_messages',
        'mqlite_receive_to_commit_seconds_bucket',
        'mqlite_commit_duration_seconds_bucket',
        'mqlite_dead_letters_total',
        'mqlite_dropped_total',
        'mqlite_commit_errors_total',
        'mqlite_reconnects_total',
        'mqlite_wal_bytes',
        'nodejs_eventloop_lag_p99_seconds',
        'process_resident_memory_bytes',
      ]) {
        expect(used.has(must), `${d.file} shows ${must}`).toBe(true);
      }
      const missing = [...used].filter((n) => !exposed(n));
      expect(missing, `${d.file} uses metrics /metrics does not expose`).toEqual([]);
    }
  });

  it('the alerts use only exposed metrics', () => {
    const rules = alertExprs();
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'MqliteBrokerDroppedMessages',
      'MqliteCommitErrors',
      'MqliteDeadLettersRising',
      'MqliteDisconnected',
      'MqliteDiskBudgetCannotBeMet',
      'MqliteDown',
      'MqliteForwardingBehind',
      'MqliteNoCommits',
      'MqliteQueueAbove80Percent',
    ]);
    const used = new Set(rules.flatMap((r) => namesIn(r.expr)));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((n) => !exposed(n))).toEqual([]);
  });

  it('promtool check metrics accepts the live exposition', async () => {
    const r = await promtool(['check', 'metrics'], exposition);
    expect(r.out.split('\n').filter(Boolean)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('promtool check metrics is not a no-op (it rejects a metric without help)', async () => {
    const r = await promtool(['check', 'metrics'], 'mqlite_bad 1\n');
    expect(r.code).not.toBe(0);
  });

  it('promtool check rules accepts alerts.yml', async () => {
    const r = await promtool(['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(r.out).toContain('SUCCESS: 9 rules found');
    expect(r.code).toBe(0);
  });

  it('promtool test rules: each alert fires on the failure it names and not otherwise', async () => {
    const r = await promtool(['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('promtool check config accepts prometheus.yml', async () => {
    const r = await promtool(['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(r.code).toBe(0);
  });
});
