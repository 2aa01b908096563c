/**
 * One info line every interval, so an operator without Prometheus still sees the daemon
 * breathing: rates in and out, what is waiting, and what went wrong since the last line.
 */
import type { Logger } from 'pino';

/** Counters are cumulative since start; the summary turns them into per-interval figures. */
export interface SummarySnapshot {
  /** Messages received from the broker. */
  readonly received: number;
  /** Messages that left the pipeline committed (readings, duplicates skipped, dead letters). */
  readonly committed: number;
  readonly queueMessages: number;
  readonly queueBytes: number;
  readonly heldAcks: number;
  readonly deadLetters: number;
  /** Redeliveries recognised and not stored again. */
  readonly duplicates: number;
  readonly dropped: number;
  readonly commitErrors: number;
}

export interface SummarySettings {
  /** 0 disables the summary. */
  readonly intervalMs: number;
}

export interface SummaryDeps {
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  readonly snapshot: () => SummarySnapshot;
  /** Monotonic milliseconds; rates divide by the time that really passed. */
  readonly now?: () => number;
}

export class Summary {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; snap: SummarySnapshot } | undefined;
  private failed = false;
  private readonly now: () => number;

  constructor(
    private readonly settings: SummarySettings,
    private readonly deps: SummaryDeps,
  ) {
    this.now = deps.now ?? (() => performance.now());
  }

  async start(): Promise<void> {
    if (this.timer || this.settings.intervalMs <= 0) return;
    this.last = this.take();
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
    // A summary is never a reason to keep the process alive.
    this.timer.unref();
  }

  /** Idempotent. Writes a last line covering the time since the previous one. */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.tick();
  }

  /** One summary line now (also what the timer calls). */
  tick(): void {
    const next = this.take();
    if (!next) return;
    const prev = this.last;
    this.last = next;
    if (!prev) return;
    const line = summarize(prev.snap, next.snap, (next.at - prev.at) / 1000);
    this.deps.logger.info(line.fields, line.message);
  }

  private take(): { at: number; snap: SummarySnapshot } | undefined {
    try {
      return { at: this.now(), snap: this.deps.snapshot() };
    } catch (err) {
      // Logged once: a broken snapshot would otherwise repeat the same warning every interval.
      if (!this.failed)
        this.deps.logger.warn({ err }, 'summary snapshot failed; further failures not logged');
      this.failed = true;
      return undefined;
    }
  }
}

export interface SummaryLine {
  readonly message: string;
  readonly fields: Record<string, number>;
}

/** Pure: the line for the interval between two snapshots `seconds` apart. */
export function summarize(prev: SummarySnapshot, next: SummarySnapshot, seconds: number): SummaryLine {
  const rate = (a: number, b: number) => (seconds > 0 ? (b - a) / seconds : 0);
  const inPerSec = round1(rate(prev.received, next.received));
  const outPerSec = round1(rate(prev.committed, next.committed));
  const deadLetters = next.deadLetters - prev.deadLetters;
  const duplicates = next.duplicates - prev.duplicates;
  const dropped = next.dropped - prev.dropped;
  const commitErrors = next.commitErrors - prev.commitErrors;
  const message =
    `summary: in ${inPerSec}/s, out ${outPerSec}/s, queue ${next.queueMessages} msgs (${formatBytes(next.queueBytes)}), ` +
    `held acks ${next.heldAcks}, dead letters +${deadLetters}, duplicates +${duplicates}, drops +${dropped}, commit errors +${commitErrors}`;
  return {
    message,
    fields: {
      intervalSeconds: round1(seconds),
      inPerSec,
      outPerSec,
      queueMessages: next.queueMessages,
      queueBytes: next.queueBytes,
      heldAcks: next.heldAcks,
      deadLetters,
      duplicates,
      dropped,
      commitErrors,
      receivedTotal: next.received,
      committedTotal: next.committed,
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
