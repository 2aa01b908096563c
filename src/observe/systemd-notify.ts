/**
 * sd_notify(3) for Type=notify units: READY=1, STOPPING=1 and the watchdog ping.
 *
 * Node has no AF_UNIX datagram sockets, so the messages go through the `systemd-notify`
 * binary. Its messages come from a child PID, which systemd accepts only with
 * `NotifyAccess=all` in the unit (deploy/systemd/mqlite.service). Since systemd 246 the
 * binary waits for systemd to have read the message (a BARRIER=1 round trip), which closes
 * the race where a child exits before systemd can tell which unit it belongs to; that wait
 * is why every call has a timeout. Without NOTIFY_SOCKET every method is a no-op.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** Runs `systemd-notify` with these arguments; rejects on failure or timeout. */
export type NotifyExec = (args: readonly string[]) => Promise<void>;

export interface SystemdNotifierDeps {
  readonly logger: Pick<Logger, 'warn' | 'debug'>;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly exec?: NotifyExec;
  /** Default: process.pid, compared with WATCHDOG_PID. */
  readonly pid?: number;
  /**
   * Whether the pipeline still works. The watchdog is fed only while it does: a timer alone
   * would keep a process alive whose writer has died. Default: always.
   */
  readonly alive?: () => boolean;
}

/** systemd answers in milliseconds; a hung call must not pile up behind the watchdog. */
export const NOTIFY_TIMEOUT_MS = 5_000;

export class SystemdNotifier {
  /** True when started by systemd with a notify socket. */
  readonly enabled: boolean;
  private readonly exec: NotifyExec;
  private readonly watchdogMs: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pingInFlight = false;
  private readonly pending = new Set<Promise<void>>();
  private warned = false;
  private stopped = false;

  constructor(private readonly deps: SystemdNotifierDeps) {
    const env = deps.env ?? process.env;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    this.exec = deps.exec ?? ((args) => execSystemdNotify(args, env));
    this.watchdogMs = this.enabled ? watchdogInterval(env, deps.pid ?? process.pid) : undefined;
  }

  /** READY=1, then the watchdog pings (if WatchdogSec= is set) until stopping(). */
  ready(status = 'running'): void {
    if (!this.enabled || this.stopped) return;
    this.send(['--ready', `--status=${status}`]);
    if (this.watchdogMs !== undefined && !this.watchdog) {
      this.watchdog = setInterval(() => this.ping(), this.watchdogMs);
      this.watchdog.unref();
    }
  }

  /** STATUS= while starting (a long schema migration), shown by `systemctl status`. */
  status(text: string): void {
    if (!this.enabled || this.stopped) return;
    this.send([`--status=${text}`]);
  }

  /**
   * STOPPING=1. systemd leaves the running state on it and stops enforcing the watchdog
   * (TimeoutStopSec= applies instead), so the pings end here.
   */
  stopping(): void {
    if (!this.enabled || this.stopped) return;
    this.clearWatchdog();
    this.send(['STOPPING=1', '--status=stopping: draining the queue']);
  }

  /** Idempotent: no more messages; waits for those in flight (each bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearWatchdog();
    await Promise.allSettled([...this.pending]);
  }

  private ping(): void {
    // Skip rather than queue: a late ping is worthless, and a hung binary must not multiply.
    if (this.pingInFlight) return;
    // Starved on purpose: systemd then kills and restarts the unit (WatchdogSec=).
    if (this.deps.alive?.() === false) return;
    this.pingInFlight = true;
    this.send(['WATCHDOG=1'], () => {
      this.pingInFlight = false;
    });
  }

  private send(args: readonly string[], done?: () => void): void {
    const p = this.exec(args).then(
      () => undefined,
      (err: unknown) => this.fail(args, err),
    );
    const tracked = p.finally(() => {
      this.pending.delete(tracked);
      done?.();
    });
    this.pending.add(tracked);
  }

  /** Never fatal: the service runs without systemd's view of it. Logged once, then at debug. */
  private fail(args: readonly string[], err: unknown): void {
    if (this.warned) {
      this.deps.logger.debug({ err, args }, 'systemd-notify failed');
      return;
    }
    this.warned = true;
    this.deps.logger.warn(
      { err, args },
      'systemd-notify failed (is NotifyAccess=all set in the unit?); further failures logged at debug',
    );
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }
}

/**
 * Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends, or undefined when the
 * watchdog is off or meant for another process (WATCHDOG_PID).
 */
export function watchdogInterval(
  env: Readonly<Record<string, string | undefined>>,
  pid: number,
): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** The child gets `env` so NOTIFY_SOCKET is the one this notifier was built with. */
function execSystemdNotify(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'systemd-notify',
      [...args],
      { env: { ...env }, timeout: NOTIFY_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}
