/**
 * Overload through the real CLI and the embedded broker: publishers send as fast as the
 * connection takes while the writer is made slow (small batches, synchronous FULL, so an fsync
 * per few messages). The queue is 4 MiB. Checked: peak resident memory stays under the bound
 * documented in config/mqlite.example.yaml (queue section) and the README (Operations); every
 * QoS 0 message is either stored or counted as dropped under its policy's reason; `block` and
 * QoS 1 lose nothing.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configArgs, count, peakRssBytes, sleep } from '../helpers/daemon-fixture.js';
import { type DaemonProcess, metricValue, startEmbeddedDaemon } from '../helpers/daemon-process.js';
import { startFlood } from '../helpers/flood.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;
const MAX_BYTES = 4 * MiB;
/** The documented bound (config/mqlite.example.yaml, queue): 320 MiB + 2 × queue.maxBytes. */
const RSS_BOUND = 320 * MiB + 2 * MAX_BYTES;

type Policy = 'block' | 'drop-oldest' | 'drop-newest';

describe('overload: publishers far faster than the writer', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function daemonWith(overflow: Policy): Promise<{ daemon: DaemonProcess; db: string; url: string }> {
    const tmp = tmpDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, 'mqlite.db');
    const config = configArgs(tmp.dir, {
      queue: { maxBytes: MAX_BYTES, maxMessages: 20_000, overflow },
      batch: { maxBatch: 20 },
      db: { synchronous: 'FULL' },
      embedded: { allowAnonymous: true },
    });
    const daemon = await startEmbeddedDaemon(db, config);
    cleanups.push(() => daemon.stop());
    return { daemon, db, url: `mqtt://127.0.0.1:${daemon.broker!.port}` };
  }

  /** Floods for `ms`, sampling the queue gauge; returns the completed publishes and the fullest queue seen. */
  async function overload(daemon: DaemonProcess, url: string, qos: 0 | 1, ms: number) {
    const flood = await startFlood({ url, clients: 4, qos, payloadBytes: 1000 });
    cleanups.push(() => flood.stop());
    let fullest = 0;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sleep(250);
      fullest = Math.max(fullest, metricValue(await daemon.metrics(), 'mqlite_queue_bytes'));
    }
    await flood.stop();
    return { published: flood.completed, fullest };
  }

  it.each([
    ['drop-newest', 'queue_full_newest'],
    ['drop-oldest', 'queue_full_oldest'],
  ] as const)(
    'QoS 0 with overflow %s: bounded memory, stored + dropped = published, drops counted as %s',
    async (policy, reason) => {
      const { daemon, db, url } = await daemonWith(policy);
      const { published } = await overload(daemon, url, 0, 5000);

      // Every message the publishers wrote reaches the broker (one TCP connection each, kept open
      // until now): once the queue drained, each was either committed or dropped, never both.
      const settled = async () => {
        const m = await daemon.metrics();
        return (
          metricValue(m, 'mqlite_messages_written_total') + metricValue(m, 'mqlite_dropped_total') >=
          published
        );
      };
      await waitFor(settled, 'every published message stored or dropped', 60_000, 200);
      const m = await daemon.metrics();
      const dropped = metricValue(m, 'mqlite_dropped_total', { reason });
      expect(metricValue(m, 'mqlite_dropped_total')).toBe(dropped); // no other reason
      const peak = peakRssBytes(daemon.proc.pid!);
      expect(await daemon.stop()).toBe(0);

      const stored = count(db, 'SELECT count(*) FROM messages');
      expect(stored + dropped).toBe(published);
      // The test really overloaded the writer: at least 3× what it stored was offered.
      expect(dropped).toBeGreaterThanOrEqual(2 * stored);
      expect(peak).toBeLessThan(RSS_BOUND);
    },
  );

  it('QoS 0 with overflow block (default), sustained: the queue fills, nothing is dropped, all is stored', async () => {
    const { daemon, db, url } = await daemonWith('block');
    const { published, fullest } = await overload(daemon, url, 0, 10_000);
    // The writer was the bottleneck: the queue reached its byte bound (and held there).
    expect(fullest).toBeGreaterThanOrEqual(MAX_BYTES);
    await waitFor(
      async () => metricValue(await daemon.metrics(), 'mqlite_messages_written_total') >= published,
      'the backlog committed',
      60_000,
      200,
    );
    expect(metricValue(await daemon.metrics(), 'mqlite_dropped_total')).toBe(0);
    const peak = peakRssBytes(daemon.proc.pid!);
    expect(await daemon.stop()).toBe(0);
    expect(count(db, 'SELECT count(*) FROM messages')).toBe(published);
    expect(peak).toBeLessThan(RSS_BOUND);
  });

  it('QoS 1: the acks wait for the commits, so nothing is lost and nothing dropped', async () => {
    const { daemon, db, url } = await daemonWith('drop-newest'); // the policy applies to QoS 0 only
    const { published } = await overload(daemon, url, 1, 5000);
    // flood.stop() waited for every PUBACK: each acknowledged message must already be committed.
    expect(count(db, 'SELECT count(*) FROM messages')).toBe(published);
    expect(metricValue(await daemon.metrics(), 'mqlite_dropped_total')).toBe(0);
    const peak = peakRssBytes(daemon.proc.pid!);
    expect(await daemon.stop()).toBe(0);
    expect(count(db, 'SELECT count(*) FROM messages')).toBe(published);
    expect(peak).toBeLessThan(RSS_BOUND);
  });
});
