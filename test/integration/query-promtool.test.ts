/**
 * The query API as Prometheus's own client sees it: a daemon fed over MQTT with real device
 * payloads (zigbee2mqtt with last_seen, Tasmota tele/…/SENSOR) timestamped over the last 8 hours,
 * then `promtool query instant|range|series|labels` and `promtool check metrics`, every answer
 * checked against SQL on the same file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DaemonProcess, runCli, startDaemon } from '../helpers/daemon-process.js';
import { promtool, promtoolJson } from '../helpers/promtool.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const STEPS = 120;
const GAP = 4 * MIN;
// Readings 30 s past every 4th minute: none on a 5-minute or hour edge, so the rollup answers
// and Prometheus's left-open windows agree and SQL can state both.
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 8 * HOUR + 30_000;
const ZIGBEE = ['kitchen', 'hall'];
const PLUG = 'plug_1';

function zigbee(i: number, d: number): string {
  return JSON.stringify({
    battery: 97 - (i % 3),
    humidity: 40 + d * 5 + (i % 7) * 0.5,
    linkquality: 100 + ((i * 7) % 50),
    temperature: 19 + d + ((i * 13) % 20) / 10,
    voltage: 2900 + i,
    last_seen: new Date(BASE + i * GAP).toISOString(),
  });
}

function tasmota(i: number): string {
  return JSON.stringify({
    Time: new Date(BASE + i * GAP).toISOString().slice(0, 19),
    ENERGY: {
      TotalStartTime: '2026-01-01T00:00:00',
      Total: 100 + i * 0.01,
      Yesterday: 1.2,
      Today: (i % 30) * 0.01,
      Power: 40 + (i % 11),
      ApparentPower: 50,
      ReactivePower: 20,
      Factor: 0.8,
      Voltage: 230,
      Current: 0.2,
    },
  });
}

type Vector = { metric: Record<string, string>; value: [number, string] }[];
type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

describe('promtool against mqlite', () => {
  let tmp: ReturnType<typeof tmpDir>;
  let daemon: DaemonProcess;
  let url: string;
  let db: Database.Database;
  let dbPath: string;

  beforeAll(async () => {
    tmp = tmpDir();
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(
      config,
      [
        'subscribe:',
        '  formats:',
        '    - { filter: "zigbee2mqtt/#", tsField: last_seen, tsUnit: iso }',
        '    - { filter: "tele/+/SENSOR", tsField: Time, tsUnit: iso }',
        'exposition:',
        '  enabled: true',
        `  staleAfterMs: ${9 * HOUR}`,
      ].join('\n'),
    );
    dbPath = join(tmp.dir, 'q.db');
    daemon = await startDaemon([
      '--config',
      config,
      '--db',
      dbPath,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
    ]);
    url = `http://127.0.0.1:${daemon.http!.port}`;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${daemon.broker!.port}`, {
      clientId: 'query-test',
    });
    for (let i = 0; i < STEPS; i++) {
      for (const [d, name] of ZIGBEE.entries())
        await client.publishAsync(`zigbee2mqtt/${name}`, zigbee(i, d), { qos: 1 });
      await client.publishAsync(`tele/${PLUG}/SENSOR`, tasmota(i), { qos: 1 });
    }
    await client.endAsync();
    db = new Database(dbPath, { readonly: true });
    await waitFor(
      () => (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n === STEPS * 3,
      'every message stored',
    );
  }, 120_000);

  afterAll(async () => {
    db?.close();
    await daemon?.stop();
    tmp?.cleanup();
  });

  const sqlValue = (sql: string, ...args: unknown[]): number | null =>
    (db.prepare(sql).get(...args) as { v: number | null } | undefined)?.v ?? null;

  it('instant: a selector answers the last reading of the 5-minute lookback', async () => {
    const t = BASE + 60 * GAP + 2 * MIN;
    const r = await promtoolJson<Vector>(['query', 'instant', url, 'temperature', `--time=${t / 1000}`]);
    expect(r.map((s) => s.metric.device).sort()).toEqual([...ZIGBEE].sort());
    for (const s of r) {
      const want = sqlValue(
        `SELECT value AS v FROM readings WHERE device = ? AND metric = 'temperature' AND ts > ? AND ts <= ?
          ORDER BY ts DESC LIMIT 1`,
        s.metric.device,
        t - 5 * MIN,
        t,
      );
      expect(Number(s.value[1])).toBe(want);
      expect(s.value[0]).toBe(t / 1000);
    }
  });

  it('instant: avg_over_time and a mapped name (ENERGY.Total → energy_total)', async () => {
    const t = BASE + 90 * GAP;
    const r = await promtoolJson<Vector>([
      'query',
      'instant',
      url,
      `avg_over_time(energy_total{device="${PLUG}"}[30m])`,
      `--time=${t / 1000}`,
    ]);
    expect(r).toHaveLength(1);
    expect(r[0]?.metric).toEqual({ device: PLUG, mqlite_metric: 'ENERGY.Total' });
    const want = sqlValue(
      `SELECT avg(value) AS v FROM readings WHERE device = ? AND metric = 'ENERGY.Total' AND ts > ? AND ts <= ?`,
      PLUG,
      t - 30 * MIN,
      t,
    );
    expect(Number(r[0]?.value[1])).toBeCloseTo(want as number, 9);
  });

  it('range: raw steps and hour-aligned steps from the rollups agree with SQL', async () => {
    const cases = [
      // 90 minutes at 1 min: raw readings.
      {
        q: 'max_over_time(energy_power{device="plug_1"}[10m])',
        metric: 'ENERGY.Power',
        fn: 'max',
        range: 10 * MIN,
        resolution: 'raw',
        start: BASE + 40 * GAP,
        end: BASE + 40 * GAP + 90 * MIN,
        step: MIN,
      },
      // 7 hours at 1 h, hour-aligned: 1 h rollups.
      {
        q: 'avg_over_time(temperature{device="kitchen"}[1h])',
        metric: 'temperature',
        fn: 'avg',
        range: HOUR,
        resolution: '1h',
        start: BASE - 30_000 + HOUR,
        end: BASE - 30_000 + 8 * HOUR,
        step: HOUR,
      },
      // 7 hours at 15 min: 5 min rollups.
      {
        q: 'count_over_time(humidity{device="hall"}[15m])',
        metric: 'humidity',
        fn: 'count',
        range: 15 * MIN,
        resolution: '5m',
        start: BASE - 30_000 + HOUR,
        end: BASE - 30_000 + 8 * HOUR,
        step: 15 * MIN,
      },
    ];
    for (const c of cases) {
      const params = new URLSearchParams({
        query: c.q,
        start: String(c.start / 1000),
        end: String(c.end / 1000),
        step: String(c.step / 1000),
      });
      const res = await fetch(`${url}/api/v1/query_range?${params}`);
      expect(res.headers.get('mqlite-resolution'), c.q).toBe(c.resolution);
      const r = await promtoolJson<Matrix>([
        'query',
        'range',
        url,
        c.q,
        `--start=${c.start / 1000}`,
        `--end=${c.end / 1000}`,
        `--step=${c.step / 1000}s`,
      ]);
      expect(r, c.q).toHaveLength(1);
      const device = r[0]?.metric.device;
      const got = new Map((r[0]?.values ?? []).map(([t, v]) => [Math.round(t * 1000), Number(v)]));
      let compared = 0;
      for (let t = c.start; t <= c.end; t += c.step) {
        const want = sqlValue(
          `SELECT ${c.fn}(value) AS v FROM readings WHERE device = ? AND metric = ? AND ts > ? AND ts <= ?`,
          device,
          c.metric,
          t - c.range,
          t,
        );
        if (want === null || (c.fn === 'count' && want === 0)) expect(got.has(t), `${c.q} @${t}`).toBe(false);
        else {
          expect(got.get(t), `${c.q} @${t}`).toBeCloseTo(want, 9);
          compared++;
        }
      }
      expect(compared, c.q).toBeGreaterThan(5);
    }
  });

  it('range: sum by (device) over series of one name', async () => {
    const t0 = BASE + 10 * GAP;
    const r = await promtoolJson<Matrix>([
      'query',
      'range',
      url,
      'sum by (device) (humidity)',
      `--start=${t0 / 1000}`,
      `--end=${(t0 + 20 * MIN) / 1000}`,
      '--step=60s',
    ]);
    expect(r.map((s) => s.metric)).toEqual(
      ZIGBEE.map((device) => ({ device })).sort((a, b) => (a.device < b.device ? -1 : 1)),
    );
    for (const s of r) {
      for (const [t, v] of s.values) {
        const want = sqlValue(
          `SELECT value AS v FROM readings WHERE device = ? AND metric = 'humidity' AND ts > ? AND ts <= ? ORDER BY ts DESC LIMIT 1`,
          s.metric.device,
          t * 1000 - 5 * MIN,
          t * 1000,
        );
        expect(Number(v)).toBe(want);
      }
    }
  });

  it('series, labels and label values list what SQL lists', async () => {
    const pairs = db
      .prepare('SELECT DISTINCT device, metric FROM readings WHERE device = ? ORDER BY metric')
      .all(PLUG) as {
      device: string;
      metric: string;
    }[];
    const series = await promtoolJson<Record<string, string>[]>([
      'query',
      'series',
      url,
      `--match={device="${PLUG}"}`,
    ]);
    expect(series.map((s) => s.mqlite_metric ?? s.__name__).sort()).toEqual(
      pairs.map((p) => p.metric).sort(),
    );
    expect(series.find((s) => s.mqlite_metric === 'ENERGY.ApparentPower')?.__name__).toBe(
      'energy_apparent_power',
    );

    const devices = (
      db.prepare('SELECT DISTINCT device FROM readings ORDER BY device').all() as { device: string }[]
    ).map((r) => r.device);
    const r = await promtool(['query', 'labels', url, 'device']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(devices);
  });

  it('answers errors in Prometheus shape with a status promtool reports', async () => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('temperature / humidity')}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      status: 'error',
      errorType: 'bad_data',
      error: expect.stringMatching(/binary operator "\/" on vectors is not supported/),
    });
    const r = await promtool(['query', 'instant', url, 'histogram_quantile(0.9, x)']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad_data/);
  });

  it('exposes the latest readings for scraping, lint-clean for promtool check metrics', async () => {
    const text = await (await fetch(`${url}/readings/metrics`)).text();
    const check = await promtool(['check', 'metrics'], text);
    expect(check.stderr + check.stdout).toBe('');
    expect(check.code).toBe(0);
    const latest = db
      .prepare("SELECT value AS v FROM latest WHERE device = 'kitchen' AND metric = 'temperature'")
      .get() as {
      v: number;
    };
    expect(text).toContain(`\ntemperature{device="kitchen"} ${latest.v}\n`);
    expect(text).toContain(`energy_total{device="${PLUG}",mqlite_metric="ENERGY.Total"} `);
    expect(text).not.toMatch(/^mqlite_/m); // the daemon's own metrics stay on /metrics
  });

  it('mqlite export, while the daemon runs, writes what SQL reads (raw CSV, 1 h NDJSON)', async () => {
    const from = new Date(BASE).toISOString();
    const to = String((BASE + 8 * HOUR) / 1000);
    const raw = await runCli([
      'export',
      '--db',
      dbPath,
      '--device',
      'kitchen',
      '--metric',
      'temperature',
      '--from',
      from,
      '--to',
      to,
    ]);
    expect(raw.stderr).toBe('');
    expect(raw.code).toBe(0);
    const want = db
      .prepare(
        `SELECT ts, value FROM readings WHERE device = 'kitchen' AND metric = 'temperature' AND ts >= ? AND ts <= ? ORDER BY ts`,
      )
      .all(BASE, BASE + 8 * HOUR) as { ts: number; value: number }[];
    const lines = raw.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('time,ts,device,metric,name,value');
    expect(lines.slice(1)).toEqual(
      want.map((r) => `${new Date(r.ts).toISOString()},${r.ts},kitchen,temperature,temperature,${r.value}`),
    );

    const out = join(tmp.dir, 'plug.ndjson');
    const hourly = await runCli([
      'export',
      '--db',
      dbPath,
      '--device',
      PLUG,
      '--metric',
      'energy_total',
      '--resolution',
      '1h',
      '--format',
      'ndjson',
      '--from',
      '9h',
      '-o',
      out,
    ]);
    expect(hourly.code).toBe(0);
    const got = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const buckets = db
      .prepare(
        `SELECT ts, count, sum, max FROM readings_1h WHERE device = ? AND metric = 'ENERGY.Total' ORDER BY ts`,
      )
      .all(PLUG) as { ts: number; count: number; sum: number; max: number }[];
    expect(got.map((r) => [r.ts, r.count, r.sum, r.max, r.name, r.metric])).toEqual(
      buckets.map((b) => [b.ts, b.count, b.sum, b.max, 'energy_total', 'ENERGY.Total']),
    );
  });

  it("the Grafana readings dashboard's variables and panels answer from the live API", async () => {
    const dash = JSON.parse(readFileSync('deploy/grafana/readings/mqlite-readings.json', 'utf8')) as {
      templating: { list: { name: string; definition?: string }[] };
      panels: { title: string; interval?: string; targets: { expr: string; instant?: boolean }[] }[];
    };
    const vars = (q: string) =>
      q.replaceAll('$device', '.+').replaceAll('$metric', 'temperature').replaceAll('$__interval', '5m');
    const get = async (path: string, params: Record<string, string>) => {
      const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: unknown };
      expect(body.status, `${path} ${JSON.stringify(params)}`).toBe('success');
      return body.data;
    };
    for (const v of dash.templating.list) {
      if (!v.definition) continue;
      const m = /^label_values\((?:(.+), )?(\w+)\)$/.exec(vars(v.definition));
      expect(m, v.definition).not.toBeNull();
      const values = (await get(
        `/api/v1/label/${m?.[2]}/values`,
        m?.[1] ? { 'match[]': m[1] } : {},
      )) as string[];
      expect(values, v.name).toContain(v.name === 'device' ? 'kitchen' : 'temperature');
    }
    const end = Math.floor((BASE + 8 * HOUR) / HOUR) * HOUR;
    let queries = 0;
    for (const panel of dash.panels) {
      for (const t of panel.targets) {
        const query = vars(t.expr);
        // Grafana aligns start and end on the step; the step follows the panel's interval.
        const step = panel.interval === '1h' ? 3600 : 300;
        const data = (
          t.instant
            ? await get('/api/v1/query', { query, time: String(end / 1000) })
            : await get('/api/v1/query_range', {
                query,
                start: String(end / 1000 - 7 * 3600),
                end: String(end / 1000),
                step: String(step),
              })
        ) as { result: unknown[] };
        expect(data.result.length, `${panel.title}: ${query}`).toBeGreaterThan(0);
        queries++;
      }
    }
    expect(queries).toBe(5);
  });
});
