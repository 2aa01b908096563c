/**
 * The status page in a real browser (Debian's Chromium through playwright-core) against the
 * compiled daemon, with zigbee2mqtt and Tasmota devices publishing their real payload shapes.
 * Screenshots go to test-artifacts/ (git-ignored) for a person to look at.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/broker/password.js';
import { launchChromium } from '../helpers/browser.js';
import { startDaemon } from '../helpers/daemon-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
/** The first view's weight the issue sets: an edge gateway may be reached over a slow link. */
const FIRST_VIEW_MAX_BYTES = 100 * 1024;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

/** zigbee2mqtt (Aqara WSDCGQ11LM, its documented exposes) and Tasmota (tele/…/SENSOR of a plug with energy monitoring). */
function zigbeeSensor(i: number): string {
  return JSON.stringify({
    battery: 97,
    humidity: 45.5 + i,
    linkquality: 120,
    pressure: 1012.4,
    temperature: 21.3 + i / 10,
    voltage: 2995,
  });
}
function tasmotaPlug(i: number): string {
  return JSON.stringify({
    Time: new Date().toISOString().slice(0, 19),
    ENERGY: {
      TotalStartTime: '2024-01-05T10:12:14',
      Total: 12.345,
      Yesterday: 0.211,
      Today: 0.105,
      Power: 40 + i,
      ApparentPower: 52,
      ReactivePower: 33,
      Factor: 0.77,
      Voltage: 231,
      Current: 0.226,
    },
  });
}
/** A sensor that stamps its own readings (`ts`): six hours of history, one every 10 minutes, for the chart. */
function history(now: number): [string, string][] {
  return Array.from({ length: 36 }, (_, k) => {
    const ts = now - (36 - k) * 600_000;
    const temp = 18 + 4 * Math.sin(k / 6);
    return [
      'sensors/greenhouse',
      JSON.stringify({ ts, temperature: Number(temp.toFixed(2)), humidity: 60 + (k % 7) }),
    ];
  });
}

