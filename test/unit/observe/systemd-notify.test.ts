import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SystemdNotifier, watchdogInterval } from '../../../src/observe/systemd-notify.js';

function setup(env: Record<string, string>, exec = vi.fn(async (_args: readonly string[]) => {})) {
  const logger = { warn: vi.fn(), debug: vi.fn() };
  const n = new SystemdNotifier({ logger, env, exec, pid: 42 });
  return { n, exec, logger };
}

describe('watchdogInterval', () => {
  it('is half of WATCHDOG_USEC in ms, only for this process', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42)).toBeUndefined();
    expect(watchdogInterval({}, 42)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: '0' }, 42)).toBeUndefined();
  });
});

describe('SystemdNotifier', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('does nothing without NOTIFY_SOCKET', async () => {
    const { n, exec } = setup({ WATCHDOG_USEC: '1000000' });
    expect(n.enabled).toBe(false);
    n.ready();
    n.stopping();
    await n.stop();
    expect(exec).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends READY=1 with a status, STOPPING=1 at shutdown', async () => {
    const { n, exec } = setup({ NOTIFY_SOCKET: '/run/systemd/notify' });
    n.ready();
    n.stopping();
    await n.stop();
    expect(exec.mock.calls.map((c) => c[0])).toEqual([
      ['--ready', '--status=running'],
      ['STOPPING=1', '--status=stopping: draining the queue'],
    ]);
  });

  it('pings the watchdog every WATCHDOG_USEC/2 from ready() until stopping()', async () => {
    const { n, exec } = setup({ NOTIFY_SOCKET: '@notify', WATCHDOG_USEC: '10000000' });
    n.ready();
    await vi.advanceTimersByTimeAsync(5000 * 3);
    const pings = () => exec.mock.calls.filter((c) => c[0][0] === 'WATCHDOG=1').length;
    expect(pings()).toBe(3);
    n.stopping();
    await vi.advanceTimersByTimeAsync(5000 * 3);
    expect(pings()).toBe(3);
    await n.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops feeding the watchdog once the pipeline is dead, so systemd restarts the unit', async () => {
    let alive = true;
    const exec = vi.fn(async (_args: readonly string[]) => {});
    const n = new SystemdNotifier({
      logger: { warn: vi.fn(), debug: vi.fn() },
      env: { NOTIFY_SOCKET: '@notify', WATCHDOG_USEC: '10000000' },
      exec,
      alive: () => alive,
    });
    const pings = () => exec.mock.calls.filter((c) => c[0][0] === 'WATCHDOG=1').length;
    n.ready();
    await vi.advanceTimersByTimeAsync(5000 * 2);
    expect(pings()).toBe(2);
    alive = false;
    await vi.advanceTimersByTimeAsync(5000 * 4);
    expect(pings()).toBe(2);
    await n.stop();
  });

  it('skips a ping while the previous one still runs', async () => {
    let release: () => void = () => {};
    const exec = vi.fn((args: readonly string[]) =>
      args[0] === 'WATCHDOG=1' ? new Promise<void>((r) => (release = r)) : Promise.resolve(),
    );
    const { n } = setup({ NOTIFY_SOCKET: '@notify', WATCHDOG_USEC: '2000000' }, exec);
    n.ready();
    await vi.advanceTimersByTimeAsync(1000 * 5);
    expect(exec.mock.calls.filter((c) => c[0][0] === 'WATCHDOG=1')).toHaveLength(1);
    release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(exec.mock.calls.filter((c) => c[0][0] === 'WATCHDOG=1')).toHaveLength(2);
    release();
    n.stopping();
    await n.stop();
  });

  it('warns once on failure, never throws, and logs later failures at debug', async () => {
    const exec = vi.fn(async () => {
      throw new Error('spawn systemd-notify ENOENT');
    });
    const { n, logger } = setup({ NOTIFY_SOCKET: '@notify' }, exec);
    n.ready();
    n.stopping();
    await n.stop();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]?.[1]).toContain('NotifyAccess=all');
    expect(logger.debug).toHaveBeenCalledTimes(1);
  });

  it('sends nothing after stop()', async () => {
    const { n, exec } = setup({ NOTIFY_SOCKET: '@notify', WATCHDOG_USEC: '1000000' });
    await n.stop();
    n.ready();
    n.stopping();
    expect(exec).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
