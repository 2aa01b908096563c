/**
 * SystemdNotifier against a real notify socket: a small Python listener plays systemd
 * (Node cannot bind AF_UNIX datagram sockets) and the real systemd-notify binary sends.
 * The listener closes the fd systemd-notify passes with BARRIER=1, as systemd does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SystemdNotifier } from '../../src/observe/systemd-notify.js';

const LISTENER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    for line in msg.decode().split("\\n"):
        print(line, flush=True)
`;

function requireBinary(name: string): void {
  const dirs = (process.env.PATH ?? '').split(':');
  if (!dirs.some((d) => existsSync(join(d, name)))) {
    throw new Error(`${name} not found on PATH: this test needs it (Debian: systemd and python3 packages)`);
  }
}

let listener: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  listener?.kill('SIGKILL');
  listener = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Starts the fake systemd; resolves with the lines received so far (a live array). */
async function fakeSystemd(socketPath: string): Promise<string[]> {
  const lines: string[] = [];
  const child = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  listener = child;
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`notify listener exited with ${code}`)));
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const p of parts) {
        if (p === 'listening') resolve();
        else lines.push(p);
      }
    });
  });
  return lines;
}

describe('SystemdNotifier with the real systemd-notify', () => {
  it('sends READY=1 and STATUS, pings the watchdog, then STOPPING=1', async () => {
    requireBinary('systemd-notify');
    requireBinary('python3');
    dir = mkdtempSync(join(tmpdir(), 'mqlite-notify-'));
    const socketPath = join(dir, 'notify.sock');
    const received = await fakeSystemd(socketPath);
    const logger = { warn: vi.fn(), debug: vi.fn() };
    const n = new SystemdNotifier({
      logger,
      // 200 ms watchdog: a ping every 100 ms.
      env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '200000' },
    });
    expect(n.enabled).toBe(true);
    n.ready('running: test');
    await vi.waitFor(() => expect(received).toContain('WATCHDOG=1'), { timeout: 30_000, interval: 50 });
    n.stopping();
    await n.stop();
    await vi.waitFor(() => expect(received).toContain('STOPPING=1'), { timeout: 30_000, interval: 50 });
    expect(received).toContain('READY=1');
    expect(received).toContain('STATUS=running: test');
    expect(received).toContain('STATUS=stopping: draining the queue');
    expect(received.indexOf('READY=1')).toBeLessThan(received.indexOf('WATCHDOG=1'));
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('warns once and carries on when nothing listens on the socket', async () => {
    requireBinary('systemd-notify');
    dir = mkdtempSync(join(tmpdir(), 'mqlite-notify-'));
    const logger = { warn: vi.fn(), debug: vi.fn() };
    const n = new SystemdNotifier({
      logger,
      env: { ...process.env, NOTIFY_SOCKET: join(dir, 'absent.sock') },
    });
    n.ready();
    n.stopping();
    await n.stop();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.debug).toHaveBeenCalledTimes(1);
  });
});