async function publish(url: string, messages: [string, string][]): Promise<void> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    for (const [topic, payload] of messages) await client.publishAsync(topic, payload, { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

async function openPage(base: string, viewport = { width: 1200, height: 900 }) {
  const context = await browser.newContext({ viewport });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  const requests: string[] = [];
  const sizes: Promise<number>[] = [];
  page.on('request', (r) => requests.push(r.url()));
  // Bytes on the wire as Chromium counts them: headers and (possibly compressed) bodies.
  page.on('requestfinished', (r) => {
    sizes.push(r.sizes().then((s) => s.responseHeadersSize + s.responseBodySize));
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/`);
  const transferred = async () => (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
  return { page, requests, errors, transferred };
}

function deviceRow(page: Page, device: string) {
  return page.locator(`#devices tbody tr[data-device="${device}"]`);
}

describe('status page in Chromium', () => {
  it('shows the pipeline, its disk budget, the devices with their latest values and sparklines, a chart per series, and a dead letter after a bad message', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(config, ['db:', '  maxBytes: 64MiB', '  minFreeBytes: 5%'].join('\n'));
    const daemon = await startDaemon([
      ...['--config', config, '--listen', '127.0.0.1:0'],
      ...['--http', '127.0.0.1:0', '--db', join(tmp.dir, 'm.db')],
    ]);
    cleanups.push(() => daemon.kill9());
    const url = `mqtt://127.0.0.1:${daemon.broker?.port}`;
    const base = `http://127.0.0.1:${daemon.http?.port}`;
    const now = Date.now();
    await publish(url, [
      ...[0, 1, 2].map((i): [string, string] => ['zigbee2mqtt/living_room_sensor', zigbeeSensor(i)]),
      ...[0, 1, 2].map((i): [string, string] => ['tele/kitchen_plug/SENSOR', tasmotaPlug(i)]),
      ...history(now),
    ]);

    const { page, requests, errors, transferred } = await openPage(base);
    await deviceRow(page, 'living_room_sensor').waitFor();
    // The first view: the page, its assets, one refresh and the charts of the first device listed.
    await page.locator('#charts canvas').first().waitFor();
    // Everything came from the daemon itself (works offline), and the first view is small.
    expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);
    const weight = await transferred();
    console.log(`status page first view: ${weight} bytes over ${requests.length} requests`);
    expect(weight).toBeLessThan(FIRST_VIEW_MAX_BYTES);
    await expect.poll(() => page.locator('#ready').textContent()).toBe('ready');
    await expect.poll(() => page.locator('#c-conn').textContent()).toBe('connected');
    expect(await page.locator('#offline').isHidden()).toBe(true);
    // Latest values, as the devices sent them last.
    await expect
      .poll(() => deviceRow(page, 'living_room_sensor').textContent())
      .toContain('temperature 21.5');
    await expect.poll(() => deviceRow(page, 'kitchen_plug').textContent()).toContain('ENERGY.Power 42');
    expect(await deviceRow(page, 'greenhouse').textContent()).toContain('humidity');
    // The retention budget as configured and as retention measured it (its first pass runs at start).
    await expect
      .poll(() => page.locator('#c-db-budget').textContent())
      .toMatch(/used of budget [\d.,]+ MiB \(max 64 MiB, keep 5% free\)$/);
    // A sparkline per series from the 5 min rollups: six hours of history, one reading every
    // 10 min, make one line of ~36 points; a device with three readings just now, a dot (or a
    // short line, should they straddle a bucket's edge).
    const spark = deviceRow(page, 'greenhouse').locator(
      '.chip[data-metric="temperature"] svg.spark polyline',
    );
    await spark.waitFor();
    const points = ((await spark.getAttribute('points')) ?? '').trim().split(/\s+/);
    expect(points.length).toBeGreaterThanOrEqual(30);
    const ys = new Set(points.map((p) => p.split(',')[1]));
    expect(ys.size).toBeGreaterThan(5); // the sine it was sent, not a flat line
    await deviceRow(page, 'living_room_sensor')
      .locator('.chip[data-metric="temperature"] svg.spark')
      .locator('circle, polyline')
      .first()
      .waitFor();

    // Select the device with history: one chart per series, drawn by uPlot on a real canvas.
    await deviceRow(page, 'greenhouse').click();
    await expect.poll(() => page.locator('#detail-name').textContent()).toBe('greenhouse');
    // The previous device's charts stay until the new ones are drawn (it has a temperature too):
    // wait for the selected device's set. A string: the test is type-checked without the DOM
    // library; this runs in the page.
    await expect
      .poll(() => page.evaluate(`[...(window.mqliteCharts?.keys() ?? [])].sort().join(',')`))
      .toBe('humidity,temperature');
    await page.locator('#charts .chart[data-series="temperature"] canvas').waitFor();
    const chart = (await page.evaluate(`(() => {
      const charts = window.mqliteCharts;
      const canvas = document.querySelector('#charts .chart[data-series="temperature"] canvas');
      return { series: [...charts.keys()].sort(), points: charts.get('temperature')?.data[0]?.length ?? 0,
               width: canvas?.width ?? 0, height: canvas?.height ?? 0 };
    })()`)) as { series: string[]; points: number; width: number; height: number };
    expect(chart.series).toEqual(['humidity', 'temperature']);
    expect(chart.points).toBeGreaterThan(10);
    expect(chart.width).toBeGreaterThan(0);
    expect(chart.height).toBeGreaterThan(0);

    // A bad message: its dead letter and reason appear on the next refresh.
    await publish(url, [['zigbee2mqtt/hallway_motion', '{"occupancy": true, "battery": 8']]);
    const dead = page.locator('#dead tbody tr', { hasText: 'zigbee2mqtt/hallway_motion' });
    await dead.waitFor({ timeout: 20_000 });
    expect(await dead.textContent()).toContain('invalid_json');
    await expect.poll(() => page.locator('#c-dead').textContent()).toBe('1');
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });

    // Readable on a phone: no horizontal scrolling at 390 px.
    const phone = await openPage(base, { width: 390, height: 844 });
    await deviceRow(phone.page, 'living_room_sensor').waitFor();
    const overflow = (await phone.page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.page.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
    expect([...errors, ...phone.errors]).toEqual([]);
  }, 90_000);

  it('keeps working while the broker it subscribes to is restarted', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const mosquitto = await startMosquitto({ persistence: true });
    cleanups.push(() => mosquitto.stop());
    const daemon = await startDaemon([
      ...['--broker', mosquitto.url, '--db', join(tmp.dir, 'm.db'), '--http', '127.0.0.1:0'],
      ...['--qos', '1', '--client-id', 'mqlite-status-page-test', '--topic', 'zigbee2mqtt/#'],
    ]);
    cleanups.push(() => daemon.kill9());
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed');
    const base = `http://127.0.0.1:${daemon.http?.port}`;
    await publish(mosquitto.url, [['zigbee2mqtt/bedroom_sensor', zigbeeSensor(0)]]);

    const { page, errors } = await openPage(base);
    await expect.poll(() => deviceRow(page, 'bedroom_sensor').textContent()).toContain('temperature 21.3');
    expect(await page.locator('#intake').textContent()).toContain('subscriber');

    await mosquitto.restart();
    await waitFor(async () => (await daemon.readyz()).status === 200, 'daemon subscribed again', 60_000);
    await publish(mosquitto.url, [['zigbee2mqtt/bedroom_sensor', zigbeeSensor(4)]]);
    // The same page, never reloaded, shows the value sent after the restart, and the pipeline ready.
    await expect
      .poll(() => deviceRow(page, 'bedroom_sensor').textContent(), { timeout: 30_000 })
      .toContain('temperature 21.7');
    await expect.poll(() => page.locator('#ready').textContent(), { timeout: 15_000 }).toBe('ready');
    expect(await page.locator('#offline').isHidden()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-after-restart.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  it('asks for the query API credentials on a non-loopback listener, in the browser too', async () => {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const config = join(tmp.dir, 'mqlite.yaml');
    writeFileSync(
      config,
      ['http:', '  users:', `    - { username: operator, passwordHash: "${hashPassword('s3cret')}" }`].join(
        '\n',
      ),
    );
    const daemon = await startDaemon([
      ...['--config', config, '--db', join(tmp.dir, 'm.db')],
      ...['--listen', '127.0.0.1:0', '--http', '0.0.0.0:0'],
    ]);
    cleanups.push(() => daemon.kill9());
    await publish(`mqtt://127.0.0.1:${daemon.broker?.port}`, [['zigbee2mqtt/porch_sensor', zigbeeSensor(0)]]);
    const base = `http://127.0.0.1:${daemon.http?.port}`;
    for (const path of [
      '/',
      '/api/v1/mqlite/status',
      '/api/v1/mqlite/devices',
      '/api/v1/mqlite/dead_letters',
    ])
      expect((await fetch(base + path)).status, path).toBe(401);

    const context = await browser.newContext({
      httpCredentials: { username: 'operator', password: 's3cret' },
    });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await expect.poll(() => deviceRow(page, 'porch_sensor').textContent()).toContain('temperature 21.3');
  }, 90_000);
});
